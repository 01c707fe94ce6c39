"""Backtest inputs given as a number or a file: the risk-free rate, per-asset costs and delisting
returns. Each reader checks its file and says in one line what is wrong."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

PERIODS = 252


def number_or_path(value: Any, *, name: str) -> float | str:
    """A number (also given as text, as on the command line) or the path of a file."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} takes a number or a file, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (str, os.PathLike)):
        text = str(value).strip()
        if not text:
            raise ConfigError(f"{name} is empty; give a number (e.g. 0.02) or a file name")
        try:
            return float(text)
        except ValueError:
            return text
    raise ConfigError(f"{name} takes a number or a file, got {type(value).__name__}")


def _read_csv(path: str, *, what: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} file not found: {p}")
    try:
        return pd.read_csv(p)
    except Exception as exc:  # noqa: BLE001 - parser errors become one clear line
        raise DataError(f"{p}: cannot read the {what} file ({type(exc).__name__}: {exc})"
                        ) from None


def read_risk_free(path: str) -> pd.Series:
    """A daily risk-free series: a CSV with a date column and one value column, the return of
    cash on each day as a fraction (0.0001 = 1 bp a day)."""
    from ..data.io import read_table

    frame = read_table(path)
    if frame.shape[1] != 1:
        raise DataError(f"{path}: a risk-free file has a date column and one value column, got "
                        f"{frame.shape[1]} value columns")
    return check_risk_free(frame.iloc[:, 0], str(path))


MAX_DAILY_RISK_FREE = 0.01
"""Largest daily risk-free return accepted (1% a day, about 1,100% a year): a larger value is a
percentage or an annual rate given where a daily fraction belongs."""


def check_risk_free(series: Any, source: str) -> pd.Series:
    """A daily risk-free series checked: dates as index (sorted, unique), finite numbers in
    (-1, :data:`MAX_DAILY_RISK_FREE`], a fraction per day; ``source`` names it in messages."""
    if not isinstance(series, pd.Series) or not isinstance(series.index, pd.DatetimeIndex):
        raise DataError(f"{source}: a daily risk-free series is a pandas Series indexed by dates")
    s = pd.to_numeric(series, errors="coerce").copy()
    bad = s.isna() | ~np.isfinite(s.to_numpy(float, na_value=np.nan))
    if bad.any():
        d = s.index[bad.to_numpy()][0]
        raise DataError(f"{source}: risk-free value on {d.date()} is missing or not a number")
    if not s.index.is_monotonic_increasing or s.index.duplicated().any():
        raise DataError(f"{source}: risk-free dates must be sorted and unique")
    if (s <= -1).any() or (s > MAX_DAILY_RISK_FREE).any():
        d = s.index[((s <= -1) | (s > MAX_DAILY_RISK_FREE)).to_numpy()][0]
        raise DataError(f"{source}: risk-free return {s[d]:g} on {d.date()} is outside (-1, "
                        f"{MAX_DAILY_RISK_FREE:g}]: it is a fraction per day (0.0001 = 1 bp a "
                        "day), not a percentage or an annual rate")
    if s.index.tz is not None:
        s.index = s.index.tz_localize(None)
    return s.astype(float)


def daily_risk_free(rate: float | pd.Series, days: pd.DatetimeIndex, *, source: str = "") -> (
        np.ndarray):
    """The cash return on each of ``days``: from an annual rate, (1 + rate)^(1/252) - 1, or from a
    daily series (carried forward over days it misses; it must cover ``days``)."""
    if not isinstance(rate, pd.Series):
        if rate == 0:
            return np.zeros(len(days))
        return np.full(len(days), (1.0 + rate) ** (1.0 / PERIODS) - 1.0)
    if len(days) and (rate.index[0] > days[0] or rate.index[-1] < days[-1]):
        raise DataError(
            f"the risk-free series{' ' + source if source else ''} covers "
            f"{rate.index[0].date()} to {rate.index[-1].date()} but the backtest runs from "
            f"{days[0].date()} to {days[-1].date()}; give a series covering the whole backtest"
        )
    return rate.reindex(rate.index.union(days)).ffill().reindex(days).to_numpy(float)


def asset_values(spec: Mapping[str, float] | str, *, what: str, column: str) -> dict[str, Any]:
    """Per-asset values from a mapping or a CSV with an ``asset`` column and a ``column`` column
    (an optional ``date`` column is kept: ``{asset: (value, date or None)}``)."""
    if isinstance(spec, Mapping):
        out = {}
        for k, v in spec.items():
            if isinstance(v, (tuple, list)):
                val, d = v
            else:
                val, d = v, None
            out[str(k)] = (_finite(val, what=what, asset=k), _date(d, what=what, asset=k))
        return out
    frame = _read_csv(spec, what=what)
    cols = {str(c).lower(): c for c in frame.columns}
    if "asset" not in cols or column not in cols:
        raise DataError(f"{spec}: a {what} file has the columns asset,{column} (and optionally "
                        f"date); got {list(frame.columns)}")
    out = {}
    for _, row in frame.iterrows():
        name = str(row[cols["asset"]])
        if name in out:
            raise DataError(f"{spec}: asset {name!r} appears twice")
        d = None
        if "date" in cols and pd.notna(row[cols["date"]]):
            d = _date(str(row[cols["date"]]), what=f"{spec}: {what}", asset=name)
        out[name] = (_finite(row[cols[column]], what=what, asset=name), d)
    return out


def _date(value: Any, *, what: str, asset: Any) -> pd.Timestamp | None:
    """A per-asset date (tz-naive, offsets dropped as for every date setting), or None."""
    from ..checks import parse_date, shorten
    from ..errors import ConfigError

    if value is None:
        return None
    try:
        return parse_date(value, "date")
    except ConfigError:
        raise DataError(f"{what}: unparseable date {shorten(repr(value))} for asset "
                        f"{shorten(repr(asset))}; write YYYY-MM-DD") from None


def _finite(value: Any, *, what: str, asset: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{what}: value {value!r} for asset {asset!r} is not a number") from None
    if not math.isfinite(v):
        raise DataError(f"{what}: value for asset {asset!r} is not finite")
    return v


def check_assets(values: Mapping[str, Any], assets: pd.Index, *, what: str) -> None:
    """Every asset named must be an asset of the market."""
    unknown = [a for a in values if a not in set(assets)]
    if unknown:
        raise DataError(f"the {what} name assets that are not in the data: {unknown[:5]}; "
                        f"assets are {list(assets)[:8]}{'...' if len(assets) > 8 else ''}")
