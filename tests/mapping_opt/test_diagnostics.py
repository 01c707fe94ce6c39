"""causalfolio.diagnostics.mapping_diagnostics: Table 1 quantities against direct computation
and exact identities."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mapopt_helpers import make_inputs, ols_betas

from causalfolio import DataError
from causalfolio.diagnostics import driver_inputs, mapping_diagnostics


@pytest.fixture(scope="module")
def linear_world():
    """Two drivers, driver D1 acting at lag 1; B estimated by OLS on the same window."""
    rng = np.random.default_rng(0)
    t = 150
    idx = pd.bdate_range("2020-01-01", periods=t)
    d = pd.DataFrame(rng.normal(0, 0.01, (t, 2)), index=idx, columns=["D0", "D1"])
    x = np.column_stack([d["D0"], d["D1"].shift(1)])
    b_true = np.array([[1.0, 0.5], [0.2, 1.5], [0.8, -0.4], [1.2, 1.0]])
    r = x @ b_true.T + rng.normal(0, 0.004, (t, 4))
    r = pd.DataFrame(r, index=idx, columns=["A", "B", "C", "E"]).iloc[1:]
    b = ols_betas(r.to_numpy(), x[1:])
    return make_inputs(r, points=b, driver_returns=d, inputs_names=["D0@0", "D1@1"])


def test_lagged_inputs_are_aligned(linear_world):
    x, r, b, names = driver_inputs(linear_world)
    d = linear_world.driver_returns
    assert names == ["D0@0", "D1@1"]
    # row k of x is date k+1 of the drivers for D0 and date k for D1 (one day earlier)
    np.testing.assert_array_equal(x[:, 1], d["D1"].to_numpy()[:-1][-len(x):])
    np.testing.assert_array_equal(x[:, 0], d["D0"].to_numpy()[-len(x):])


def test_covariance_identity_with_ols_betas(linear_world):
    w = np.array([0.1, 0.2, 0.3, 0.4])
    out = mapping_diagnostics(linear_world, w, residual="full")
    # OLS residuals are orthogonal to the inputs: Sigma = B Sigma_D B' + Sigma_e exactly
    assert out["covariance"]["relative_error"] < 1e-12
    assert out["portfolio"]["model_volatility"] == pytest.approx(
        out["portfolio"]["sample_volatility"], rel=1e-10)
    diag = mapping_diagnostics(linear_world, w)
    assert 0 < diag["covariance"]["relative_error"] < 0.2
    assert 0.5 < diag["portfolio"]["explained_share"] < 1.0


def test_table1_quantities_by_direct_computation(linear_world):
    w = pd.Series([0.4, 0.3, 0.2, 0.1], index=["A", "B", "C", "E"])
    out = mapping_diagnostics(linear_world, w[::-1])  # a Series is reindexed to the assets
    x, _, b, names = driver_inputs(linear_world)
    cov_d = np.cov(x, rowvar=False)
    wv = w.to_numpy()
    for i, a in enumerate(["A", "B", "C", "E"]):
        assert out["assets"][a]["implied_volatility"] == pytest.approx(
            np.sqrt(b[i] @ cov_d @ b[i]), rel=1e-12)
        assert out["assets"][a]["expected_return"] == pytest.approx(b[i] @ x.mean(axis=0),
                                                                    rel=1e-12)
    for j, n in enumerate(names):
        assert out["attribution"][n] == pytest.approx(
            sum(wv[i] * b[i, j] for i in range(4)) * np.sqrt(cov_d[j, j]), rel=1e-12)
    forecast = {"D0@0": 0.001, "D1@1": -0.002}
    out2 = mapping_diagnostics(linear_world, wv, driver_forecast=forecast)
    assert out2["portfolio"]["expected_return"] == pytest.approx(
        wv @ b @ np.array([0.001, -0.002]), rel=1e-12)
    json.dumps(out2)  # JSON-serialisable


def test_benchmark_and_bad_input(linear_world):
    bench = make_inputs(linear_world.returns)
    out = mapping_diagnostics(bench, np.full(4, 0.25))
    assert out["available"] is False and out["portfolio"]["sample_volatility"] > 0
    json.dumps(out)
    with pytest.raises(DataError, match="4 finite numbers"):
        mapping_diagnostics(linear_world, np.ones(3) / 3)
    with pytest.raises(DataError, match="unknown inputs"):
        mapping_diagnostics(linear_world, np.full(4, 0.25), driver_forecast={"Z@0": 0.1})
    no_driver = make_inputs(linear_world.returns, points=np.ones((4, 1)),
                            driver_returns=linear_world.driver_returns, inputs_names=["Q@0"])
    with pytest.raises(DataError, match="'Q'"):
        mapping_diagnostics(no_driver, np.full(4, 0.25))


def test_recovers_true_betas_on_the_synthetic_market(truth_inputs, market):
    """With the true drivers and lags, the implied volatility explains most of the variance."""
    out = mapping_diagnostics(truth_inputs, np.full(12, 1 / 12))
    assert out["portfolio"]["explained_share"] > 0.5
    assert out["covariance"]["relative_error"] < 0.5


def test_implied_covariance_known_answers(linear_world):
    """B Sigma_D B' + Sigma_res: exact sample covariance with OLS betas and the full residual;
    with the diagonal residual, the off-diagonal is B Sigma_D B' alone and the diagonal is the
    sample variance (OLS residuals are orthogonal to the inputs)."""
    from causalfolio.diagnostics import implied_covariance

    x, r, b, _ = driver_inputs(linear_world)
    sample = np.cov(r, rowvar=False)
    np.testing.assert_allclose(implied_covariance(linear_world, "full"), sample, atol=1e-15)
    diag = implied_covariance(linear_world)
    factor = b @ np.cov(x, rowvar=False) @ b.T
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(diag[off], factor[off], atol=1e-18)
    np.testing.assert_allclose(np.diag(diag), np.diag(sample), rtol=1e-10)


def test_hsp_bisects_on_the_implied_covariance(linear_world):
    """hsp(covariance='implied') = the same tree bisected on B Sigma_D B' + diag(Sigma_res)."""
    import causalfolio as cf
    from causalfolio.diagnostics import implied_covariance
    from causalfolio.plugins.mapping.hsp import hierarchical_weights

    hsp = cf.parse_spec("rccp|linear|beta|static|hsp(covariance='implied')").mapping
    got = hsp.allocate(linear_world).weights
    assets = list(linear_world.assets)
    order = np.argsort(assets)
    cov = implied_covariance(linear_world)[np.ix_(order, order)]
    dist = linear_world.distance[np.ix_(order, order)]
    want, _ = hierarchical_weights(dist, cov, [assets[i] for i in order], linkage="single",
                                   distance_of_distances=True, optimal=False,
                                   bounds=(np.zeros(4), np.ones(4)))
    np.testing.assert_allclose(got[[assets[i] for i in order]].to_numpy(), want, atol=1e-15)
    sample = cf.parse_spec("rccp|linear|beta|static|hsp").mapping.allocate(linear_world).weights
    assert np.abs(got - sample).max() > 1e-6  # a different covariance gives other weights


