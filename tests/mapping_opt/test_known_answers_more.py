"""Known answers where the mapping tests used to check only properties (issue 14, item 10):
copula(objective='variance'), kernel/graph(risk='cvar'), manifold(embedding='isomap'),
mvo(covariance='oas') and cvar(scenarios='drivers')."""

from __future__ import annotations

import attrs
import numpy as np
import pandas as pd
import pytest
from mapopt_helpers import DATE, exact_returns, make_inputs

from causalfolio.plugins.mapping.copula import Copula
from causalfolio.plugins.mapping.cvar import Cvar
from causalfolio.plugins.mapping.graph import Graph
from causalfolio.plugins.mapping.kernel import Kernel
from causalfolio.plugins.mapping.manifold import Manifold
from causalfolio.plugins.mapping.mvo import Mvo
from causalfolio.stages import MappingInputs

# --- kernel and graph with risk='cvar' ---------------------------------------------------------

# 100 days; the 5 worst days lose 1..5% and the rest gain, so the empirical CVaR_0.95 (the mean
# of the worst 5% of losses, (1 - alpha) T = 5 days exactly) of s * base is 0.03 s.
_BASE = np.concatenate([np.linspace(0.001, 0.002, 95), -np.arange(1, 6) / 100.0])
_BASE = np.random.default_rng(0).permutation(_BASE)
SCALES = np.array([1.0, 3.0, 1.0, 1.0])  # CVaR 0.03, 0.09, 0.03, 0.03
CVAR = 0.03 * SCALES
# two clusters in sensitivity space: {A0, A1} and {A2, A3}, 50 bandwidths apart
D = np.array([[0, 0, 50, 50], [0, 0, 50, 50], [50, 50, 0, 0], [50, 50, 0, 0]], dtype=float)


def _cvar_inputs():
    idx = pd.bdate_range(end=DATE - pd.Timedelta(days=1), periods=len(_BASE))
    r = pd.DataFrame(np.outer(_BASE, SCALES), index=idx, columns=[f"A{i}" for i in range(4)])
    return MappingInputs(date=DATE, assets=tuple(r.columns), returns=r, distance=D,
                         bounds=(0.0, 1.0), seed=0)


def test_kernel_cvar_smooths_the_cvar_within_each_cluster():
    out = Kernel(risk="cvar", bandwidth=1.0).allocate(_cvar_inputs())
    np.testing.assert_allclose(out.diagnostics["raw_risk"], CVAR, rtol=1e-12)
    # K = 1 inside a cluster, exp(-1250) = 0 across: smoothed CVaR = the cluster mean
    smooth = np.array([0.06, 0.06, 0.03, 0.03])
    expected = (1 / smooth) / (1 / smooth).sum()  # = [1, 1, 2, 2] / 6
    np.testing.assert_allclose(out.weights.to_numpy(), [1 / 6, 1 / 6, 1 / 3, 1 / 3], rtol=1e-12)
    np.testing.assert_allclose(out.weights.to_numpy(), expected, rtol=1e-12)


def test_graph_cvar_propagates_the_cvar_between_neighbours():
    out = Graph(risk="cvar", neighbours=1, bandwidth=1.0, mixing=0.5, steps=500).allocate(
        _cvar_inputs())
    np.testing.assert_allclose(out.diagnostics["raw_risk"], CVAR, rtol=1e-12)
    assert sorted(map(tuple, out.diagnostics["edges"])) == [("A0", "A1"), ("A2", "A3")]
    # fixed point of r = (1 - a) r0 + a P r on a pair (x, y): r_x = (x + a y) / (1 + a)
    a = 0.5
    x, y = CVAR[0], CVAR[1]
    r = np.array([(x + a * y) / (1 + a), (y + a * x) / (1 + a), CVAR[2], CVAR[3]])
    expected = (1 / r) / (1 / r).sum()
    np.testing.assert_allclose(out.weights.to_numpy(), expected, rtol=1e-9)


