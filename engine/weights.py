"""Weight vectors: bound checks and the Euclidean projection onto the bounded simplex (the
constraints as a whole live in :mod:`causalfolio.constraints`)."""

from __future__ import annotations

import math

from ._lazy import np
from .errors import ConfigError, NumericalError

TOL = 1e-9


def check_bounds(n: int, lo: float, hi: float) -> None:
    """Raise :class:`ConfigError` unless long-only weights in [lo, hi] can sum to 1 for n assets."""
    if not (0.0 <= lo <= hi <= 1.0):
        raise ConfigError(f"weight bounds must satisfy 0 <= min <= max <= 1, got ({lo}, {hi})")
    if n * lo > 1.0 + TOL or n * hi < 1.0 - TOL:
        raise ConfigError(
            f"infeasible weight bounds ({lo:g}, {hi:g}) for {n} assets: need min*N <= 1 <= max*N "
            f"(here {n * lo:g} and {n * hi:g}); widen the bounds or change the number of assets"
        )


def project_to_bounds(w: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray
                      ) -> np.ndarray:
    """The closest vector (Euclidean) to ``w`` with entries in [lo, hi] summing to 1.

    Solves min ||x - w|| s.t. sum x = 1, lo <= x <= hi: x = clip(w - lam, lo, hi) with the
    scalar lam found by bisection (the sum is monotone in lam). Exact to ~1e-12. ``lo`` and
    ``hi`` are numbers or per-asset arrays like ``w``.
    """
    w = np.asarray(w, dtype=float)
    if np.ndim(lo) == 0 and np.ndim(hi) == 0:
        check_bounds(w.size, float(lo), float(hi))
    else:
        lo_a = np.broadcast_to(np.asarray(lo, dtype=float), w.shape)
        hi_a = np.broadcast_to(np.asarray(hi, dtype=float), w.shape)
        if np.any(lo_a < 0) or np.any(lo_a > hi_a) or np.any(hi_a > 1):
            raise ConfigError("per-asset weight bounds must satisfy 0 <= min <= max <= 1")
        if lo_a.sum() > 1.0 + TOL or hi_a.sum() < 1.0 - TOL:
            raise ConfigError(f"infeasible per-asset weight bounds: the minimums sum to "
                              f"{lo_a.sum():g} and the maximums to {hi_a.sum():g}; need "
                              "sum(min) <= 1 <= sum(max)")
        lo, hi = lo_a, hi_a
    if not np.all(np.isfinite(w)):
        raise NumericalError("cannot project non-finite weights onto the bounds")
    a, b = w.min() - np.max(hi) - 1.0, w.max() - np.min(lo) + 1.0
    for _ in range(200):
        mid = 0.5 * (a + b)
        s = np.clip(w - mid, lo, hi).sum()
        if s > 1.0:
            a = mid
        else:
            b = mid
        if b - a < 1e-15:
            break
    x = np.clip(w - 0.5 * (a + b), lo, hi)
    # remove the last rounding error on a coordinate that is strictly inside its bounds
    free = np.flatnonzero((x > lo + 1e-12) & (x < hi - 1e-12))
    if free.size:
        x[free] += (1.0 - x.sum()) / free.size
    return x


MAX_EXPOSURE = 100.0
"""Largest gross or absolute net exposure of a long-short portfolio (times the NAV): beyond it a
1% move loses everything."""


def check_exposures(owner: str, gross: float | None, net: float) -> None:
    """Raise :class:`ParameterError` unless a long-short budget is possible: gross >= |net|."""
    from .errors import ParameterError

    if not math.isfinite(net):
        raise ParameterError(f"{owner}: parameter 'net' must be finite, got {net!r}")
    for name, v in (("net", net), ("gross", gross)):  # 100x the NAV: ruin on a 1% move
        if v is not None and not abs(v) <= MAX_EXPOSURE:
            raise ParameterError(f"{owner}: parameter '{name}' must be at most {MAX_EXPOSURE:g} "
                                 f"in absolute value (times the NAV), got {v:g}")
    if gross is not None and not gross >= abs(net):
        raise ParameterError(f"{owner}: parameter 'gross' (sum |w|) must be >= |net| (sum w); "
                             f"got gross={gross:g}, net={net:g}")


def within_exposures(w: np.ndarray, net: float, gross: float | None, tol: float = 1e-6) -> bool:
    """True when long-short weights ``w`` sum to ``net`` and sum |w| <= ``gross`` up to ``tol``."""
    w = np.asarray(w, dtype=float)
    return bool(np.all(np.isfinite(w)) and abs(w.sum() - net) <= tol
                and (gross is None or np.abs(w).sum() <= gross + tol))
