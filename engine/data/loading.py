"""What loading kept: one line per data set, with the dates each step cut and why.

:meth:`causalfolio.data.Market.from_frames` aligns the two data sets, handles gaps and turns
levels into returns; each step may drop dates. A user whose stocks start in 1990 and whose
factors start in 2014 should read, right after loading, that ``--align inner`` kept 2014-2022,
not find it out from the backtest's first date.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..display import date_span


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _where(cut: pd.DatetimeIndex, kept: pd.DatetimeIndex) -> str:
    """Where cut dates lie: ``before``, ``after``, ``inside`` the kept dates, or a mix."""
    if len(kept) == 0:
        return ""
    before = int((cut < kept[0]).sum())
    after = int((cut > kept[-1]).sum())
    inside = len(cut) - before - after
    parts = {"before": before, "inside": inside, "after": after}
    present = [k for k, v in parts.items() if v]
    if len(present) == 1:
        return f" {present[0]}"
    return " (" + ", ".join(f"{parts[k]} {k}" for k in present) + ")"


def loading_line(what: str, noun: str, original: pd.DatetimeIndex, n_series: int,
                 steps: Sequence[tuple[pd.DatetimeIndex, str]], kept: pd.DatetimeIndex,
                 n_kept: int) -> str:
    """One line: a data set's series and dates as given, what was kept, and the dates each step
    cut and why, e.g. ``assets: 20 series on 8313 dates 1990-01-02..2022-12-28 -> kept 20 assets
    on 2263 dates 2014-01-03..2022-12-28; cut 6049 dates before, by align='inner' (--align
    inner): no candidate values``.

    Parameters
    ----------
    what
        The data set (``assets``, ``candidates``).
    noun
        What a kept series is (``assets``, ``candidates``).
    original
        Its dates as given.
    n_series
        Its number of series as given.
    steps
        ``(dates left after the step, why the others went)`` in order.
    kept
        The dates kept in the end; ``n_kept`` the series kept.
    """
    head = (f"{what}: {n_series} series on {_plural(len(original), 'date')} "
            f"{date_span(original)} -> kept {n_kept} {noun} on {_plural(len(kept), 'date')} "
            f"{date_span(kept)}")
    cuts = []
    left = original
    for after, why in steps:
        cut = left.difference(after)
        if len(cut):
            cuts.append(f"cut {_plural(len(cut), 'date')}{_where(cut, kept)}, {why}")
        left = left.intersection(after)
    return "; ".join([head, *cuts])
