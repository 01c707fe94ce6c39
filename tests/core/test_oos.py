"""Out-of-sample quantities per rebalance (issue #21 item 2): predicted vs realised risk, tree
stability, sensitivity error against the truth; stored in the run folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import cut_tree, linkage
from sklearn.metrics import adjusted_rand_score

from causalfolio.backtest import BacktestConfig, run_backtest, write_run
from causalfolio.backtest.oos import COLUMNS, adjusted_rand, tree_ari, tree_cuts

CFG = dict(driver_window=60, train_window=60, cov_window=40, start="2015-07-01")


@pytest.fixture(scope="module")
def run(small_market):
    t = small_market.truth
    true = ",".join(repr(d) for d in t.common)
    noise = ",".join(repr(d) for d in t.of_label("noise")[:2])
    specs = [f"fixed(names=[{true}])|linear(lags=[0,1])|beta|static|hsp",
             f"fixed(names=[{noise}])|linear|beta|static|hsp"]
    return run_backtest(small_market, specs, BacktestConfig(**CFG), benchmarks=["hrp"]), specs


def test_adjusted_rand_and_tree_cuts_match_scikit_learn_and_scipy():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(2, 25))
        a, b = rng.integers(0, 4, n), rng.integers(0, int(rng.integers(1, 5)), n)
        assert adjusted_rand(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    for n in (3, 9, 20):
        z = linkage(rng.normal(size=(n, 2)), "single")
        for k in range(1, n + 1):
            assert adjusted_rand(tree_cuts(z)[:, k - 1], cut_tree(z, n_clusters=k).ravel()) == 1
    tree = {"assets": list("abcdef"), "linkage": linkage(rng.normal(size=(6, 2)))}
    assert tree_ari(tree, tree) == 1.0 and np.isnan(tree_ari(None, tree))


def test_realised_and_predicted_risk_per_holding_period(run, small_market):
    res, specs = run
    s = res.strategies[specs[0]]
    o = s.oos
    assert list(o.columns) == list(COLUMNS) and o.index.equals(s.weights.index)
    cal = small_market.dates
    k = 2
    i0, i1 = cal.get_loc(o.index[k]), cal.get_loc(o.index[k + 1])
    held = small_market.assets.iloc[i0:i1].to_numpy() @ s.weights.iloc[k].to_numpy()
    assert o["days"].iloc[k] == i1 - i0
    assert o["realised_vol"].iloc[k] == pytest.approx(held.std(ddof=1) * np.sqrt(252))
    # the sample prediction is Table 1's portfolio sample volatility (same window), annualised
    table1 = s.rebalances[k].risk["portfolio"]
    assert o["predicted_vol_sample"].iloc[k] == pytest.approx(
        table1["sample_volatility"] * np.sqrt(252), rel=1e-9)
    assert o["predicted_vol_model"].iloc[k] == pytest.approx(
        table1["model_volatility"] * np.sqrt(252), rel=1e-9)
    assert (o["bias_sample"] == o["realised_vol"] - o["predicted_vol_sample"]).all()
    np.testing.assert_allclose(o["log_ratio_model"],
                               np.log(o["realised_vol"] / o["predicted_vol_model"]))
    assert o["turnover"].equals(s.turnover.rename("turnover"))
    assert np.isnan(o["tree_ari"].iloc[0]) and o["tree_ari"].iloc[1:].between(-1, 1).all()
    hrp = res.strategies["hrp"].oos
    assert hrp["predicted_vol_sample"].notna().all() and hrp["predicted_vol_model"].isna().all()
    assert hrp["sens_rmse"].isna().all()


def test_sensitivity_error_against_the_true_paths(run, small_market):
    res, specs = run
    t = small_market.truth
    true_run, noise_run = (res.strategies[sp] for sp in specs)
    # inputs that are not true drivers at their true lag have true sensitivity 0: the error is
    # the RMS of what the pipeline handed over
    for k, rb in enumerate(noise_run.rebalances):
        assert noise_run.oos["sens_true_inputs"].iloc[k] == 0
        assert noise_run.oos["sens_rmse"].iloc[k] == pytest.approx(
            np.sqrt(np.mean(rb.sensitivities.aggregate ** 2)))
    # the true drivers at lags 0 and 1: half the inputs are true, and the error is far smaller
    # than the truth's own scale
    assert (true_run.oos["sens_true_inputs"] == len(t.common)).all()
    scale = np.sqrt(np.mean(t.sensitivities ** 2))
    assert true_run.oos["sens_rmse"].median() < 0.5 * scale


def test_the_run_folder_holds_them(run, tmp_path):
    res, specs = run
    out = write_run(res, tmp_path / "r")
    files = sorted(p.name for p in (out / "oos").iterdir())
    assert len(files) == 3
    back = pd.read_csv(out / "oos" / files[0], index_col="date", parse_dates=["date"])
    assert list(back.columns) == list(COLUMNS) and len(back) == len(res.dates)