# --- manifold(embedding='isomap') -------------------------------------------------------------

def test_manifold_isomap_recovers_the_clusters_and_their_parity_weights():
    # three pairs of sensitivity vectors on a line, far apart: Isomap (a connected 5-NN graph
    # on 6 points: geodesic = Euclidean distance) keeps them apart and k-means finds the pairs
    pts = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0], [20.0, 0.0],
                    [20.1, 0.0]])
    sd = np.array([0.010, 0.020, 0.012, 0.015, 0.011, 0.018])
    corr = np.eye(6)
    for i, j in [(0, 1), (2, 3), (4, 5)]:
        corr[i, j] = corr[j, i] = 0.6
    cov = corr * np.outer(sd, sd)
    inputs = make_inputs(exact_returns(np.zeros(6), cov, t=120), points=pts)
    out = Manifold(embedding="isomap", n_clusters=3, neighbours=5).allocate(inputs)
    labels = out.diagnostics["clusters"]
    assert [labels[f"A{i}"] for i in range(6)] == [0, 0, 1, 1, 2, 2]
    # cluster parity by hand: inverse variance inside, 1 / cluster variance across
    w = np.zeros(6)
    inv_var = []
    for idx in ([0, 1], [2, 3], [4, 5]):
        iv = 1 / sd[idx] ** 2
        iv /= iv.sum()
        w[idx] = iv
        inv_var.append(1 / (iv @ cov[np.ix_(idx, idx)] @ iv))
    for c, idx in enumerate(([0, 1], [2, 3], [4, 5])):
        w[idx] *= inv_var[c] / sum(inv_var)
    np.testing.assert_allclose(out.weights.to_numpy(), w, rtol=1e-10)


# --- mvo(covariance='oas') --------------------------------------------------------------------

N = 5
SD = np.array([0.010, 0.012, 0.014, 0.011, 0.013])
COV = (0.2 + 0.8 * np.eye(N)) * np.outer(SD, SD)


def oas_by_hand(r: np.ndarray) -> np.ndarray:
    """Oracle approximating shrinkage (Chen, Wiesel, Eldar & Hero 2010) in scikit-learn's form:
    (1 - s) S + s mu I with S the 1/T covariance, mu = tr(S) / p."""
    t, p = r.shape
    s_mat = np.cov(r, rowvar=False, bias=True)
    mu = np.trace(s_mat) / p
    alpha = np.mean(s_mat**2)
    shrink = min((alpha + mu**2) / ((t + 1) * (alpha - mu**2 / p)), 1.0)
    return (1 - shrink) * s_mat + shrink * mu * np.eye(p)


def test_mvo_oas_is_the_minimum_variance_portfolio_of_the_oas_covariance():
    from sklearn.covariance import OAS

    returns = exact_returns(np.full(N, 4e-4), COV, t=40, seed=3)
    r = returns.to_numpy()
    shrunk = oas_by_hand(r)
    np.testing.assert_allclose(OAS().fit(r).covariance_, shrunk, rtol=1e-10)
    inv = np.linalg.inv(shrunk)
    closed = inv @ np.ones(N) / (np.ones(N) @ inv @ np.ones(N))
    assert closed.min() > 0  # interior: the long-only optimum is the closed form
    out = Mvo(covariance="oas").allocate(make_inputs(returns))
    np.testing.assert_allclose(out.weights.to_numpy(), closed, atol=1e-6)
    # and it is not the sample-covariance answer (the option is used)
    sample = Mvo().allocate(make_inputs(returns)).weights.to_numpy()
    assert np.abs(sample - closed).max() > 1e-3


