"""Stage 5, risk mapping: from the (forecast) sensitivity space to long-only weights (SPEC §5)."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs

from .._lazy import np, pd
from ..constraints import DateConstraints
from .base import Component
from .forecasting import DistanceForecast
from .sensitivities import Sensitivities


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class MappingInputs:
    """Everything a risk mapping may use at one rebalance date.

    Attributes
    ----------
    date
        The rebalance date tau; every series below ends strictly before it.
    assets
        Asset names, length N (order of weights).
    returns
        Trailing asset returns for covariance estimation, (T_cov, N).
    driver_returns
        Trailing returns of the selected drivers on the same dates, (T_cov, k), or ``None``.
    distance
        The (forecast) sensitivity distance matrix (N, N), or ``None`` for a benchmark run.
    sensitivities
        Stage 3 output, or ``None`` for a benchmark run.
    forecast
        Stage 4 output, or ``None`` for a benchmark run.
    bounds
        (min, max) weight per asset when every asset has the same bounds; with per-asset
        bounds, the envelope (smallest minimum, largest maximum). Kept for mappings written
        before ``constraints``: the pipeline projects weights that leave the constraints.
    constraints
        The full constraints at this date (:class:`~causalfolio.constraints.DateConstraints`:
        per-asset ``lo`` / ``hi`` arrays (N,) in the order of ``assets``, linear rows
        ``a_ub @ w <= b_ub``, ``a_eq @ w = b_eq``). Default: ``bounds`` for every asset. When
        given, ``bounds`` is derived from it. Feasible when built by the pipeline.
    seed
        Seed for any randomness.
    """

    date: pd.Timestamp
    assets: tuple[str, ...] = attrs.field(converter=tuple)
    returns: pd.DataFrame
    driver_returns: pd.DataFrame | None = None
    distance: np.ndarray | None = None
    sensitivities: Sensitivities | None = None
    forecast: DistanceForecast | None = None
    bounds: tuple[float, float] = (0.0, 1.0)
    # given as ``constraints=``; None when derived from ``bounds`` (so that attrs.evolve with
    # other assets or bounds derives them again)
    _constraints: DateConstraints | None = attrs.field(default=None, repr=False)
    seed: int = 0
    _derived: DateConstraints | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        given = self._constraints
        if given is None:
            lo, hi = self.bounds
            object.__setattr__(self, "_derived",
                               DateConstraints.uniform(self.assets, float(lo), float(hi)))
        else:
            if tuple(given.assets) != self.assets:
                raise ValueError("MappingInputs: constraints are for other assets "
                                 f"({list(given.assets)[:5]}) than {list(self.assets)[:5]}")
            object.__setattr__(self, "bounds", given.bounds)

    @property
    def constraints(self) -> DateConstraints:
        """The constraints at this date (see the class docstring)."""
        given = self._constraints
        return given if given is not None else self._derived  # type: ignore[return-value]

    def covariance(self) -> np.ndarray:
        """Sample covariance of ``returns`` (N, N), daily units."""
        return np.atleast_2d(np.cov(self.returns.to_numpy(dtype=float), rowvar=False))


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class Allocation:
    """Weights chosen by a risk mapping.

    Attributes
    ----------
    weights
        Long-only weights summing to 1, indexed by asset.
    diagnostics
        Method-specific facts for reports (ordering, cluster variances...), JSON-serialisable.
    key
        Deterministic key (set by the pipeline).
    """

    weights: pd.Series
    diagnostics: dict[str, Any] = attrs.field(factory=dict)
    key: str = ""


@attrs.define(frozen=True, kw_only=True)
class RiskMapping(Component):
    """Base class of risk mappings (stage ``mapping``).

    ``needs_sensitivities`` says whether the mapping uses stages 1-4. Mappings that do not
    (``equal``, ``hrp``) can be used alone as a one-part spec, e.g. a benchmark ``hrp``. A
    mapping may declare ``window`` (int | None) to override the configured covariance window.
    """

    stage: ClassVar[str] = "mapping"
    needs_sensitivities: ClassVar[bool] = True
    group_constraints: ClassVar[bool] = True
    """Whether the mapping meets group / linear constraints (``inputs.constraints``); a backtest
    refuses them up front for a mapping that says False (the hierarchical ones)."""

    @abc.abstractmethod
    def allocate(self, inputs: MappingInputs) -> Allocation:
        """Compute weights. They must be long-only and sum to 1; the pipeline checks the
        constraints (``inputs.constraints``) and, if a mapping leaves them, projects onto them
        and records that in the diagnostics."""
