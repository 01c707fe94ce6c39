"""Backtest settings."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from ..checks import check_seed, parse_date
from ..constraints import BOUNDS_POLICIES, Constraints
from ..defaults import COV_WINDOW, DRIVER_WINDOW, MAX_WEIGHT, MIN_WEIGHT, TRAIN_WINDOW
from ..errors import ConfigError
from ..pipeline import Windows
from .inputs import asset_values, check_risk_free, number_or_path, read_risk_free
from .schedule import FREQUENCIES

SCHEDULES: tuple[str, ...] = (*FREQUENCIES, "drift")
"""Rebalance schedules by name: calendar frequencies, and ``drift`` (rebalance when a weight has
drifted more than ``drift_threshold`` from its target)."""

MAX_DELISTING_RETURN = 10.0
"""Largest delisting return accepted (+1,000%): a larger one is a percentage or a typo."""

START_NAV = 100.0
"""The NAV every backtest starts from (the unit of ``fixed_cost``)."""


def _deprecated(old: str, new: str, settings: dict[str, Any], clash: dict[str, Any]) -> None:
    """Warn about a deprecated spelling; refuse it next to the canonical one it stands for."""
    both = [k for k in clash if k in settings]
    if both:
        raise ConfigError(f"give either {old} or {new}, not both (got {old.split('=')[0]}= and "
                          f"{', '.join(both)}=)")
    warnings.warn(f"BacktestConfig({old}) is deprecated; write {new} (the names the command line "
                  "and ablation grids use)", FutureWarning, stacklevel=4)


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


@attrs.frozen(kw_only=True, init=False)
class BacktestConfig:
    """Walk-forward backtest settings.

    Attributes
    ----------
    start, end
        First and last dates considered for rebalancing/NAV (inclusive); default: the earliest
        date with enough history for every strategy, and the last date of the data.
    schedule
        ``monthly`` (first trading day of each month), ``quarterly``, ``weekly``, a list of
        dates, or ``drift``: rebalance first on the first date with enough history, then on the
        trading day after any weight has drifted more than ``drift_threshold`` from its target.
    drift_threshold
        Absolute weight drift that triggers a rebalance with ``schedule="drift"`` (default 0.05).
    reselect_every
        Re-run driver selection every n rebalances (1: at every rebalance; 6: semi-annually as in
        §9.2); other stages run at every rebalance.
    reselect_dates
        Re-run driver selection on explicit dates instead (e.g. the monograph's 2020-06-01,
        2021-01-01, 2021-07-01): at the first rebalance and at the first rebalance on or after
        each date; the selection is kept in between. Exclusive with ``reselect_every > 1``.
    driver_window, train_window, cov_window
        Lookback windows in trading days for driver selection (126), dynamics training (125) and
        the covariance of the risk mapping (63), used by components that do not set their own
        ``window``. The same names as the command line's ``--driver-window``... and ablation
        grids' ``driver_window``...; :attr:`windows` gives the three as a :class:`Windows`.
    min_weight, max_weight
        Weight bounds per asset, long-only (0 <= min_weight <= max_weight <= 1), applied to the
        assets investable at each rebalance (those with a full window of history and a price on
        the date): one number for every asset, or per asset, a mapping asset -> weight (assets
        not listed: 0 and 1) or a CSV file ``asset,min_weight`` / ``asset,max_weight``.
        :attr:`bounds` gives the pair.
    groups
        The group(s) of each asset, for group constraints: a mapping asset -> group or list of
        groups, or a CSV file ``asset,group`` (one row per asset and group).
    linear_constraints
        Linear inequalities on the weights of assets and groups (a group stands for the sum of
        its investable members' weights), e.g. ``["Tech <= 0.3", "Energy + Utilities >= 0.1",
        "Bonds >= 0.5 * Equity"]``: names, numbers, ``+ - *`` and one of ``<= >= =``. Enforced
        by the optimisation mappings; the hierarchical ones refuse them. :attr:`constraints`
        holds all of it as one :class:`~causalfolio.constraints.Constraints`.
    bounds_policy
        What to do when the bounds cannot hold for the number of investable assets at a date:
        ``error`` (a :class:`ConfigError` naming the date) or ``relax`` (lower the minimum to
        1/n and raise the maximum to 1/n just enough; recorded in the rebalance record).
        Linear constraints that cannot hold at a date are always an error
        (:class:`~causalfolio.constraints.InfeasibleConstraintsError`) naming the date and the
        constraint or group.
    cost_bps
        Transaction cost in basis points of traded value: one number for all assets, or per
        asset, a mapping asset -> bps or a CSV file with the columns ``asset,bps``.
    fixed_cost
        Cost per asset traded at a rebalance, in NAV units (the NAV starts at 100).
    band
        No-trade band: a trade smaller than this absolute weight is skipped (0: trade all); the
        skipped amount stays in (or is borrowed from) cash. The first rebalance trades fully.
    turnover_cap
        Largest one-way turnover per rebalance; larger trades are scaled down together (None: no
        cap). The first rebalance (investing from cash) is not capped.
    risk_free
        Return of cash: an annual rate (0.02 = 2% a year, compounded daily over 252 days) or a
        CSV file of daily cash returns (columns ``date`` and one value, a fraction per day) that
        covers the backtest. Cash comes from delistings, skipped trades and short proceeds;
        Sharpe and Sortino ratios are computed on returns in excess of it.
    delisting_returns
        Return earned by a position on the day its asset stops having prices (the day after its
        last price): a mapping asset -> return or a CSV file ``asset,return`` (optional
        ``date``). Default: 0, the position is sold at its last price. The proceeds stay in cash
        until the next rebalance.
    drift
        Let weights drift with prices between rebalances (True) or hold them constant (daily
        rebalancing to the target, False).
    seed
        Base seed; each rebalance derives its own from it and the date.
    diagnostics
        Compute the Table 1 risk diagnostics at every rebalance (kept in the results and the run
        folder). Ablations turn them off: they keep only metrics and NAV.

    The spellings ``windows=Windows(drivers=, train=, cov=)`` and ``bounds=(min, max)`` are
    deprecated aliases: still accepted, with a :class:`FutureWarning`.
    """

    start: pd.Timestamp | None = attrs.field(default=None,
                                             converter=lambda v: parse_date(v, "start"))
    end: pd.Timestamp | None = attrs.field(default=None, converter=lambda v: parse_date(v, "end"))
    schedule: str | tuple = "monthly"
    reselect_every: int = 1
    reselect_dates: tuple[pd.Timestamp, ...] | None = None
    driver_window: int = DRIVER_WINDOW
    train_window: int = TRAIN_WINDOW
    cov_window: int = COV_WINDOW
    min_weight: float | str | Mapping[str, float] = MIN_WEIGHT
    max_weight: float | str | Mapping[str, float] = MAX_WEIGHT
    groups: str | Mapping[str, Any] | None = None
    linear_constraints: tuple[str, ...] | None = None
    bounds_policy: str = "error"
    cost_bps: float | str | Mapping[str, float] = 0.0
    fixed_cost: float = 0.0
    band: float = 0.0
    turnover_cap: float | None = None
    drift_threshold: float = 0.05
    risk_free: float | str | pd.Series = attrs.field(default=0.0, eq=False)
    delisting_returns: str | Mapping[str, float] | None = None
    drift: bool = True
    seed: int = 0
    diagnostics: bool = True
    _risk_free_series: pd.Series | None = attrs.field(init=False, default=None, eq=False,
                                                       repr=False)
    _asset_costs: dict | None = attrs.field(init=False, default=None, eq=False, repr=False)
    _delistings: dict | None = attrs.field(init=False, default=None, eq=False, repr=False)
    _constraints: Constraints | None = attrs.field(init=False, default=None, eq=False,
                                                   repr=False)

    def __init__(self, *, windows: Windows | None = None,
                 bounds: tuple[float, float] | None = None, **settings: Any) -> None:
        if windows is not None:
            _deprecated("windows=Windows(drivers=, train=, cov=)",
                        "driver_window=, train_window=, cov_window=", settings,
                        {"driver_window": "drivers", "train_window": "train", "cov_window": "cov"})
            if not isinstance(windows, Windows):
                raise ConfigError(f"windows must be a Windows, got {windows!r}; better: give "
                                  "driver_window=, train_window=, cov_window=")
            settings.update(driver_window=windows.drivers, train_window=windows.train,
                            cov_window=windows.cov)
        if bounds is not None:
            _deprecated("bounds=(min, max)", "min_weight=, max_weight=", settings,
                        {"min_weight": 0, "max_weight": 1})
            try:
                lo, hi = bounds
            except (TypeError, ValueError):
                raise ConfigError(f"bounds must be a (min, max) pair, got {bounds!r}; better: "
                                  "give min_weight= and max_weight=") from None
            settings.update(min_weight=lo, max_weight=hi)
        unknown = sorted(set(settings) - {f.name for f in attrs.fields(type(self))})
        if unknown:
            raise ConfigError(f"unknown backtest setting(s) {', '.join(unknown)}; valid: "
                              f"{', '.join(f.name for f in attrs.fields(type(self)))}")
        self.__attrs_init__(**settings)  # type: ignore[attr-defined]

    @property
    def windows(self) -> Windows:
        """The three lookback windows as a :class:`Windows` (what :meth:`Pipeline.run` takes)."""
        return Windows(drivers=self.driver_window, train=self.train_window, cov=self.cov_window)

    @property
    def bounds(self) -> tuple[Any, Any]:
        """``(min_weight, max_weight)`` (numbers, or per-asset mappings / files)."""
        return (self.min_weight, self.max_weight)

    @property
    def constraints(self) -> Constraints:
        """Bounds, groups and linear constraints as one value object, built (files read) once;
        resolved at each rebalance for the investable assets."""
        return self._constraints  # type: ignore[return-value]  # set on construction

    def __attrs_post_init__(self) -> None:
        for name in ("driver_window", "train_window", "cov_window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
                raise ConfigError(f"{name} must be an integer >= 2 (trading days), got {value!r}")
            object.__setattr__(self, name, int(value))
        if isinstance(self.schedule, str):
            if self.schedule not in SCHEDULES:
                raise ConfigError(f"unknown schedule {self.schedule!r}; use one of "
                                  f"{', '.join(SCHEDULES)} or a list of dates")
        elif isinstance(self.schedule, Sequence):
            dates = tuple(parse_date(d, "schedule") for d in self.schedule)
            object.__setattr__(self, "schedule", dates)
        _positive_int("reselect_every", self.reselect_every)
        if self.reselect_dates is not None:
            if isinstance(self.reselect_dates, (str, pd.Timestamp)) or not isinstance(
                    self.reselect_dates, Sequence):
                raise ConfigError("reselect_dates must be a list of dates, got "
                                  f"{self.reselect_dates!r}")
            if self.reselect_every != 1:
                raise ConfigError("give either reselect_every or reselect_dates, not both")
            # one parser for every date setting: offsets dropped, 'now' and numbers refused
            parsed = [parse_date(d, "reselect_dates") for d in self.reselect_dates]
            when = tuple(sorted(d for d in parsed if d is not None))
            if len(when) != len(parsed):
                raise ConfigError("reselect_dates: a date is missing (None); write YYYY-MM-DD")
            object.__setattr__(self, "reselect_dates", when)
        object.__setattr__(self, "seed", check_seed(self.seed, "seed"))
        self._check_inputs()
        self._check_constraints()
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ConfigError(f"start {self.start.date()} is after end {self.end.date()}")

    def _check_constraints(self) -> None:
        set_ = object.__setattr__
        if isinstance(self.linear_constraints, str):
            set_(self, "linear_constraints", (self.linear_constraints,))
        elif self.linear_constraints is not None:
            if not isinstance(self.linear_constraints, Sequence):
                raise ConfigError("linear_constraints takes a list of strings like "
                                  f"'Tech <= 0.3', got {self.linear_constraints!r}")
            set_(self, "linear_constraints", tuple(self.linear_constraints) or None)
        limits = Constraints.from_settings(self.min_weight, self.max_weight, self.groups,
                                           self.linear_constraints, self.bounds_policy)
        for name in ("min_weight", "max_weight"):  # numbers (also given as text) as floats
            value = getattr(limits, name)
            if isinstance(value, float):
                set_(self, name, value)
        set_(self, "_constraints", limits)

    def _check_inputs(self) -> None:
        set_ = object.__setattr__
        if self.bounds_policy not in BOUNDS_POLICIES:
            raise ConfigError(f"unknown bounds_policy {self.bounds_policy!r}; use 'error' or "
                              "'relax'")
        for name, lo, hi in (("fixed_cost", 0.0, float("inf")), ("band", 0.0, 1.0),
                             ("drift_threshold", 0.0, float("inf"))):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v < hi:
                raise ConfigError(f"{name} must be a number in [{lo:g}, {hi:g}), got {v!r}")
            set_(self, name, float(v))
        if self.fixed_cost >= START_NAV:
            raise ConfigError(f"fixed_cost {self.fixed_cost:g} is at least the starting NAV "
                              f"({START_NAV:g}): one trade would cost everything; it is in NAV "
                              "units per asset traded")
        if self.drift_threshold <= 0:
            raise ConfigError(f"drift_threshold must be > 0, got {self.drift_threshold!r}")
        cap = self.turnover_cap
        if cap is not None:
            if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
                raise ConfigError(f"turnover_cap must be a number > 0 (one-way turnover per "
                                  f"rebalance) or none, got {cap!r}")
            set_(self, "turnover_cap", float(cap))
        # costs: a number, or per asset (a mapping or a file asset,bps)
        cost = self.cost_bps
        if not isinstance(cost, Mapping):
            cost = number_or_path(cost, name="cost_bps")
            set_(self, "cost_bps", cost)
        if isinstance(cost, float):
            if not 0 <= cost < 10_000:
                raise ConfigError(f"cost_bps must be in [0, 10000), got {cost!r}")
        else:
            table = {k: v for k, (v, _) in asset_values(cost, what="per-asset costs",
                                                        column="bps").items()}
            bad = [k for k, v in table.items() if not 0 <= v < 10_000]
            if bad:
                raise ConfigError(f"cost_bps must be in [0, 10000); asset {bad[0]!r} has "
                                  f"{table[bad[0]]!r}")
            set_(self, "_asset_costs", table)
        # the risk-free rate: an annual rate or a daily series (file or Series)
        rf = self.risk_free
        if isinstance(rf, pd.Series):
            set_(self, "_risk_free_series", check_risk_free(rf, "risk_free"))
        else:
            rf = number_or_path(rf, name="risk_free")
            set_(self, "risk_free", rf)
            if isinstance(rf, float):
                if not -1 < rf < 10:
                    raise ConfigError(f"risk_free must be an annual rate in (-1, 10) (0.02 = "
                                      f"2%) or a file, got {rf!r}")
            else:
                set_(self, "_risk_free_series", read_risk_free(rf))
        if self.delisting_returns is not None:
            table = asset_values(self.delisting_returns, what="delisting returns",
                                 column="return")
            bad = [k for k, (v, _) in table.items() if not -1 <= v <= MAX_DELISTING_RETURN]
            if bad:
                raise ConfigError(f"a delisting return must be in [-1, {MAX_DELISTING_RETURN:g}] "
                                  f"(-1: a total loss; a fraction, not a percentage); asset "
                                  f"{bad[0]!r} has {table[bad[0]][0]!r}")
            set_(self, "_delistings", table)

    @property
    def risk_free_series(self) -> pd.Series | None:
        """The daily risk-free series when ``risk_free`` names a file or is a series."""
        return self._risk_free_series

    @property
    def asset_costs(self) -> dict[str, float] | None:
        """Per-asset costs in bps when ``cost_bps`` is per asset."""
        return self._asset_costs

    @property
    def delistings(self) -> dict[str, tuple[float, pd.Timestamp | None]] | None:
        """Delisting returns by asset: (return, date or None)."""
        return self._delistings

    def risk_free_label(self) -> str:
        """Which risk-free rate was used, in words (for run folders and reports)."""
        if self._risk_free_series is not None:
            src = self.risk_free if isinstance(self.risk_free, str) else "a daily series"
            return f"daily series ({src})"
        return f"{100 * float(self.risk_free):g}% a year"

    def reselects(self, dates: pd.DatetimeIndex) -> list[bool]:
        """Whether driver selection runs at each rebalance date (the first always does)."""
        if self.reselect_dates is None:
            return [k % self.reselect_every == 0 for k in range(len(dates))]
        flags = [k == 0 for k in range(len(dates))]
        for when in self.reselect_dates:
            pos = int(dates.searchsorted(when))
            if pos < len(dates):
                flags[pos] = True
            elif len(dates):
                from ..errors import CausalfolioWarning

                warnings.warn(f"reselect date {when.date()} is after the last rebalance "
                              f"({dates[-1].date()}): it never applies", CausalfolioWarning,
                              stacklevel=2)
        return flags

    def seed_for(self, date: pd.Timestamp) -> int:
        """Deterministic seed of one rebalance: a function of the base seed and the date only."""
        return (self.seed * 1_000_003 + pd.Timestamp(date).toordinal()) % (2**32)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready settings (for the run folder)."""
        return {
            "start": None if self.start is None else str(self.start.date()),
            "end": None if self.end is None else str(self.end.date()),
            "schedule": self.schedule if isinstance(self.schedule, str)
            else [str(d.date()) for d in self.schedule],
            "reselect_every": self.reselect_every,
            "reselect_dates": None if self.reselect_dates is None
            else [str(d.date()) for d in self.reselect_dates],
            "windows": attrs.asdict(self.windows),
            "bounds": [v if not isinstance(v, Mapping) else dict(v) for v in self.bounds],
            "bounds_policy": self.bounds_policy,
            "groups": self.groups if not isinstance(self.groups, Mapping)
            else {k: v if isinstance(v, str) else list(v) for k, v in self.groups.items()},
            "linear_constraints": None if self.linear_constraints is None
            else list(self.linear_constraints),
            "cost_bps": self.cost_bps if not isinstance(self.cost_bps, Mapping)
            else dict(self.cost_bps),
            "fixed_cost": self.fixed_cost, "band": self.band, "turnover_cap": self.turnover_cap,
            "drift_threshold": self.drift_threshold,
            "risk_free": self.risk_free if not isinstance(self.risk_free, pd.Series)
            else "series", "risk_free_used": self.risk_free_label(),
            "delisting_returns": None if self._delistings is None
            else {k: v for k, (v, _) in self._delistings.items()},
            "drift": self.drift, "seed": self.seed, "diagnostics": self.diagnostics,
        }
