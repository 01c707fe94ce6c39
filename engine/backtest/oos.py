"""Out-of-sample quantities per rebalance: is the risk the pipeline predicted the risk it got, do
its sensitivities match the truth, and how stable is its allocation (issue #21 item 2).

One row per rebalance date tau of a strategy, about the holding period [tau, next rebalance):

======================  ===========================================================================
``days``                trading days held
``realised_vol``        annualised sd of the daily returns of the target weights held fixed
                        (an asset without a return that day counts as cash at 0)
``predicted_vol_sample`` the chosen weights' volatility under the sample covariance of the
                        mapping's covariance window before tau (as the Table 1
                        ``portfolio.sample_volatility``), annualised; every strategy
``predicted_vol_model`` the same under the pipeline's implied covariance B Sigma_D B' +
                        diag(Sigma_res) (``portfolio.model_volatility``; pipelines with drivers)
``bias_sample``,        realised - predicted (annualised volatility; > 0: risk under-forecast)
``bias_model``
``log_ratio_sample``,   log(realised / predicted)
``log_ratio_model``
``turnover``            one-way turnover at tau
``tree_ari``            adjusted Rand index of the cluster tree at tau against the previous one,
                        averaged over the cuts into 2..N-1 clusters (at most 20 cuts, evenly
                        spaced) on the assets both trees hold; hierarchical mappings only
``sens_rmse``           synthetic markets only: RMS error of the sensitivities the pipeline
                        handed to stage 5 (forecast paths averaged over paths and horizon, else
                        the aggregate) against the true mean sensitivity over the holding period;
                        an input that is not a true driver at its true lag has true sensitivity 0
``sens_true_inputs``    how many of the pipeline's inputs are true drivers at their true lags
======================  ===========================================================================

Missing quantities are NaN (a benchmark has no model volatility or sensitivities; diagnostics
turned off leave no model volatility).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ANNUAL = np.sqrt(252.0)
COLUMNS = ("days", "realised_vol", "predicted_vol_sample", "predicted_vol_model", "bias_sample",
           "bias_model", "log_ratio_sample", "log_ratio_model", "turnover", "tree_ari",
           "sens_rmse", "sens_true_inputs")
MAX_CUTS = 20


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) of two labelings of the same items, 1.0 when
    both are trivial (one cluster, or all singletons); equals scikit-learn's
    ``adjusted_rand_score`` (tested), without its per-call validation cost."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    n = len(ia)
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1.0)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1.0)).sum() / 2.0)

    index = pairs(table)
    sa, sb = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = sa * sb / (n * (n - 1) / 2.0) if n > 1 else 0.0
    top = (sa + sb) / 2.0
    return 1.0 if top == expected else (index - expected) / (top - expected)


def tree_cuts(linkage: Any) -> np.ndarray:
    """(N, N) cluster labels of a scipy linkage tree's N leaves: column k - 1 cuts it into k
    clusters by undoing its last k - 1 merges (as ``scipy.cluster.hierarchy.cut_tree``)."""
    z = np.asarray(linkage, dtype=float)
    n = len(z) + 1
    lab = np.arange(n)
    out: np.ndarray = np.empty((n, n), dtype=int)
    out[:, n - 1] = lab
    for m, (a, b) in enumerate(z[:, :2].astype(int)):
        lab = np.where((lab == a) | (lab == b), n + m, lab)
        out[:, n - 2 - m] = lab
    return out


def tree_ari(prev: dict[str, Any] | None, cur: dict[str, Any] | None,
             cache: dict[int, np.ndarray] | None = None) -> float:
    """Mean adjusted Rand index between two cluster trees (allocation diagnostics holding
    ``assets`` and a scipy ``linkage``): each tree is cut into k clusters, k = 2..N-1 (at most
    :data:`MAX_CUTS` values, evenly spaced; N the assets both hold), and the cuts are compared on
    the shared assets. NaN when either has no tree or fewer than 3 assets are shared.
    ``cache`` (id of a tree -> its :func:`tree_cuts`) saves recutting a tree compared twice."""
    if not prev or not cur or "linkage" not in prev or "linkage" not in cur:
        return float("nan")
    shared = set(prev["assets"])
    common = [a for a in cur["assets"] if a in shared]
    n = len(common)
    if n < 3:
        return float("nan")
    ks = np.unique(np.linspace(2, n - 1, num=min(MAX_CUTS, n - 2)).round().astype(int))
    cache = {} if cache is None else cache
    cuts = []
    for tree in (prev, cur):
        if id(tree) not in cache:
            cache[id(tree)] = tree_cuts(tree["linkage"])
        pos = {a: i for i, a in enumerate(tree["assets"])}
        cuts.append(cache[id(tree)][[pos[a] for a in common]][:, ks - 1])
    return float(np.mean([adjusted_rand(cuts[0][:, c], cuts[1][:, c])
                          for c in range(len(ks))]))


def _handed_sensitivities(res: Any) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]] | None:
    sens = res.sensitivities
    if sens is None:
        return None
    values = np.asarray(sens.aggregate, dtype=float)
    paths = getattr(res.forecast, "paths", None)
    if paths is not None and np.ndim(paths) == 4 and np.shape(paths)[2:] == values.shape:
        values = np.asarray(paths, dtype=float).mean(axis=(0, 1))
    return values, tuple(sens.assets), tuple(sens.inputs)


def _sens_error(res: Any, truth: Any, days: np.ndarray) -> tuple[float, float]:
    handed = _handed_sensitivities(res)
    if handed is None or truth is None or getattr(truth, "sensitivities", None) is None:
        return float("nan"), float("nan")
    values, assets, inputs = handed
    true_paths = np.asarray(truth.sensitivities)[days]  # (D, N_all, K)
    col = {f"{d}@{truth.lags[d]}": j for j, d in enumerate(truth.common)}
    row = {a: i for i, a in enumerate(truth.assets)}
    target = np.zeros_like(values)
    for j, name in enumerate(inputs):
        if name in col:
            target[:, j] = [true_paths[:, row[a], col[name]].mean() for a in assets]
    err = float(np.sqrt(np.mean((values - target) ** 2))) if values.size else float("nan")
    return err, float(sum(name in col for name in inputs))


def _portfolio_vol(risk: dict[str, Any], key: str) -> float:
    v = (risk or {}).get("portfolio", {}).get(key)
    return float(v) * ANNUAL if v is not None else float("nan")


def _sample_vol(r: np.ndarray, w: np.ndarray) -> float:
    """Annualised volatility of weights ``w`` under the sample covariance of the rows of ``r``
    without a NaN among the held assets (as ``portfolio.sample_volatility`` of Table 1)."""
    held = w != 0
    x = r[:, held]
    x = x[np.isfinite(x).all(axis=1)]
    if len(x) < 2:
        return float("nan")
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    return float(np.sqrt(max(w[held] @ cov @ w[held], 0.0))) * ANNUAL


def out_of_sample(strategy: Any, market: Any, cov_window: int) -> pd.DataFrame:
    """Out-of-sample quantities of one strategy (a :class:`StrategyResult`), one row per
    rebalance date (see the module docstring for the columns); ``cov_window`` is the covariance
    window (trading days before each rebalance) of its risk mapping."""
    weights = strategy.weights
    cal = market.dates
    starts = cal.get_indexer(weights.index)
    end = cal.get_indexer([strategy.returns.index[-1]])[0] + 1
    stops: np.ndarray = np.append(starts[1:], end)
    r = market.assets.reindex(columns=weights.columns).to_numpy(dtype=float)
    truth = getattr(market, "truth", None)
    rows = []
    prev_tree = None
    cuts: dict[int, np.ndarray] = {}  # trees alive in this loop only: ids are not reused
    for k, res in enumerate(strategy.rebalances):
        i0, i1 = int(starts[k]), int(stops[k])
        held = np.nan_to_num(r[i0:i1]) @ weights.iloc[k].to_numpy(dtype=float)
        realised = float(held.std(ddof=1)) * ANNUAL if len(held) > 1 else float("nan")
        w = weights.iloc[k].to_numpy(dtype=float)
        pred = {"sample": _sample_vol(r[max(0, i0 - cov_window):i0], w),
                "model": _portfolio_vol(res.risk, "model_volatility")}
        row: dict[str, Any] = {"days": i1 - i0, "realised_vol": realised,
                               "predicted_vol_sample": pred["sample"],
                               "predicted_vol_model": pred["model"]}
        for s, p in pred.items():
            row[f"bias_{s}"] = realised - p
            ok = p > 0 and realised > 0
            row[f"log_ratio_{s}"] = float(np.log(realised / p)) if ok else float("nan")
        row["turnover"] = float(strategy.turnover.iloc[k])
        tree = res.allocation.diagnostics if res.allocation is not None else None
        row["tree_ari"] = tree_ari(prev_tree, tree, cuts) if k else float("nan")
        prev_tree = tree
        row["sens_rmse"], row["sens_true_inputs"] = _sens_error(res, truth, np.arange(i0, i1))
        rows.append(row)
    frame = pd.DataFrame(rows, index=weights.index, columns=list(COLUMNS))
    frame.index.name = "date"
    return frame
