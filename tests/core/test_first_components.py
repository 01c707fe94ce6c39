"""The foundation's built-in components against known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causalfolio as cf
from causalfolio.errors import ConfigError, DataError
from causalfolio.plugins.drivers.rccp import rank_candidates, rccp_scores
from causalfolio.stages import MappingInputs


def test_rccp_worked_example_of_the_spec():
    # SPEC §1a / monograph Algorithm 1: rows X1..X4, eps = 0.5, k = 2
    c = np.array([[0.6, 0.4, 0.3], [0.8, 0.7, 0.5], [0.2, 0.6, 0.4], [0.9, 0.8, 0.7]])
    rep, strength, _ = rccp_scores(c, 0.5)
    assert rep.tolist() == [1, 3, 1, 3]
    assert np.allclose(strength, [0.6, 2.0, 0.6, 2.4])
    order = rank_candidates(rep, strength, ["X1", "X2", "X3", "X4"])
    assert [f"X{i + 1}" for i in order] == ["X4", "X2", "X1", "X3"]


def test_rccp_component_finds_contemporaneous_common_drivers(default_market):
    m, t = default_market, default_market.truth
    sel = cf.parse_spec("rccp(k=2)|linear|beta|static|hsp").drivers.select(
        m.assets.iloc[-250:], m.candidates.iloc[-250:], seed=0)
    lag0 = {d for d in t.common if t.lags[d] == 0}
    # each pick is a lag-0 common driver, its proxy or a collider: never noise
    for name in sel.names:
        assert name in lag0 or t.proxy_of.get(name) in lag0 or t.labels[name] == "collider"
    assert sel.scores.loc[list(sel.names), "repeatedness"].min() == 14


def test_linear_recovers_betas_of_a_linear_truth():
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2020-01-01", periods=400)
    x = pd.DataFrame(rng.normal(0, 0.01, (400, 2)), index=idx, columns=["d1", "d2"])
    b = np.array([[1.0, -0.5], [0.3, 2.0], [0.0, 1.0]])
    y = pd.DataFrame(x.to_numpy() @ b.T + 0.002 * rng.normal(size=(400, 3)) + 0.001,
                     index=idx, columns=["a", "b", "c"])
    p = cf.parse_spec("rccp(k=2)|linear|beta|static|hsp")
    model = p.dynamics.fit(y, x, window=300, seed=0)
    assert model.inputs == ("d1@0", "d2@0") and len(model.train_index) == 300
    assert np.allclose(model.coefficients(), b, atol=0.05)
    sens = p.sensitivities.extract(model, model.design(x).loc[model.train_index])
    assert sens.series.shape == (300, 3, 2)
    assert np.allclose(sens.aggregate, model.coefficients())
    dist = np.linalg.norm(sens.aggregate[:, None] - sens.aggregate[None], axis=2)
    assert np.allclose(sens.distance, dist)


def test_linear_errors():
    idx = pd.bdate_range("2020-01-01", periods=50)
    x = pd.DataFrame(np.random.default_rng(1).normal(size=(50, 1)), index=idx, columns=["d"])
    y = pd.DataFrame({"a": x["d"] * 2, "flat": 0.01}, index=idx)
    lin = cf.parse_spec("rccp|linear(lags=[0,1])|beta|static|hsp").dynamics
    with pytest.raises(DataError, match="needs 60 samples after lags"):
        lin.fit(y[["a"]], x, window=60, seed=0)
    with pytest.raises(DataError, match="'flat' has a constant return"):
        lin.fit(y, x, window=40, seed=0)


def test_beta_needs_a_linear_model():
    class NotLinear:
        def coefficients(self):
            return None

    beta = cf.parse_spec("rccp|linear|beta|static|hsp").sensitivities
    with pytest.raises(ConfigError, match="use 'aad' for neural nets or 'fd'"):
        beta.per_sample(NotLinear(), np.zeros((3, 2)))


def _inputs(cov, dist=None, bounds=(0.0, 1.0)):
    n = len(cov)
    rng = np.random.default_rng(0)
    # returns with exactly this sample covariance
    z = rng.normal(size=(200, n))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    r = z @ np.linalg.cholesky(cov).T
    assets = tuple(f"a{i}" for i in range(n))
    return MappingInputs(date=pd.Timestamp("2021-01-01"), assets=assets,
                         returns=pd.DataFrame(r, columns=list(assets)),
                         distance=dist if dist is not None else np.zeros((n, n)),
                         bounds=bounds)


def test_two_assets_get_inverse_variance_weights():
    cov = np.array([[0.04, 0.01], [0.01, 0.01]])
    for spec in ("hrp", "rccp|linear|beta|static|hsp"):
        mapping = cf.parse_spec(spec).mapping
        w = mapping.allocate(_inputs(cov, np.array([[0, 1.0], [1.0, 0]]))).weights
        # alpha_1 = 1 - V1 / (V1 + V2) with V = the variances: 0.01 / 0.05 = 0.2
        assert np.allclose(w.to_numpy(), [0.2, 0.8])


def test_hsp_clusters_on_sensitivities_not_correlations():
    # assets 0,1 close in sensitivity space, 2,3 close; equal variances, no correlation
    cov = np.diag([0.01, 0.04, 0.01, 0.04])
    s = np.array([[0.0], [0.1], [5.0], [5.1]])
    dist = np.abs(s - s.T)
    # psd=False: the nearest-PSD replacement of this hollow two-cluster matrix keeps only its
    # positive (all-ones-like) eigenvector, so the columns become nearly equal and the cluster
    # contrast (carried by the negative eigenvalue) is lost.
    hsp = cf.parse_spec("rccp|linear|beta|static|hsp(psd=False)").mapping
    res = hsp.allocate(_inputs(cov, dist))
    order = res.diagnostics["order"]
    assert {frozenset(order[:2]), frozenset(order[2:])} == {frozenset({"a0", "a1"}),
                                                            frozenset({"a2", "a3"})}
    # inside each pair inverse variance (0.8/0.2); the pairs have equal variance: 1/2 each
    assert np.allclose(res.weights.to_numpy(), [0.4, 0.1, 0.4, 0.1])


def test_hierarchical_bounds_hold_inside_the_bisection():
    cov = np.diag([0.001, 0.04, 0.05, 0.06, 0.07])
    res = cf.parse_spec("hrp").mapping.allocate(_inputs(cov, bounds=(0.1, 0.3)))
    w = res.weights.to_numpy()
    assert np.isclose(w.sum(), 1) and w.min() >= 0.1 - 1e-12 and w.max() <= 0.3 + 1e-12
    assert np.isclose(w[0], 0.3)


def test_equal_weights():
    w = cf.parse_spec("equal").mapping.allocate(_inputs(np.eye(4) * 0.01)).weights
    assert np.allclose(w, 0.25)
