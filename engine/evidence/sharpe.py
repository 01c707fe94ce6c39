"""Within-market paired tests: Sharpe-ratio difference, variance ratio, any metric.

The Sharpe and variance tests follow Ledoit & Wolf (2008, "Robust performance hypothesis testing
with the Sharpe ratio", J. Empirical Finance 15) and Ledoit & Wolf (2011, "Robust performance
hypothesis testing with the variance", Wilmott Magazine): the statistic is a smooth function
``f`` of the first and second (uncentred) moments ``m = E[a, b, a^2, b^2]``; its standard error is
the delta method ``sqrt(grad f' Psi grad f / T)`` with ``Psi`` a Bartlett-kernel HAC estimate
(statsmodels); the reference distribution of the studentised statistic comes from a circular
block bootstrap (indices from :class:`arch.bootstrap.CircularBlockBootstrap`), where each
replicate is studentised with the block estimate of ``Psi`` of that replicate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _checks
from .result import TestResult

_CHUNK = 256  # bootstrap replicates evaluated at once (memory: CHUNK x T x 4 floats)


BLOCK_RULE = ("Politis-White automatic block length (arch.bootstrap.optimal_block_length, "
              "stationary) of the returns and of the squared returns: the median over the "
              "series of each, the larger of the two, rounded up, at most ceil(sqrt(T)) days")
"""The one automatic block-length rule of the resampling (``--resample``) and every test."""


def auto_block_days(returns: np.ndarray, *, max_len: int | None = None) -> int:
    """The automatic block length in days shared by the resampling and the tests.

    Politis & White (2004, with the Patton, Politis & White 2009 correction), as
    ``arch.bootstrap.optimal_block_length`` (stationary bootstrap), of each column's returns and
    of its squared returns; the larger of (median over the columns of the returns' lengths,
    median over the columns of the squared returns' lengths), rounded up, clipped to
    ``[1, max_len]`` (default ``ceil(sqrt(T))``). Squared returns carry the volatility
    clustering that a Sharpe ratio or a variance depends on; raw returns alone pick a few days.

    Parameters
    ----------
    returns
        Shape (T,) or (T, K): daily returns (e.g. the assets of a market, or two strategies).
        Constant columns are ignored.
    max_len
        Upper bound in days (default ``ceil(sqrt(T))``).
    """
    from arch.bootstrap import optimal_block_length

    x = np.asarray(returns, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    x = x[:, np.all(np.isfinite(x), axis=0)]
    n = x.shape[0]
    cap = max_len if max_len is not None else max(1, math.ceil(math.sqrt(n)))
    x = x[:, x.std(axis=0) > 0] if x.size else x
    if not x.size or n < 4:
        return 1
    sq = x * x
    sq = sq[:, sq.std(axis=0) > 0]
    meds = []
    for part in (x, sq):
        if part.shape[1]:
            opt = optimal_block_length(part)["stationary"].to_numpy(dtype=float)
            opt = opt[np.isfinite(opt)]
            if opt.size:
                meds.append(float(np.median(opt)))
    b = math.ceil(max(meds)) if meds else 1
    return int(min(max(b, 1), cap, n - 1))


def block_length(*columns: np.ndarray, max_len: int | None = None) -> int:
    """:func:`auto_block_days` of the given return series (columns of equal length)."""
    return auto_block_days(np.column_stack(columns), max_len=max_len)


def _indices(kind: str, block: int, n: int, reps: int, seed: int) -> np.ndarray:
    """(reps x n) bootstrap row indices from ``arch.bootstrap``."""
    from arch.bootstrap import CircularBlockBootstrap, StationaryBootstrap

    cls = CircularBlockBootstrap if kind == "circular" else StationaryBootstrap
    bs = cls(block, np.empty(n), seed=np.random.default_rng(seed))
    return np.stack([np.asarray(bs.update_indices(), dtype=np.intp) for _ in range(reps)])


# ---- smooth functions of the moments m = (mu_a, mu_b, g_a, g_b), vectorised over leading axes
def _var(m: np.ndarray, i: int, n: int) -> np.ndarray:
    return (m[..., 2 + i] - m[..., i] ** 2) * (n / (n - 1))


def _sharpe_f(m: np.ndarray, n: int) -> np.ndarray:
    return m[..., 0] / np.sqrt(_var(m, 0, n)) - m[..., 1] / np.sqrt(_var(m, 1, n))


def _sharpe_grad(m: np.ndarray, n: int) -> np.ndarray:
    c = math.sqrt((n - 1) / n)
    va = (m[..., 2] - m[..., 0] ** 2) ** 1.5
    vb = (m[..., 3] - m[..., 1] ** 2) ** 1.5
    return c * np.stack([m[..., 2] / va, -m[..., 3] / vb, -m[..., 0] / (2 * va),
                         m[..., 1] / (2 * vb)], axis=-1)


def _logvar_f(m: np.ndarray, n: int) -> np.ndarray:
    return np.log(_var(m, 0, n)) - np.log(_var(m, 1, n))


def _logvar_grad(m: np.ndarray, n: int) -> np.ndarray:
    va = m[..., 2] - m[..., 0] ** 2
    vb = m[..., 3] - m[..., 1] ** 2
    return np.stack([-2 * m[..., 0] / va, 2 * m[..., 1] / vb, 1 / va, -1 / vb], axis=-1)


def _vol_f(m: np.ndarray, n: int) -> np.ndarray:
    return np.sqrt(_var(m, 0, n)) - np.sqrt(_var(m, 1, n))


def _vol_grad(m: np.ndarray, n: int) -> np.ndarray:
    c = math.sqrt(n / (n - 1))
    sa = np.sqrt(m[..., 2] - m[..., 0] ** 2)
    sb = np.sqrt(m[..., 3] - m[..., 1] ** 2)
    return c * np.stack([-m[..., 0] / sa, m[..., 1] / sb, 1 / (2 * sa), -1 / (2 * sb)], axis=-1)


Stat = tuple[Callable[[np.ndarray, int], np.ndarray], Callable[[np.ndarray, int], np.ndarray]]
STATS: dict[str, Stat] = {"sharpe": (_sharpe_f, _sharpe_grad),
                          "log_variance_ratio": (_logvar_f, _logvar_grad),
                          "volatility": (_vol_f, _vol_grad)}


def hac_psi(y: np.ndarray, block: int) -> np.ndarray:
    """Bartlett-kernel HAC long-run covariance of the rows of ``y`` (T x k), lags ``block - 1``.

    ``statsmodels.stats.sandwich_covariance.S_hac_simple`` of the demeaned rows, divided by T.
    """
    from statsmodels.stats.sandwich_covariance import S_hac_simple

    z = y - y.mean(axis=0)
    return S_hac_simple(z, nlags=block - 1) / y.shape[0]


def delta_se(y: np.ndarray, block: int, stat: str) -> float:
    """Delta-method HAC standard error of statistic ``stat`` (before annualisation)."""
    n = y.shape[0]
    g = STATS[stat][1](y.mean(axis=0), n)
    return float(math.sqrt(max(g @ hac_psi(y, block) @ g, 0.0) / n))


def _studentized(a: np.ndarray, b: np.ndarray, stats: tuple[str, ...], *, block_size: int | None,
                 n_boot: int, alpha: float, seed: int) -> tuple[dict[str, dict[str, float]], int]:
    """Studentised circular-block-bootstrap tests of several statistics on the same replicates."""
    n = a.size
    y = np.column_stack([a, b, a * a, b * b])
    block = (_checks.block(block_size, n) if block_size is not None
             else block_length(a, b))
    m = y.mean(axis=0)
    est = {s: float(STATS[s][0](m, n)) for s in stats}
    se = {s: delta_se(y, block, s) for s in stats}
    idx = _indices("circular", block, n, n_boot, seed)
    nb = n // block  # full blocks used by the replicate's block estimate of Psi
    dstar = {s: np.empty(n_boot) for s in stats}
    for lo in range(0, n_boot, _CHUNK):
        ys = y[idx[lo:lo + _CHUNK]]                        # (B, T, 4)
        ms = ys.mean(axis=1)                                # (B, 4)
        head = ys[:, :nb * block]
        zeta = head.reshape(head.shape[0], nb, block, 4).sum(axis=2)
        zeta = (zeta - zeta.mean(axis=1, keepdims=True)) / math.sqrt(block)
        psi = np.matmul(zeta.transpose(0, 2, 1), zeta) / nb  # (B, 4, 4)
        for s in stats:
            f, grad = STATS[s]
            g = grad(ms, n)
            q = np.matmul(np.matmul(g[:, None, :], psi), g[:, :, None])[:, 0, 0]
            se_b = np.sqrt(np.maximum(q, 0.0) / n)
            with np.errstate(divide="ignore", invalid="ignore"):
                dstar[s][lo:lo + _CHUNK] = np.abs(f(ms, n) - est[s]) / se_b
    out: dict[str, dict[str, float]] = {}
    for s in stats:
        d = dstar[s][np.isfinite(dstar[s])]
        crit = float(np.quantile(d, 1 - alpha)) if d.size else float("nan")
        stat = abs(est[s]) / se[s] if se[s] > 0 else float("inf")
        p = float((np.count_nonzero(d >= stat) + 1) / (d.size + 1)) if d.size else float("nan")
        out[s] = {"estimate": est[s], "se": se[s], "ci_low": est[s] - crit * se[s],
                  "ci_high": est[s] + crit * se[s], "p_value": p, "critical": crit}
    return out, block


def _settings(n_boot: int, alpha: float, seed: int) -> tuple[int, float, int]:
    return (_checks.positive_int(n_boot, "n_boot", minimum=50), _checks.alpha(alpha),
            _checks.positive_int(seed, "seed", minimum=0))


def _lw_inputs(a: np.ndarray, b: np.ndarray, periods_per_year: int, n_boot: int, alpha: float,
               seed: int) -> tuple[np.ndarray, np.ndarray, float, dict[str, Any]]:
    """The checked pair of the Ledoit-Wolf tests, sqrt(periods_per_year) and their common info."""
    a, b = _checks.pair(a, b, min_len=10)
    n_boot, alpha, seed = _settings(n_boot, alpha, seed)
    ann = math.sqrt(_checks.positive_int(periods_per_year, "periods_per_year"))
    info = {"n": int(a.size), "n_boot": n_boot, "seed": seed, "alpha": alpha,
            "periods_per_year": int(periods_per_year), "bootstrap": "circular block"}
    return a, b, ann, info


def _degenerate(a: np.ndarray, b: np.ndarray, method: str, info: dict) -> TestResult | None:
    """Identical series (difference 0, p = 1) or a constant series (undefined: NaN)."""
    if np.array_equal(a, b):
        return TestResult(0.0, 0.0, 0.0, 1.0, method,
                          {**info, "identical": True,
                           "note": "the two series are identical: difference 0, p-value 1"})
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        nan = float("nan")
        return TestResult(nan, nan, nan, nan, method,
                          {**info, "note": "a series has zero variance: the test is undefined"})
    return None


def sharpe_diff(a: np.ndarray, b: np.ndarray, *, periods_per_year: int = 252,
                block_size: int | None = None, n_boot: int = 1000, alpha: float = 0.05,
                seed: int = 0) -> TestResult:
    """Ledoit-Wolf (2008) test of the difference of two Sharpe ratios on the same dates.

    Parameters
    ----------
    a, b
        Daily simple returns (shape (T,)) of the two strategies on the same dates.
    periods_per_year
        Annualisation factor (252 trading days).
    block_size
        Circular-block length in days; default from the data (:func:`block_length`).
    n_boot
        Bootstrap replicates (>= 50).
    alpha
        1 - confidence level of the interval.
    seed
        Seed of the bootstrap indices.

    Returns
    -------
    TestResult
        ``estimate`` = annualised Sharpe(a) - Sharpe(b) (sample std, ddof=1, risk-free rate 0,
        as in :func:`causalfolio.backtest.performance`); symmetric studentised bootstrap interval
        ``estimate -/+ q * se``; p-value ``(1 + #{d* >= d}) / (1 + n_boot)``. ``info``: block
        length, replicates, seed, HAC standard error (annualised), Sharpe of each series.
    """
    a, b, ann, info = _lw_inputs(a, b, periods_per_year, n_boot, alpha, seed)
    n_boot, alpha, seed = info["n_boot"], info["alpha"], info["seed"]
    deg = _degenerate(a, b, "ledoit-wolf-2008", info)
    if deg is not None:
        return deg
    res, block = _studentized(a, b, ("sharpe",), block_size=block_size, n_boot=n_boot,
                              alpha=alpha, seed=seed)
    r = res["sharpe"]
    info.update(block_size=block, se=r["se"] * ann, critical=r["critical"],
                sharpe_a=float(a.mean() / a.std(ddof=1) * ann),
                sharpe_b=float(b.mean() / b.std(ddof=1) * ann))
    return TestResult(r["estimate"] * ann, r["ci_low"] * ann, r["ci_high"] * ann, r["p_value"],
                      "ledoit-wolf-2008", info)


def variance_ratio(a: np.ndarray, b: np.ndarray, *, periods_per_year: int = 252,
                   block_size: int | None = None, n_boot: int = 1000, alpha: float = 0.05,
                   seed: int = 0) -> TestResult:
    """Ledoit-Wolf (2011) test of equal variances: the log variance ratio ``log(var a / var b)``.

    Same inputs and bootstrap as :func:`sharpe_diff`. Not robust to volatilities that follow
    separate persistent paths (57% coverage of its 95% interval on 500-day pairs with separate
    GARCH(0.08, 0.90) variances, docs/evidence.md): studies use
    :func:`causalfolio.evidence.volatility_diff` instead.

    Returns
    -------
    TestResult
        ``estimate`` = log(var(a) / var(b)) with its studentised interval and p-value. ``info``
        also holds the annualised volatility difference ``vol_diff`` = vol(a) - vol(b) (units of
        annual volatility) with its own studentised interval ``vol_ci_low``/``vol_ci_high``
        and p-value ``vol_p_value`` from the same replicates.
    """
    a, b, ann, info = _lw_inputs(a, b, periods_per_year, n_boot, alpha, seed)
    n_boot, alpha, seed = info["n_boot"], info["alpha"], info["seed"]
    deg = _degenerate(a, b, "ledoit-wolf-2011", info)
    if deg is not None:
        if deg.info.get("identical"):
            deg.info.update(vol_diff=0.0, vol_ci_low=0.0, vol_ci_high=0.0, vol_p_value=1.0)
        return deg
    res, block = _studentized(a, b, ("log_variance_ratio", "volatility"), block_size=block_size,
                              n_boot=n_boot, alpha=alpha, seed=seed)
    r, v = res["log_variance_ratio"], res["volatility"]
    info.update(block_size=block, se=r["se"], critical=r["critical"],
                vol_diff=v["estimate"] * ann, vol_ci_low=v["ci_low"] * ann,
                vol_ci_high=v["ci_high"] * ann, vol_p_value=v["p_value"],
                vol_a=float(a.std(ddof=1) * ann), vol_b=float(b.std(ddof=1) * ann))
    return TestResult(r["estimate"], r["ci_low"], r["ci_high"], r["p_value"],
                      "ledoit-wolf-2011", info)


def max_drawdown(returns: np.ndarray) -> np.ndarray | float:
    """Largest peak-to-trough loss (a negative fraction) of simple returns along the last axis.

    The NAV starts at 1 before the first return, as in :func:`causalfolio.backtest.performance`.
    Accepts (T,) -> float or (B, T) -> (B,).
    """
    r = np.asarray(returns, dtype=float)
    nav = np.cumprod(1.0 + r, axis=-1)
    peak = np.maximum(np.maximum.accumulate(nav, axis=-1), 1.0)
    dd = np.minimum((nav / peak - 1.0).min(axis=-1), 0.0)
    return float(dd) if np.ndim(dd) == 0 else dd


def metric_diff(a: np.ndarray, b: np.ndarray,
                metric: Callable[[np.ndarray], np.ndarray | float], *,
                block_size: int | None = None, n_boot: int = 1000, alpha: float = 0.05,
                seed: int = 0, vectorized: bool = False) -> TestResult:
    """Paired stationary-bootstrap test of ``metric(a) - metric(b)`` for any metric.

    Both series are resampled on the same days (Politis-Romano stationary bootstrap, indices
    from :class:`arch.bootstrap.StationaryBootstrap`, mean block ``block_size`` days, default
    from the data).

    Parameters
    ----------
    metric
        Function of a (T,) return array to a float (e.g. :func:`max_drawdown`). With
        ``vectorized=True`` it is called once on a (B, T) array and must return (B,).

    Returns
    -------
    TestResult
        ``estimate`` = metric(a) - metric(b); bias-corrected percentile interval: the
        ``alpha/2, 1 - alpha/2`` quantiles of the replicates ``d*`` shifted by the bootstrap bias
        ``mean(d*) - d`` (path metrics like the drawdown are biased under resampling, and the
        plain percentile interval can miss the estimate); p-value
        ``(1 + #{|d* - mean(d*)| >= |d|}) / (1 + n_boot)``. ``info["bootstrap_bias"]``.
    """
    a, b = _checks.pair(a, b, min_len=10)
    n_boot, alpha, seed = _settings(n_boot, alpha, seed)
    name = getattr(metric, "__name__", "metric")
    info = {"n": int(a.size), "n_boot": n_boot, "seed": seed, "alpha": alpha, "metric": name,
            "bootstrap": "stationary"}
    est = float(metric(a)) - float(metric(b))
    if np.array_equal(a, b):
        return TestResult(0.0, 0.0, 0.0, 1.0, "stationary-bootstrap-percentile",
                          {**info, "identical": True,
                           "note": "the two series are identical: difference 0, p-value 1"})
    block = (_checks.block(block_size, a.size) if block_size is not None
             else block_length(a, b))
    idx = _indices("stationary", block, a.size, n_boot, seed)
    if vectorized:
        d = np.asarray(metric(a[idx]), dtype=float) - np.asarray(metric(b[idx]), dtype=float)
    else:
        d = np.array([float(metric(a[i])) - float(metric(b[i])) for i in idx])
    d = d[np.isfinite(d)]
    if not d.size or not math.isfinite(est):
        nan = float("nan")
        return TestResult(est, nan, nan, nan, "stationary-bootstrap-percentile",
                          {**info, "block_size": block, "note": "the metric is undefined"})
    bias = float(d.mean() - est)
    lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2]) - bias
    p = float((np.count_nonzero(np.abs(d - d.mean()) >= abs(est)) + 1) / (d.size + 1))
    info.update(block_size=block, se=float(d.std(ddof=1)), bootstrap_bias=bias)
    return TestResult(est, float(lo), float(hi), p, "stationary-bootstrap-percentile", info)
