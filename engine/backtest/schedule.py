"""Rebalance schedules: which trading days the weights are recomputed on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd

from ..errors import ConfigError

Frequency = Literal["monthly", "quarterly", "weekly"]
FREQUENCIES: tuple[str, ...] = ("monthly", "quarterly", "weekly")


def rebalance_dates(
    calendar: pd.DatetimeIndex,
    frequency: str | Sequence = "monthly",
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DatetimeIndex:
    """Rebalance dates: the first trading day of each period within [start, end].

    Parameters
    ----------
    calendar
        The market's trading days.
    frequency
        ``monthly`` (the monograph's choice), ``quarterly``, ``weekly``, or an explicit list of
        dates (each moved forward to the next trading day).
    start, end
        Inclusive limits; default the whole calendar.
    """
    cal = pd.DatetimeIndex(calendar)
    lo = pd.Timestamp(start) if start is not None else cal[0]
    hi = pd.Timestamp(end) if end is not None else cal[-1]
    if lo > cal[-1]:
        raise ConfigError(f"start {lo.date()} is after the last date of the data "
                          f"({cal[-1].date()})")
    if lo > hi:
        raise ConfigError(f"start {lo.date()} is after end {hi.date()}")
    if isinstance(frequency, str):
        if frequency not in FREQUENCIES:
            raise ConfigError(f"unknown schedule {frequency!r}; use one of "
                              f"{', '.join(FREQUENCIES)} or a list of dates")
        code = {"monthly": "M", "quarterly": "Q", "weekly": "W"}[frequency]
        periods = cal.to_period(code)
        first = ~pd.Series(periods).duplicated().to_numpy()
        dates = cal[first]
        # the calendar's first day has no history before it: it is never a rebalance date
        dates = dates[dates > cal[0]]
    else:
        wanted = pd.DatetimeIndex(pd.to_datetime(list(frequency)))
        pos = cal.searchsorted(wanted)
        dates = pd.DatetimeIndex(sorted({cal[p] for p in pos if p < len(cal)}))
    return dates[(dates >= lo) & (dates <= hi)]
