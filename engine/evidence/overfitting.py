"""Selection bias of a grid search: Deflated Sharpe Ratio, Probability of Backtest Overfitting."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from . import _checks
from .result import plain

EULER_GAMMA = 0.5772156649015329


def expected_max_sharpe(n_trials: int, sharpe_std: float) -> float:
    """Expected maximum of ``n_trials`` independent N(0, sharpe_std^2) Sharpe ratios.

    Bailey & Lopez de Prado (2014), eq. for ``SR_0``: ``sd * ((1 - g) Z^-1(1 - 1/N) +
    g Z^-1(1 - 1/(N e)))`` with ``g`` the Euler-Mascheroni constant; 0 for one trial.
    """
    from scipy.stats import norm

    if n_trials <= 1:
        return 0.0
    return float(sharpe_std * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials)
                               + EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e))))


def deflated_sharpe(returns_best: np.ndarray, *, n_trials: int, sharpe_std: float,
                    periods_per_year: int = 252) -> dict[str, Any]:
    """Deflated Sharpe Ratio of the best of ``n_trials`` strategies (Bailey & Lopez de Prado 2014).

    Parameters
    ----------
    returns_best
        Shape (T,): daily simple returns of the selected (best) strategy.
    n_trials
        Number of distinct strategies tried (identical arms counted once).
    sharpe_std
        Standard deviation of the trials' *annualised* Sharpe ratios (ddof=1).
    periods_per_year
        Annualisation factor.

    Returns
    -------
    dict
        ``sharpe`` (annualised), ``expected_max_sharpe`` (annualised ``SR_0``: what the best of
        ``n_trials`` zero-mean strategies with that dispersion reaches on average), ``dsr`` (the
        probability that the true Sharpe exceeds ``SR_0``, using the skewness and kurtosis of the
        returns, :mod:`scipy.stats`), ``p_value`` = 1 - dsr, ``p_best_of_noise`` (the chance that
        the best of ``n_trials`` N(0, sharpe_std^2) Sharpe ratios reaches the observed one),
        ``skew``, ``kurtosis`` (non-excess), ``n``, ``n_trials``, ``sharpe_std``.
    """
    from scipy import stats

    r = _checks.series(returns_best, "returns_best", min_len=10)
    n_trials = _checks.positive_int(n_trials, "n_trials")
    sd = float(sharpe_std)
    if not math.isfinite(sd) or sd < 0:
        raise _checks.ConfigError(f"sharpe_std={sharpe_std!r}: must be a finite number >= 0")
    ann = math.sqrt(_checks.positive_int(periods_per_year, "periods_per_year"))
    n = r.size
    std = r.std(ddof=1)
    nan = float("nan")
    if std == 0:
        return {"sharpe": nan, "expected_max_sharpe": nan, "dsr": nan, "p_value": nan,
                "p_best_of_noise": nan, "n": n, "n_trials": n_trials, "sharpe_std": sd,
                "note": "zero-variance returns: the Sharpe ratio is undefined"}
    sr = float(r.mean() / std)                       # per period
    skew = float(stats.skew(r))
    kurt = float(stats.kurtosis(r, fisher=False))
    sr0 = expected_max_sharpe(n_trials, sd / ann)    # per period
    denom = 1 - skew * sr + (kurt - 1) / 4 * sr ** 2
    dsr = float(stats.norm.cdf((sr - sr0) * math.sqrt(n - 1) / math.sqrt(denom))) \
        if denom > 0 else nan
    if n_trials <= 1 or sd == 0:
        p_noise = nan
    else:
        p_noise = float(-np.expm1(n_trials * stats.norm.logcdf(sr * ann / sd)))
    return {"sharpe": sr * ann, "expected_max_sharpe": sr0 * ann, "dsr": dsr,
            "p_value": 1 - dsr if math.isfinite(dsr) else nan, "p_best_of_noise": p_noise,
            "skew": skew, "kurtosis": kurt, "n": int(n), "n_trials": n_trials,
            "sharpe_std": sd, "periods_per_year": int(periods_per_year)}


def pbo(returns: np.ndarray, *, n_splits: int = 16) -> dict[str, Any]:
    """Probability of Backtest Overfitting by combinatorially symmetric cross-validation.

    Bailey, Borwein, Lopez de Prado & Zhu (2017): the T periods are cut into ``n_splits``
    consecutive groups; every choice of half the groups is an in-sample set (IS) and the rest its
    out-of-sample set (OOS). For each, the strategy with the best IS Sharpe ratio is ranked OOS;
    ``logit = log(w / (1 - w))`` with ``w`` its relative OOS rank in (0, 1). PBO is the share of
    splits where ``logit <= 0`` (the IS winner is at or below the OOS median).

    Parameters
    ----------
    returns
        Shape (T, K): per-period returns of the K strategies of the grid (K >= 2).
    n_splits
        Even number of groups S (>= 2); C(S, S/2) splits are evaluated (12870 for 16).

    Returns
    -------
    dict
        ``pbo``, ``logits`` (one per split), ``degradation_slope`` and ``degradation_intercept``
        (OLS of the OOS Sharpe of the IS winner on its IS Sharpe, per-period units),
        ``p_oos_loss`` (share of splits where the IS winner loses money OOS), ``n_splits``,
        ``n_combinations``, ``n_strategies``, ``n_periods``.
    """
    from scipy import stats

    x = _checks.matrix(returns, "returns", min_rows=4, min_cols=2)
    s = _checks.positive_int(n_splits, "n_splits", minimum=2)
    if s % 2:
        raise _checks.ConfigError(f"n_splits={s}: must be even (half the groups are in-sample)")
    t, k = x.shape
    if t < 2 * s:
        raise _checks.DataError(f"returns: {t} periods for n_splits={s}; need at least {2 * s} "
                                "(two per group) or fewer splits")
    groups = np.array_split(np.arange(t), s)
    cnt = np.array([len(g) for g in groups], dtype=float)             # (S,)
    s1 = np.stack([x[g].sum(axis=0) for g in groups])                 # (S, K)
    s2 = np.stack([(x[g] ** 2).sum(axis=0) for g in groups])
    combos = np.array(list(itertools.combinations(range(s), s // 2)))
    ind = np.zeros((len(combos), s))
    ind[np.arange(len(combos))[:, None], combos] = 1.0

    def sharpe(w: np.ndarray) -> np.ndarray:
        n = (w @ cnt)[:, None]
        m = (w @ s1) / n
        var = ((w @ s2) - n * m ** 2) / (n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(var > 0, m / np.sqrt(np.maximum(var, 0)), 0.0)

    is_sr, oos_sr = sharpe(ind), sharpe(1.0 - ind)                    # (C, K)
    best = is_sr.argmax(axis=1)
    rows = np.arange(len(combos))
    chosen = oos_sr[rows, best]
    ranks = stats.rankdata(oos_sr, axis=1)[rows, best]                # 1..K, ties averaged
    w = ranks / (k + 1)
    logits = np.log(w / (1 - w))
    is_best = is_sr[rows, best]
    if np.ptp(is_best) > 0:
        fit = stats.linregress(is_best, chosen)
        slope, intercept = float(fit.slope), float(fit.intercept)
    else:
        slope = intercept = float("nan")
    return plain({"pbo": float(np.mean(logits <= 0)), "logits": logits,
                  "degradation_slope": slope, "degradation_intercept": intercept,
                  "p_oos_loss": float(np.mean(chosen < 0)), "n_splits": s,
                  "n_combinations": len(combos), "n_strategies": k, "n_periods": t})
