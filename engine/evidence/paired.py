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


def paired_over_replicas(x: np.ndarray, y: np.ndarray, *, alpha: float = 0.05) -> TestResult:
    """Difference of a metric on the data, with a standard error from bootstrap replicas of it.

    Stationary-bootstrap replicas of one market (``--resample stationary``) are draws from the
    bootstrap distribution of a statistic on *that one path*, not independent markets: their
    spread estimates the statistic's sampling standard deviation itself. A paired t-test over
    them divides that spread by sqrt(R) and gives intervals about sqrt(R) times too narrow.

    Parameters
    ----------
    x, y
        Shape (R,): the metric of two strategies on replica 0 (the data itself, position 0)
        and on R - 1 bootstrap replicas of it, replica ``i`` in position ``i``.
    alpha
        1 - confidence level.

    Returns
    -------
    TestResult
        ``estimate`` = x[0] - y[0] (the data); interval ``estimate +- t se`` with ``se`` = the
        standard deviation (ddof=1) of x - y over the R replicas and ``t`` the Student-t
        quantile with R - 1 degrees of freedom (``se`` is itself estimated from R draws: with
        normal quantiles the Holm-adjusted comparisons of a null study rejected 12% at 5%);
        two-sided t p-value of ``estimate / se``. ``info``: ``n_replicas``, ``se``, the
        percentile interval of the replica differences (``percentile_low/high``). Fewer than
        3 replicas with both values, or replica 0 missing: NaN interval and p-value.
    """
    from scipy import stats

    alpha = _checks.alpha(alpha)
    xa, ya = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise _checks.DataError(f"x and y must hold one value per replica each: {xa.size} vs "
                                f"{ya.size}")
    d_all = xa - ya
    ok = np.isfinite(d_all)
    d = d_all[ok]
    info: dict = {"n_replicas": int(d.size), "n_markets": int(d.size),
                  "n_dropped": int((~ok).sum()), "alpha": alpha}
    nan = float("nan")
    method = "bootstrap-replicas"
    if d_all.size == 0 or not ok[0]:
        return TestResult(nan, nan, nan, nan, method,
                          {**info, "note": "the metric on the data (replica 0) is missing"})
    est = float(d_all[0])
    if np.all(d == 0):
        return TestResult(0.0, 0.0, 0.0, 1.0, method,
                          {**info, "se": 0.0,
                           "note": "every replica difference is zero: p-value set to 1"})
    if d.size < 3:
        return TestResult(est, nan, nan, nan, method,
                          {**info, "note": "fewer than 3 replicas: no bootstrap interval"})
    se = float(d.std(ddof=1))
    dof = int(d.size - 1)  # se is estimated from the R replicas: Student-t, R - 1 d.o.f.
    z = float(stats.t.ppf(1 - alpha / 2, dof))
    p = float(2 * stats.t.sf(abs(est) / se, dof)) if se > 0 else 0.0
    lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    info.update(se=se, percentile_low=float(lo), percentile_high=float(hi))
    return TestResult(est, est - z * se, est + z * se, p, method, info)
