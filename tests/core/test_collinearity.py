"""Near-collinear selected drivers: variance inflation factors, the warning, the report."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from causalfolio.backtest.collinearity import collinear, selected_vif, variance_inflation
from causalfolio.errors import CollinearDriversWarning


def test_vif_matches_statsmodels_and_the_closed_form():
    from statsmodels.stats.outliers_influence import variance_inflation_factor
    from statsmodels.tools import add_constant

    rng = np.random.default_rng(0)
    a, c = rng.normal(size=300), rng.normal(size=300)
    x = pd.DataFrame({"a": a, "b": a + 0.3 * rng.normal(size=300), "c": c})
    got = variance_inflation(x)
    exog = add_constant(x.to_numpy())
    want = [variance_inflation_factor(exog, j) for j in range(1, 4)]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-10)
    # two columns: VIF = 1 / (1 - r^2) for both
    r = np.corrcoef(x["a"], x["c"])[0, 1]
    np.testing.assert_allclose(variance_inflation(x[["a", "c"]]).to_numpy(),
                               [1 / (1 - r**2)] * 2, rtol=1e-10)
    assert got["b"] > 10 and got["c"] < 1.1
    # an exact copy: infinite, stored as "inf" (JSON has no infinity); a constant: undefined
    x["d"], x["e"] = x["a"] * 2.0, 1.0
    v = variance_inflation(x)
    assert np.isinf(v["a"]) and np.isinf(v["d"]) and np.isnan(v["e"])
    stored = selected_vif(x, ["a", "d", "c", "e"], window=300)
    assert stored["a"] == "inf" and "e" not in stored
    assert [k for k, _ in collinear(stored)] == ["a", "d"]


def test_near_collinear_selection_warns_and_the_report_says_which(tmp_path):
    from causalfolio.backtest import BacktestConfig, run_backtest, write_run
    from causalfolio.data import Market, synthetic_market
    from causalfolio.report.html import collinear_warning, load_rebalances

    m = synthetic_market(n_assets=5, n_days=260, n_noise=2, seed=4)
    rng = np.random.default_rng(1)
    strongest = m.candidates.columns[0]
    c = m.candidates.copy()
    c["TWIN"] = c[strongest] + 0.05 * c[strongest].std() * rng.normal(size=len(c))
    market = Market(assets=m.assets, candidates=c)
    config = BacktestConfig(driver_window=60, train_window=60, cov_window=40,
                            start="2015-10-01")
    spec = f"rccp(k=2,exclude={[n for n in c.columns if n not in (strongest, 'TWIN')]})" \
           "|linear|beta|static|hsp"
    with pytest.warns(CollinearDriversWarning, match=r"near-collinear.*TWIN \(VIF \d+"):
        res = run_backtest(market, [spec], config, benchmarks=["equal"])
    recs = load_rebalances(write_run(res, tmp_path / "run"))  # the VIFs are in the run folder
    label = next(k for k in recs if "|" in k)
    said = collinear_warning(label, recs[label])  # the report's warning paragraph
    assert said is not None and "TWIN (VIF" in said and strongest in said
    # independent drivers: no warning
    spec = "rccp(k=2)|linear|beta|static|hsp"
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollinearDriversWarning)
        run_backtest(m, [spec], config)
