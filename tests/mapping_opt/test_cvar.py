"""cvar: the Rockafellar-Uryasev LP against PyPortfolioOpt and skfolio on identical scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mapopt_helpers import make_inputs

from causalfolio import ConfigError
from causalfolio.plugins.mapping._optim import InfeasibleProblemError, cvar_of, min_cvar, var_of
from causalfolio.plugins.mapping.cvar import Cvar

BOUNDS = (0.02, 0.4)


@pytest.fixture(scope="module")
def scenarios():
    rng = np.random.default_rng(3)
    r = rng.standard_t(4, (500, 8)) * 0.01 + 0.0003
    return pd.DataFrame(r, columns=[f"A{i}" for i in range(8)])


def test_var_and_cvar_of_a_known_sample():
    pnl = -np.arange(1.0, 101.0)  # losses 1..100
    assert var_of(pnl, 0.95) == 95.0
    assert cvar_of(pnl, 0.95) == pytest.approx(98.0)  # mean of the 5 worst: 96..100


def test_min_cvar_matches_pypfopt(scenarios):
    pypfopt = pytest.importorskip("pypfopt")
    r = scenarios.to_numpy()
    ec = pypfopt.EfficientCVaR(r.mean(axis=0), scenarios, beta=0.95, weight_bounds=BOUNDS)
    ref = np.array(list(ec.min_cvar().values()))
    alloc = Cvar().allocate(make_inputs(scenarios, bounds=BOUNDS))
    np.testing.assert_allclose(alloc.weights.to_numpy(), ref, atol=1e-6)
    assert alloc.diagnostics["cvar"] == pytest.approx(ec.portfolio_performance()[1], rel=1e-7)
    assert alloc.diagnostics["lp_objective"] == pytest.approx(alloc.diagnostics["cvar"],
                                                              rel=1e-7)


def test_min_cvar_matches_skfolio(scenarios):
    skopt = pytest.importorskip("skfolio.optimization")
    from skfolio import RiskMeasure

    model = skopt.MeanRisk(risk_measure=RiskMeasure.CVAR, cvar_beta=0.95,
                           min_weights=BOUNDS[0], max_weights=BOUNDS[1]).fit(scenarios)
    for solver in ("auto", "CLARABEL"):
        ours = Cvar(solver=solver).allocate(make_inputs(scenarios, bounds=BOUNDS))
        np.testing.assert_allclose(ours.weights.to_numpy(), model.weights_, atol=1e-6)


def test_return_floor_matches_pypfopt_efficient_return(scenarios):
    pypfopt = pytest.importorskip("pypfopt")
    r = scenarios.to_numpy()
    mu = r.mean(axis=0)
    target = float(np.quantile(mu, 0.8))
    ec = pypfopt.EfficientCVaR(mu, scenarios, beta=0.95, weight_bounds=BOUNDS)
    ref = np.array(list(ec.efficient_return(target).values()))
    alloc = Cvar(min_return=target * 252).allocate(make_inputs(scenarios, bounds=BOUNDS))
    w = alloc.weights.to_numpy()
    assert w @ mu >= target - 1e-9
    assert cvar_of(r @ w, 0.95) == pytest.approx(cvar_of(r @ ref, 0.95), rel=1e-6)
    with pytest.raises(InfeasibleProblemError, match="min_return"):
        Cvar(min_return=10.0).allocate(make_inputs(scenarios, bounds=BOUNDS))


def test_min_cvar_lower_than_equal_weights(scenarios):
    r = scenarios.to_numpy()
    w, info = min_cvar(r, 0.9, (0.0, 1.0), solver="auto")
    assert info["cvar"] <= cvar_of(r @ np.full(8, 1 / 8), 0.9) + 1e-12


def test_driver_scenarios_are_b_times_inputs(truth_inputs):
    from causalfolio.diagnostics import driver_inputs

    x, r, b, _ = driver_inputs(truth_inputs)
    scen = Cvar(scenarios="drivers").scenario_matrix(truth_inputs)
    np.testing.assert_allclose(scen, x @ b.T, rtol=1e-12, atol=1e-15)
    # resampled residuals are a permutation: column sums equal the sums of the real returns
    res = Cvar(scenarios="drivers", residuals="resample").scenario_matrix(truth_inputs)
    np.testing.assert_allclose(res.sum(axis=0), r.sum(axis=0), rtol=1e-10, atol=1e-14)
    assert not np.allclose(res, r)
    w = Cvar(scenarios="drivers").allocate(truth_inputs).weights
    assert w.min() >= 0.03 - 1e-9 and w.max() <= 0.3 + 1e-9 and w.sum() == pytest.approx(1)


def test_driver_scenarios_need_sensitivities(scenarios):
    with pytest.raises(ConfigError, match="historical"):
        Cvar(scenarios="drivers").allocate(make_inputs(scenarios))