def test_mvo_oas_with_active_bounds_matches_pyportfolioopt():
    pypfopt = pytest.importorskip("pypfopt")
    returns = exact_returns(np.full(N, 4e-4), COV, t=40, seed=3)
    shrunk = oas_by_hand(returns.to_numpy())
    bounds = (0.05, 0.22)
    # scaled to annual percent squared: the weights do not change, the solver's tolerances fit
    ef = pypfopt.EfficientFrontier(None, shrunk * 252e4, weight_bounds=bounds)
    ef.min_volatility()
    ref = np.array(list(ef.clean_weights(cutoff=0, rounding=None).values()))
    out = Mvo(covariance="oas").allocate(make_inputs(returns, bounds=bounds))
    np.testing.assert_allclose(out.weights.to_numpy(), ref, atol=1e-5)
    assert np.isclose(out.weights.max(), 0.22, atol=1e-7)  # the bound is active


# --- copula(objective='variance') -------------------------------------------------------------

def test_copula_variance_is_the_minimum_variance_portfolio_of_its_scenarios(truth_inputs):
    pypfopt = pytest.importorskip("pypfopt")
    m = Copula(objective="variance", n_scenarios=800, family="gaussian")
    scen, _ = m.scenarios(truth_inputs)  # the same seed gives the same scenarios
    out = m.allocate(truth_inputs)
    cov = np.cov(scen, rowvar=False)
    ef = pypfopt.EfficientFrontier(None, cov * 252e4, weight_bounds=truth_inputs.bounds)
    ef.min_volatility()
    ref = np.array(list(ef.clean_weights(cutoff=0, rounding=None).values()))
    np.testing.assert_allclose(out.weights.to_numpy(), ref, atol=2e-5)
    w = out.weights.to_numpy()
    assert w @ cov @ w <= ref @ cov @ ref * (1 + 1e-6)
    # a different objective on the same scenarios gives another portfolio
    cvar_w = attrs.evolve(m, objective="cvar").allocate(truth_inputs).weights.to_numpy()
    assert np.abs(cvar_w - w).max() > 1e-3


# --- cvar(scenarios='drivers') ----------------------------------------------------------------

def _driver_inputs(seed=0):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range(end=DATE - pd.Timedelta(days=1), periods=100)
    d = rng.normal(0, 0.01, (100, 2))
    d -= d.mean(axis=0)  # every portfolio's mean scenario return is 0: CVaR >= 0
    b = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # A2 has no driver exposure
    noise = rng.normal(0, 1e-3, (100, 3))
    noise[:, 2] = rng.normal(0, 0.03, 100)  # ... but a noisy history
    r = pd.DataFrame(d @ b.T + noise, index=idx, columns=["A0", "A1", "A2"])
    drivers = pd.DataFrame(d, index=idx, columns=["D0", "D1"])
    return make_inputs(r, points=b, driver_returns=drivers, inputs_names=["D0@0", "D1@0"]), d, b


def test_cvar_driver_scenarios_are_the_drivers_through_the_sensitivities():
    inputs, d, b = _driver_inputs()
    scen = Cvar(scenarios="drivers").scenario_matrix(inputs)
    np.testing.assert_allclose(scen, d @ b.T, rtol=0, atol=1e-15)
    e = inputs.returns.to_numpy() - d @ b.T
    perm = np.random.default_rng(inputs.seed).permutation(len(e))
    resampled = Cvar(scenarios="drivers", residuals="resample").scenario_matrix(inputs)
    np.testing.assert_allclose(resampled, d @ b.T + e[perm], rtol=0, atol=1e-15)


def test_cvar_driver_scenarios_put_everything_in_the_asset_without_exposure():
    # with demeaned driver scenarios CVaR(w) >= -mean(w'r) = 0, and only w = (0, 0, 1) has a
    # constant (zero) scenario P&L, so it is the unique minimum
    inputs, _, _ = _driver_inputs()
    w = Cvar(scenarios="drivers").allocate(inputs).weights.to_numpy()
    np.testing.assert_allclose(w, [0.0, 0.0, 1.0], atol=1e-6)
    hist = Cvar().allocate(inputs).weights.to_numpy()  # the noisy history says otherwise
    assert hist[2] < 0.5