def test_implied_covariance_needs_sensitivities(linear_world):
    import attrs

    import causalfolio as cf

    bench = attrs.evolve(linear_world, sensitivities=None)
    hsp = cf.parse_spec("rccp|linear|beta|static|hsp(covariance='implied')").mapping
    with pytest.raises(DataError, match="implied covariance needs sensitivities"):
        hsp.allocate(bench)


def test_implied_covariance_follows_the_inputs_order(linear_world):
    """hsp works in canonical (sorted-name) order: with names whose sort order differs from
    the given order (A9 before A10 as given, after it sorted), the implied covariance must
    follow the permuted assets, and the weights must not depend on the column order."""
    import attrs

    import causalfolio as cf
    from causalfolio.diagnostics import implied_covariance

    names = ["A9", "A10", "A11", "A2"]
    ren = dict(zip(linear_world.assets, names, strict=True))
    sens = attrs.evolve(linear_world.sensitivities, assets=tuple(names))
    inp = attrs.evolve(linear_world, assets=tuple(names),
                       returns=linear_world.returns.rename(columns=ren), sensitivities=sens)
    perm = [3, 0, 1, 2]  # another order of the same assets
    permuted = attrs.evolve(inp, assets=tuple(names[i] for i in perm),
                            returns=inp.returns[[names[i] for i in perm]])
    np.testing.assert_allclose(implied_covariance(permuted),
                               implied_covariance(inp)[np.ix_(perm, perm)], atol=1e-18)
    hsp = cf.parse_spec("rccp|linear|beta|static|hsp(covariance='implied')").mapping
    w = hsp.allocate(inp).weights
    assert w.index.tolist() == names and np.isclose(w.sum(), 1.0)
    bad = attrs.evolve(inp, sensitivities=attrs.evolve(sens, assets=("B0", "A10", "A11", "A2")))
    with pytest.raises(DataError, match="sensitivities are for assets"):
        implied_covariance(bad)
