"""Bootstrap replicas of one market are not independent markets: the replica-aware interval
covers the truth at its nominal rate, the paired t over replicas (sqrt(R) too narrow) does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causalfolio import evidence as ev
from causalfolio.ablation.evidence import analyse_study, replica_zero


def _replica_means(rng: np.random.Generator, n_rep: int, t: int = 250, mu=(0.1, 0.0)):
    """Mean return of two correlated strategies on one path and on its stationary-bootstrap
    replicas (arch indices), replica 0 = the path itself."""
    from arch.bootstrap import StationaryBootstrap

    z = rng.standard_normal((t, 2))
    x = mu[0] + z[:, 0]
    y = mu[1] + 0.6 * z[:, 0] + 0.8 * z[:, 1]
    bs = StationaryBootstrap(10, np.arange(t), seed=int(rng.integers(2**31)))
    idx = [np.arange(t)] + [data[0][0] for data, _ in zip(bs.bootstrap(n_rep - 1),
                                                           range(n_rep - 1), strict=False)]
    return np.array([x[i].mean() for i in idx]), np.array([y[i].mean() for i in idx])


def test_replica_interval_covers_and_paired_t_over_replicas_does_not():
    rng = np.random.default_rng(7)
    truth = 0.1
    hits_rep = hits_t = 0
    n_sim = 300
    for _ in range(n_sim):
        xs, ys = _replica_means(rng, 40)
        r = ev.paired_over_replicas(xs, ys)
        hits_rep += r.ci_low <= truth <= r.ci_high
        t = ev.paired_over_markets(xs, ys)
        hits_t += t.ci_low <= truth <= t.ci_high
    assert 0.90 <= hits_rep / n_sim <= 0.985  # nominal 95% (R = 40 replicas, iid returns)
    assert hits_t / n_sim < 0.5  # sqrt(40) too narrow


def test_replica_result_known_answers():
    x = np.array([1.0, 0.5, 1.5, 1.0, 2.0])
    y = np.zeros(5)
    r = ev.paired_over_replicas(x, y)
    se = np.std(x, ddof=1)
    assert r.estimate == 1.0 and r.method == "bootstrap-replicas"
    from scipy import stats

    q = stats.t.ppf(0.975, 4)  # se from 5 replicas: t with 4 degrees of freedom
    assert r.ci_low == pytest.approx(1.0 - q * se)
    assert r.ci_high == pytest.approx(1.0 + q * se)
    assert r.p_value == pytest.approx(2 * stats.t.sf(1.0 / se, 4))
    z = ev.paired_over_replicas(np.ones(4), np.ones(4))
    assert (z.estimate, z.p_value) == (0.0, 1.0)
    missing = ev.paired_over_replicas(np.array([np.nan, 1.0, 2.0]), np.zeros(3))
    assert np.isnan(missing.estimate)


def _study_table(markets, replica: bool):
    rows = []
    rng = np.random.default_rng(0)
    for i, m in enumerate(markets):
        for cid, lab, bench, sh in (("r", "equal", True, 1.0), ("a", "hsp", False, 1.2)):
            row = {"market": m, "id": cid, "label": lab, "benchmark": bench, "status": "ok",
                   "identical_to": None, "sharpe": sh + 0.1 * rng.standard_normal(),
                   "annual_volatility": 0.2, "max_drawdown": -0.1, "turnover": 0.1}
            if replica:
                row["market.replica"] = i
            rows.append(row)
    return pd.DataFrame(rows)


def test_the_study_uses_the_replica_interval_for_resampled_data():
    markets = [f"replica={i}" for i in range(10)]
    days = pd.bdate_range("2020-01-01", periods=60)
    rng = np.random.default_rng(1)
    returns = {m: pd.DataFrame(rng.normal(0, 0.01, (60, 2)), index=days, columns=["r", "a"])
               for m in markets}
    rep = _study_table(markets, replica=True)
    assert replica_zero(rep) == "replica=0"
    ind = _study_table(markets, replica=False).rename(columns={})
    assert replica_zero(ind) is None
    e_rep = analyse_study(rep, returns, reference="equal", factors=[], n_boot=50)
    e_ind = analyse_study(ind, returns, reference="equal", factors=[], n_boot=50)
    c_rep = e_rep.comparisons.set_index("metric").loc["sharpe"]
    c_ind = e_ind.comparisons.set_index("metric").loc["sharpe"]
    assert c_rep["method"] == "bootstrap-replicas" and c_ind["method"] == "paired-t"
    d = (rep[rep.id == "a"]["sharpe"].to_numpy() - rep[rep.id == "r"]["sharpe"].to_numpy())
    assert c_rep["diff"] == pytest.approx(d[0])  # the data, not the replica mean
    assert c_rep["ci_high"] - c_rep["ci_low"] == pytest.approx(
        2 * 2.2621571627409915 * d.std(ddof=1))  # t quantile, 9 degrees of freedom
    # the paired t over the same numbers is about sqrt(10)/2.26 times narrower
    assert (c_ind["ci_high"] - c_ind["ci_low"]) < 0.6 * (c_rep["ci_high"] - c_rep["ci_low"])
    assert "replicas" in e_rep.evidence["settings"]["comparisons"]


def _replicated_study(n_rep: int = 6, t: int = 120, datasets=("data",)):
    """Three arms (reference 'r', pipelines 'a', 'b') on each dataset's path (replica 0) and on
    ``n_rep - 1`` replicas whose returns differ (a large edge of 'a' on the replicas only)."""
    rng = np.random.default_rng(3)
    rows, returns = [], {}
    days = pd.bdate_range("2020-01-01", periods=t)
    for name in datasets:
        for i in range(n_rep):
            m = f"{name},replica={i}" if len(datasets) > 1 else f"replica={i}"
            r = pd.DataFrame(rng.normal(0.0002, 0.01, (t, 3)), index=days,
                             columns=["r", "a", "b"])
            if i > 0:
                r["a"] += 0.01  # only the replicas: pooling them would find it everywhere
            returns[m] = r
            for cid, bench in (("r", True), ("a", False), ("b", False)):
                x = r[cid]
                rows.append({"market": m, "market.dataset": name, "market.replica": i,
                             "market.block_days": 4, "market.resample": "stationary",
                             "id": cid, "label": cid, "benchmark": bench, "status": "ok",
                             "identical_to": None, "mapping": cid,
                             "sharpe": x.mean() / x.std() * np.sqrt(252),
                             "annual_volatility": x.std() * np.sqrt(252),
                             "max_drawdown": ev.max_drawdown(x.to_numpy()), "turnover": 0.1})
    table = pd.DataFrame(rows)
    if len(datasets) == 1:
        table = table.drop(columns="market.dataset")
    return table, returns


def test_grid_tests_run_on_the_data_path_not_on_pooled_replicas():
    table, returns = _replicated_study()
    res = analyse_study(table, returns, reference="r", factors=[], n_boot=99)
    e = res.evidence
    # volatility: the EWC interval on the data path (the replicas' spread under-covers)
    vol = res.comparisons.set_index(["label", "metric"]).loc[("a", "annual_volatility")]
    d0 = returns["replica=0"]
    assert vol["method"] == "ewc-log-variance" and vol["n_markets"] == 1
    assert vol["diff"] == pytest.approx((d0["a"].std() - d0["r"].std()) * np.sqrt(252))
    g = e["settings"]["grid_tests"]
    assert g["n_markets"] == 1 and g["n_periods"] == 120 and g["days_per_market"] == [120]
    assert g["block_days"] == 4 == e["settings"]["block_days"]  # the resampling's block
    assert g["replicas_not_used"] == 5 and "replica 0" in g["unit"]
    for test in ("spa", "stepm", "mcs", "dsr", "pbo"):
        assert "unit" in e[test], test
    assert e["spa"]["n_periods"] == 120 and e["dsr"]["n"] == 120
    assert e["pbo"]["n_periods"] == 120
    # the replicas' planted edge of 'a' is invisible: only the data path is tested
    assert e["stepm"]["superior"] == [] and e["spa"]["pvalues"]["consistent"] > 0.05
    # and the result is that of the data path alone
    only = table[table["market"] == "replica=0"].drop(columns=["market.replica"])
    e0 = analyse_study(only, {"replica=0": returns["replica=0"]}, reference="r", factors=[],
                       n_boot=99, block_days=4).evidence
    assert e["spa"]["pvalues"] == e0["spa"]["pvalues"] and e["mcs"]["included"] == e0[
        "mcs"]["included"]
    assert e["dsr"]["dsr"] == pytest.approx(e0["dsr"]["dsr"])


def test_several_datasets_tested_apart_and_combined_by_holm():
    table, returns = _replicated_study(n_rep=4, datasets=("us", "eu"))
    e = analyse_study(table, returns, reference="r", factors=[], n_boot=99).evidence
    g = e["settings"]["grid_tests"]
    assert g["n_datasets"] == 2 and set(g["per_dataset"]) == {"us,replica=0", "eu,replica=0"}
    per = e["per_dataset"]
    for m0 in per:
        assert per[m0]["settings"]["n_periods"] == 120 and per[m0]["dsr"]["n"] == 120
    p = min(per[m]["spa"]["pvalues"]["consistent"] for m in per)
    assert e["spa"]["pvalues"]["consistent"] == pytest.approx(min(1.0, 2 * p))
    assert "Holm" in e["spa"]["combined"] and e["stepm"]["superior"] == []
    assert per["us,replica=0"]["stepm"]["size"] == pytest.approx(0.025)


def test_several_datasets_comparisons_combine_per_dataset_replica_intervals():
    """Two resampled datasets: not a paired t over their 8 'markets' but each dataset's
    difference on its data with its replicas' spread, averaged over the datasets."""
    from scipy import stats

    table, returns = _replicated_study(n_rep=4, datasets=("us", "eu"))
    res = analyse_study(table, returns, reference="r", factors=[], n_boot=99)
    row = res.comparisons.set_index(["label", "metric"]).loc[("b", "sharpe")]
    assert row["method"] == "bootstrap-replicas-datasets" and row["n_markets"] == 2
    wide = table.pivot(index="market", columns="id", values="sharpe")
    est, ses = [], []
    for name in ("us", "eu"):
        d = (wide["b"] - wide["r"])[[f"{name},replica={i}" for i in range(4)]]
        est.append(d.iloc[0])
        ses.append(d.std(ddof=1))
    se = np.sqrt(np.sum(np.square(ses))) / 2
    assert row["diff"] == pytest.approx(np.mean(est))
    assert row["ci_high"] - row["diff"] == pytest.approx(stats.t.ppf(0.975, 3) * se)
    assert "mean over datasets" in res.evidence["settings"]["comparisons"]
