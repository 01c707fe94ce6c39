"""Checks on input frames, each failure a specific :class:`DataError`."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DataError

NanPolicy = Literal["error", "drop", "ffill"]


def validate_frame(frame: pd.DataFrame, *, what: str) -> pd.DataFrame:
    """Check dates and values of a wide frame; return it with float columns.

    Raises :class:`DataError` for an empty frame, a non-date index, duplicate or unsorted dates,
    duplicate column names, non-numeric values and infinities. NaNs are left to
    :func:`apply_nan_policy`.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty or frame.shape[1] == 0:
        raise DataError(f"{what}: the frame is empty")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{what}: the index must hold dates (a DatetimeIndex), got "
                        f"{type(frame.index).__name__}; set the date column as index")
    dup = frame.index.duplicated()
    if dup.any():
        raise DataError(f"{what}: duplicate date {frame.index[dup][0].date()}; keep one row per "
                        "date")
    if not frame.index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(frame.index.asi8) < 0)[0])
        raise DataError(f"{what}: dates are not sorted ({frame.index[pos].date()} comes before "
                        f"{frame.index[pos + 1].date()}); sort the rows by date")
    cols = pd.Index(frame.columns).astype(str)
    if cols.duplicated().any():
        raise DataError(f"{what}: duplicate series name {cols[cols.duplicated()][0]!r}")
    out = {}
    for col in frame.columns:
        s = frame[col]
        if s.dtype == bool or not pd.api.types.is_numeric_dtype(s):
            num = pd.to_numeric(s, errors="coerce")
            bad = num.isna() & s.notna()
            if bad.any() or s.dtype == bool:
                d = s.index[bad.to_numpy()][0] if bad.any() else s.index[0]
                raise DataError(f"{what} series {col!r}: non-numeric value {s[d]!r} on "
                                f"{d.date()}")
            s = num
        s = s.astype(float)
        inf = np.isinf(s.to_numpy())
        if inf.any():
            raise DataError(f"{what} series {col!r}: infinite value on {s.index[inf][0].date()}")
        out[str(col)] = s
    return pd.DataFrame(out, index=frame.index)


def lives(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame: True from each series' first value to its last (its life).

    A NaN outside a series' life (before its first value or after its last) means the series is
    outside the universe there (not listed yet, delisted, discontinued); a NaN inside its life is a
    gap, handled by :func:`apply_nan_policy`.
    """
    have = frame.notna()
    return have.cummax() & have.iloc[::-1].cummax().iloc[::-1]


def check_column_names(names: list, *, source: str) -> None:
    """Every column of a data file needs a name of its own.

    Parameters
    ----------
    names
        The column names as written in the file's header (date column included).
    source
        The file, for the message.
    """
    seen: dict[str, int] = {}
    for k, raw in enumerate(names, 1):
        name = "" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else str(raw)
        if not name.strip():
            raise DataError(f"{source}: column {k} has no name in the header; name it or delete "
                            "the column")
        if name in seen:
            raise DataError(f"{source}: column name {name!r} appears twice (columns {seen[name]} "
                            f"and {k}); give every column a unique name")
        seen[name] = k


def apply_nan_policy(frame: pd.DataFrame, policy: NanPolicy, *, what: str) -> pd.DataFrame:
    """Handle gaps (NaNs inside a series' life) in levels.

    ``error`` (default) reports the first gap, ``ffill`` carries the last value forward over gaps,
    ``drop`` removes the dates with a gap in any series. NaNs before a series' first value or after
    its last are kept: the series is outside the universe there (see :func:`lives`). A series
    without any value is an error.
    """
    if policy not in ("error", "drop", "ffill"):
        raise DataError(f"unknown NaN policy {policy!r}; use 'error', 'drop' or 'ffill'")
    nan = frame.isna()
    if not nan.to_numpy().any():
        return frame
    empty = nan.all()
    if empty.any():
        raise DataError(f"{what} series {empty.idxmax()!r} has no value on the aligned dates; "
                        "remove it or check the dates")
    gaps = nan & lives(frame)
    if not gaps.to_numpy().any():
        return frame
    if policy == "error":
        col = gaps.any().idxmax()
        d = frame.index[gaps[col].to_numpy()][0]
        raise DataError(f"{what} series {col!r} is missing a value on {d.date()} "
                        f"({int(gaps.to_numpy().sum())} missing values inside the series' lives "
                        "in all); choose a NaN policy: 'ffill' or 'drop'")
    if policy == "ffill":
        return frame.ffill().where(lives(frame))
    return frame.loc[~gaps.any(axis=1).to_numpy()]


def check_returns(returns: pd.DataFrame, *, what: str, kind: str, levels: bool = False) -> None:
    """Returns given as data (``kind='returns'``) must be > -1 (a fall of 100% or more ends the
    NAV), and series that look like prices (all positive, median above 1, i.e. a typical day of
    +100%) are refused with a hint to use ``kind='prices'``.

    Parameters
    ----------
    returns
        (T, N) returns, after transforms.
    what
        ``assets`` or ``candidates``, for the message.
    kind
        How the data was given (``prices`` or ``returns``).
    levels
        Also apply the prices-look check (``kind='returns'`` data used without a transform).
    """
    if kind == "returns" and levels:
        pos = (returns > 0).all()
        med = returns.median()
        looks = pos & (med > 1.0)
        if looks.any():
            col = looks.idxmax()
            raise DataError(f"{what} series {col!r} looks like prices, not returns (all "
                            f"positive, median {med[col]:.4g}); use --kind prices "
                            "(kind='prices'), or give returns as fractions (0.01 = 1%)")
    if what != "assets" or kind != "returns":
        return  # price levels are checked positive by the pct/log transforms
    low = returns <= -1.0
    if low.to_numpy().any():
        col = low.any().idxmax()
        d = returns.index[low[col].to_numpy()][0]
        raise DataError(f"{what} series {col!r} has a return of {returns.loc[d, col]:.4g} on "
                        f"{d.date()}; returns must be > -1 (a loss of 100% or more); give "
                        "returns as fractions (0.01 = 1%) or use --kind prices for price files")


def check_not_constant(returns: pd.DataFrame, *, what: str) -> None:
    """A series whose returns never change carries no information and breaks correlations."""
    std = returns.std(ddof=0)  # NaNs outside a series' life are skipped
    const = std[~(std > 0)]
    if len(const):
        raise DataError(f"{what} series {const.index[0]!r} is constant; remove it "
                        f"({len(const)} constant series in all)")
