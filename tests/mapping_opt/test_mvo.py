"""mvo: closed forms when unconstrained, PyPortfolioOpt when bounded, errors and fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from mapopt_helpers import exact_returns, make_inputs

from causalfolio import ConfigError, ParameterError, SpecError, parse_spec
from causalfolio.plugins.mapping._optim import InfeasibleProblemError, solve
from causalfolio.plugins.mapping.mvo import Mvo, return_range

N = 5
RHO = 0.2
SD = np.array([0.010, 0.012, 0.014, 0.011, 0.013])
COV = (RHO + (1 - RHO) * np.eye(N)) * np.outer(SD, SD)
INV = np.linalg.inv(COV)
ONES = np.ones(N)


def _inputs(mu, bounds=(0.0, 1.0)):
    return make_inputs(exact_returns(np.asarray(mu), COV), bounds=bounds)


def test_min_volatility_unconstrained_closed_form():
    w = Mvo().allocate(_inputs(np.full(N, 4e-4))).weights.to_numpy()
    expect = INV @ ONES / (ONES @ INV @ ONES)
    assert np.all(expect > 0)
    np.testing.assert_allclose(w, expect, atol=1e-6)


def test_max_sharpe_is_the_analytic_tangency_portfolio():
    rf = 0.02
    tangent = np.array([0.3, 0.1, 0.2, 0.25, 0.15])
    mu = COV @ tangent * 3.0 + rf / 252  # excess return proportional to Sigma w_tan
    w = Mvo(objective="max_sharpe", risk_free=rf).allocate(_inputs(mu)).weights.to_numpy()
    expect = INV @ (mu - rf / 252)
    np.testing.assert_allclose(w, expect / expect.sum(), atol=1e-6)
    np.testing.assert_allclose(w, tangent, atol=1e-6)


def test_quadratic_utility_closed_form():
    delta = 50.0
    mu = np.array([5, 3, 6, 4, 5]) * 1e-4
    w = Mvo(objective="quadratic_utility", risk_aversion=delta).allocate(_inputs(mu))
    gamma = (ONES @ INV @ mu - delta) / (ONES @ INV @ ONES)
    expect = INV @ (mu - gamma) / delta
    assert np.all(expect > 0) and abs(expect.sum() - 1) < 1e-12
    np.testing.assert_allclose(w.weights.to_numpy(), expect, atol=1e-6)


def test_target_return_on_the_analytic_frontier():
    mu = np.array([5, 3, 6, 4, 5]) * 1e-4
    a, b, c = ONES @ INV @ ONES, ONES @ INV @ mu, mu @ INV @ mu
    target = b / a + 2e-5  # above the minimum-variance return: the constraint binds
    lam = (c - b * target) / (a * c - b * b)
    gam = (a * target - b) / (a * c - b * b)
    expect = INV @ (lam * ONES + gam * mu)
    assert np.all(expect > 0)
    alloc = Mvo(objective="target_return", target_return=target * 252).allocate(_inputs(mu))
    np.testing.assert_allclose(alloc.weights.to_numpy(), expect, atol=1e-6)
    assert alloc.diagnostics["expected_return_annual"] == pytest.approx(target * 252, rel=1e-6)


@pytest.mark.parametrize("objective", ["max_sharpe", "min_volatility", "quadratic_utility"])
def test_bounded_problems_match_pypfopt(objective):
    pypfopt = pytest.importorskip("pypfopt")
    mu = np.array([9, 2, 7, 4, 6]) * 1e-4
    bounds = (0.05, 0.35)
    inputs = _inputs(mu, bounds)
    ef = pypfopt.EfficientFrontier(mu * 252, COV * 252, weight_bounds=bounds)
    if objective == "max_sharpe":
        ef.max_sharpe(risk_free_rate=0.0)
    elif objective == "min_volatility":
        ef.min_volatility()
    else:
        ef.max_quadratic_utility(risk_aversion=5.0)
    ref = np.array(list(ef.clean_weights(rounding=None).values()))
    ours = Mvo(objective=objective, risk_aversion=5.0).allocate(inputs).weights.to_numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert ours.min() >= 0.05 - 1e-12 and ours.max() <= 0.35 + 1e-12


def test_infeasible_target_is_reported_with_the_best_attainable():
    mu = np.array([5, 3, 6, 4, 5]) * 1e-4
    bounds = (0.1, 0.3)
    best = return_range(mu, *bounds)[1]
    with pytest.raises(InfeasibleProblemError, match="best expected return") as err:
        Mvo(objective="target_return", target_return=1.0).allocate(_inputs(mu, bounds))
    assert isinstance(err.value, ConfigError)
    alloc = Mvo(objective="target_return", target_return=1.0,
                infeasible="closest").allocate(_inputs(mu, bounds))
    assert "fallback" in alloc.diagnostics
    assert alloc.weights.to_numpy() @ mu == pytest.approx(best, rel=1e-6)


def test_return_range_greedy():
    assert return_range(np.array([1.0, 2.0, 3.0]), 0.1, 0.6) == pytest.approx((1.5, 2.5))


def test_max_sharpe_with_negative_returns_falls_back_to_min_volatility():
    mu = -np.full(N, 3e-4)
    alloc = Mvo(objective="max_sharpe").allocate(_inputs(mu))
    assert "min_volatility" in alloc.diagnostics["fallback"]
    expect = INV @ ONES / (ONES @ INV @ ONES)
    np.testing.assert_allclose(alloc.weights.to_numpy(), expect, atol=1e-6)


def test_parameter_errors():
    with pytest.raises(ParameterError, match="target_return"):
        Mvo(objective="target_return")
    with pytest.raises(SpecError, match="solver"):
        parse_spec("mvo(solver='NOT_A_SOLVER')")
    with pytest.raises(SpecError):
        parse_spec("mvo(risk_aversion=-1)")


def test_solver_fallback_chain_and_uninstalled_solver():
    import cvxpy as cp

    inputs = _inputs(np.full(N, 4e-4))
    # SCIPY cannot solve a quadratic programme: the chain moves on and records the failure
    assert "SCIPY" in cp.installed_solvers()  # scipy is a dependency of cvxpy: always there
    alloc = Mvo(solver="SCIPY").allocate(inputs)
    assert alloc.diagnostics["solver"] != "SCIPY"
    assert any("SCIPY" in f for f in alloc.diagnostics["failed"])
    missing = next(s for s in ("MOSEK", "GUROBI", "CPLEX", "XPRESS", "COPT")
                   if s not in cp.installed_solvers())
    with pytest.raises(ConfigError, match="not installed"):
        Mvo(solver=missing).allocate(inputs)


def test_all_solvers_infeasible_raises_infeasible():
    import cvxpy as cp

    x = cp.Variable(2)
    prob = cp.Problem(cp.Minimize(cp.sum(x)), [x >= 1, cp.sum(x) == 1])
    with pytest.raises(InfeasibleProblemError, match="toy problem is infeasible"):
        solve(prob, solver="auto", what="the toy problem")


def test_fewer_days_than_assets_with_shrinkage():
    rng = np.random.default_rng(1)
    n, t = 30, 20
    import pandas as pd

    r = pd.DataFrame(rng.normal(0, 0.01, (t, n)), columns=[f"A{i}" for i in range(n)])
    for cov in ("sample", "ledoit_wolf", "oas"):
        w = Mvo(covariance=cov).allocate(make_inputs(r, bounds=(0.0, 0.1))).weights
        assert abs(w.sum() - 1) < 1e-9 and w.min() >= -1e-12 and w.max() <= 0.1 + 1e-12


def test_every_solver_failing_is_a_numerical_error_naming_them(monkeypatch):
    import cvxpy as cp

    from causalfolio import NumericalError
    from causalfolio.plugins.mapping import _optim

    assert "SCIPY" in cp.installed_solvers()  # the interface that cannot solve QPs
    monkeypatch.setattr(_optim, "solver_chain", lambda solver, lp=False: ["SCIPY"])
    with pytest.raises(NumericalError, match="every solver failed on the minimum-variance "
                                             "problem: SCIPY"):
        Mvo().allocate(_inputs(np.full(N, 4e-4)))
