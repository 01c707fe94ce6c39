"""Stage 1, driver selection: choose the common causal drivers among the candidates (SPEC §1)."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import pandas as pd

from .base import Component


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class DriverSelection:
    """The output of a driver selector.

    Attributes
    ----------
    names
        Selected candidate names, best first (length k).
    scores
        Evidence per candidate (index: candidate names, columns: method-specific scores such as
        ``repeatedness`` and ``strength``), or ``None``.
    specific_to
        For each selected driver, the constituents it is specific to.
    objective
        The method's objective value for the selected set (e.g. G(S)), or ``None``.
    info
        Other method-specific facts (thresholds used, fallbacks taken), JSON-serialisable.
    key
        Deterministic key: selector spec + identity of its input data (set by the pipeline).
    """

    names: tuple[str, ...] = attrs.field(converter=tuple)
    scores: pd.DataFrame | None = None
    specific_to: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    objective: float | None = None
    info: Mapping[str, Any] = attrs.field(factory=dict)
    key: str = ""


@attrs.define(frozen=True, kw_only=True)
class DriverSelector(Component):
    """Base class of driver selectors (stage ``drivers``).

    A selector may declare a ``window`` field (int | None, trading days); the backtester then uses
    it instead of the configured driver-selection window.
    """

    stage: ClassVar[str] = "drivers"

    @abc.abstractmethod
    def select(
        self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
    ) -> DriverSelection:
        """Select the common drivers.

        Parameters
        ----------
        assets
            Constituent returns, shape (T, N), dates ascending, no NaN, all strictly before the
            rebalance date.
        candidates
            Candidate driver returns on the same dates, shape (T, M).
        seed
            Seed for any randomness.
        """
