"""Paired tests over markets: one value of a metric per market for each of two strategies."""

from __future__ import annotations

import math

import numpy as np

from . import _checks
from .result import TestResult


def paired_over_markets(x: np.ndarray, y: np.ndarray, *, alpha: float = 0.05) -> TestResult:
    """Paired t-test (and Wilcoxon signed-rank test) of per-market values ``x - y``.

    Parameters
    ----------
    x, y
        Shape (M,): one value of the same metric per market (or replica) for two strategies,
        market ``i`` in position ``i``. Pairs with a NaN on either side are dropped (counted in
        ``info["n_dropped"]``).
    alpha
        1 - confidence level of the t interval.

    Returns
    -------
    TestResult
        ``estimate`` = mean(x - y); Student-t interval with M - 1 degrees of freedom; p-value of
        :func:`scipy.stats.ttest_rel`. ``info``: ``n_markets``, ``p_wilcoxon``
        (:func:`scipy.stats.wilcoxon`, two-sided), ``sd_diff``. All differences zero: estimate
        0, interval [0, 0], both p-values 1 (``info["note"]`` says so). Fewer than 2 markets:
        NaN interval and p-values.
    """
    from scipy import stats

    alpha = _checks.alpha(alpha)
    xa, ya = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise _checks.DataError(f"x and y must hold one value per market each: {xa.size} vs "
                                f"{ya.size}")
    ok = np.isfinite(xa) & np.isfinite(ya)
    d = xa[ok] - ya[ok]
    m = int(d.size)
    info: dict = {"n_markets": m, "n_dropped": int((~ok).sum()), "alpha": alpha}
    nan = float("nan")
    method = "paired-t"
    if m == 0:
        return TestResult(nan, nan, nan, nan, method,
                          {**info, "p_wilcoxon": nan, "note": "no market with both values"})
    est = float(d.mean())
    if np.all(d == 0):
        return TestResult(0.0, 0.0, 0.0, 1.0, method,
                          {**info, "p_wilcoxon": 1.0, "sd_diff": 0.0,
                           "note": "every per-market difference is zero: p-values set to 1"})
    if m < 2:
        return TestResult(est, nan, nan, nan, method,
                          {**info, "p_wilcoxon": nan,
                           "note": "one market: no interval across markets"})
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(1 - alpha / 2, m - 1)) * sd / math.sqrt(m)
    p_t = float(stats.ttest_rel(xa[ok], ya[ok]).pvalue) if sd > 0 else 0.0
    p_w = float(stats.wilcoxon(d).pvalue)
    info.update(p_wilcoxon=p_w, sd_diff=sd)
    return TestResult(est, est - half, est + half, p_t, method, info)
