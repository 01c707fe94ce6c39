"""Stage 4, sensitivity forecasting: how the sensitivity space moves over the horizon (SPEC §4)."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs

from .._lazy import np
from .base import Component, frozen_array, frozen_optional_array
from .sensitivities import Sensitivities


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class DistanceForecast:
    """The distance matrix handed to risk mapping, static or path-wide.

    Attributes
    ----------
    distance
        (N, N) symmetric, zero diagonal, finite: what the mapping clusters on.
    assets
        Asset names, length N.
    horizon
        Horizon in trading days (0 for a static snapshot).
    paths
        Forecast sensitivity paths kept for reports, shape (n_paths, H, N, P), or ``None``.
    info
        Calibration facts and any fallback taken, JSON-serialisable.
    key
        Deterministic key (set by the pipeline).
    """

    distance: np.ndarray = attrs.field(converter=frozen_array)
    assets: tuple[str, ...] = attrs.field(converter=tuple)
    horizon: int = 0
    paths: np.ndarray | None = attrs.field(default=None, converter=frozen_optional_array)
    info: dict[str, Any] = attrs.field(factory=dict)
    key: str = ""


@attrs.define(frozen=True, kw_only=True)
class SensitivityForecaster(Component):
    """Base class of sensitivity forecasters (stage ``forecasting``)."""

    stage: ClassVar[str] = "forecasting"

    @abc.abstractmethod
    def forecast(self, sens: Sensitivities, *, horizon: int, seed: int) -> DistanceForecast:
        """Forecast the distance matrix.

        Parameters
        ----------
        sens
            Output of stage 3 (per-sample series S[t, i, j] and aggregate).
        horizon
            Holding period until the next rebalance, trading days; a component may override it
            with its own ``horizon`` parameter.
        seed
            Seed for Monte Carlo simulation.
        """
