"""Shared validation of the evidence functions' inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, shorten


def _floats(x: Any, name: str) -> np.ndarray:
    """``x`` as a float array; text, objects or ragged lists are a :class:`DataError`."""
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: expected numbers (daily returns), got values numpy cannot "
                        f"read as floats ({shorten(str(exc))})") from None


def series(x: Any, name: str, *, min_len: int = 2) -> np.ndarray:
    """A 1-D float array of finite values with at least ``min_len`` entries."""
    arr = _floats(x, name)
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D series of returns, got shape {arr.shape}")
    if arr.size < min_len:
        raise DataError(f"{name}: {arr.size} observations; need at least {min_len}")
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise DataError(f"{name}: non-finite value {arr[i]!r} at position {i}; drop or fill "
                        "missing days first")
    return arr


def pair(a: Any, b: Any, *, min_len: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two aligned 1-D return series of the same length."""
    x, y = series(a, "a", min_len=min_len), series(b, "b", min_len=min_len)
    if x.shape != y.shape:
        raise DataError(f"a and b must cover the same dates: {x.size} vs {y.size} observations")
    return x, y


def matrix(x: Any, name: str, *, min_rows: int = 2, min_cols: int = 1) -> np.ndarray:
    """A 2-D float array (T x K) of finite values."""
    arr = _floats(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{name}: expected a (T x K) array, got shape {arr.shape}")
    if arr.shape[0] < min_rows or arr.shape[1] < min_cols:
        raise DataError(f"{name}: shape {arr.shape}; need at least {min_rows} rows and "
                        f"{min_cols} columns")
    if not np.isfinite(arr).all():
        raise DataError(f"{name}: contains NaN or infinite values; align the series first")
    return arr


def alpha(value: float) -> float:
    """A significance level strictly between 0 and 1."""
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ConfigError(f"alpha={value!r}: must be strictly between 0 and 1 (e.g. 0.05)")
    return v


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools and fractional floats rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or (
            isinstance(value, float) and (not math.isfinite(value) or value != int(value))):
        raise ConfigError(f"{name}={value!r}: must be an integer >= {minimum}")
    v = int(value)
    if v < minimum:
        raise ConfigError(f"{name}={value!r}: must be an integer >= {minimum}")
    return v


def block(value: Any, n: int) -> int:
    """A block length in days: 1 <= value < n."""
    v = positive_int(value, "block_size")
    if v >= n:
        raise ConfigError(f"block_size={v}: must be shorter than the series ({n} days)")
    return v
