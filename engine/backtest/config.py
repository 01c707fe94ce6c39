"""Backtest settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pandas as pd

from ..checks import parse_date
from ..errors import ConfigError
from ..pipeline import Windows
from .schedule import FREQUENCIES


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


@attrs.frozen(kw_only=True)
class BacktestConfig:
    """Walk-forward backtest settings.

    Attributes
    ----------
    start, end
        First and last dates considered for rebalancing/NAV (inclusive); default: the earliest
        date with enough history for every strategy, and the last date of the data.
    schedule
        ``monthly`` (first trading day of each month), ``quarterly``, ``weekly``, or a list of
        dates.
    reselect_every
        Re-run driver selection every n rebalances (1: at every rebalance; 6: semi-annually as in
        §9.2); other stages run at every rebalance.
    reselect_dates
        Re-run driver selection on explicit dates instead (e.g. the monograph's 2020-06-01,
        2021-01-01, 2021-07-01): at the first rebalance and at the first rebalance on or after
        each date; the selection is kept in between. Exclusive with ``reselect_every > 1``.
    windows
        Lookback windows (trading days) for driver selection, dynamics training and covariance.
    bounds
        (min, max) weight per asset, long-only. Infeasible bounds are a :class:`ConfigError`.
    cost_bps
        Transaction cost in basis points of traded value (one-way turnover).
    drift
        Let weights drift with prices between rebalances (True) or hold them constant (daily
        rebalancing to the target, False).
    seed
        Base seed; each rebalance derives its own from it and the date.
    diagnostics
        Compute the Table 1 risk diagnostics at every rebalance (kept in the results and the run
        folder). Ablations turn them off: they keep only metrics and NAV.
    """

    start: pd.Timestamp | None = attrs.field(default=None,
                                             converter=lambda v: parse_date(v, "start"))
    end: pd.Timestamp | None = attrs.field(default=None, converter=lambda v: parse_date(v, "end"))
    schedule: str | tuple = "monthly"
    reselect_every: int = 1
    reselect_dates: tuple[pd.Timestamp, ...] | None = None
    windows: Windows = attrs.field(factory=Windows)
    bounds: tuple[float, float] = (0.0, 1.0)
    cost_bps: float = 0.0
    drift: bool = True
    seed: int = 0
    diagnostics: bool = True

    def __attrs_post_init__(self) -> None:
        if isinstance(self.schedule, str):
            if self.schedule not in FREQUENCIES:
                raise ConfigError(f"unknown schedule {self.schedule!r}; use one of "
                                  f"{', '.join(FREQUENCIES)} or a list of dates")
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
            try:
                when = tuple(sorted(pd.Timestamp(d) for d in self.reselect_dates))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"reselect_dates: {exc}; write dates as YYYY-MM-DD") from None
            object.__setattr__(self, "reselect_dates", when)
        _positive_int("seed", self.seed, minimum=0)
        lo, hi = (float(b) for b in self.bounds)
        object.__setattr__(self, "bounds", (lo, hi))
        if not 0.0 <= lo <= hi <= 1.0:
            raise ConfigError(f"bounds must satisfy 0 <= min <= max <= 1, got ({lo}, {hi})")
        if not (isinstance(self.cost_bps, (int, float)) and 0 <= self.cost_bps < 10_000):
            raise ConfigError(f"cost_bps must be in [0, 10000), got {self.cost_bps!r}")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ConfigError(f"start {self.start.date()} is after end {self.end.date()}")

    def reselects(self, dates: pd.DatetimeIndex) -> list[bool]:
        """Whether driver selection runs at each rebalance date (the first always does)."""
        if self.reselect_dates is None:
            return [k % self.reselect_every == 0 for k in range(len(dates))]
        flags = [k == 0 for k in range(len(dates))]
        for when in self.reselect_dates:
            pos = int(dates.searchsorted(when))
            if pos < len(dates):
                flags[pos] = True
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
            "bounds": list(self.bounds), "cost_bps": self.cost_bps, "drift": self.drift,
            "seed": self.seed, "diagnostics": self.diagnostics,
        }
