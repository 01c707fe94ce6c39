"""closed_form and mvo_reg: symmetric toy answers, KKT conditions, singular D, the literal
degenerate variants."""

from __future__ import annotations

import numpy as np
import pytest
from mapopt_helpers import exact_returns, make_inputs

from causalfolio.plugins.mapping.closed_form import ClosedForm, closed_form_weights
from causalfolio.plugins.mapping.mvo import Mvo
from causalfolio.plugins.mapping.mvo_reg import DegenerateObjectiveWarning, MvoReg

SIGMA = 0.01


def _iid_returns(n):
    return exact_returns(np.zeros(n), SIGMA**2 * np.eye(n))


def _simplex_points(n):
    return np.eye(n)  # all pairwise distances sqrt(2): a regular simplex


@pytest.mark.parametrize("matrix", ["regularised", "pinv", "kernel"])
@pytest.mark.parametrize("method", ["closed", "qp"])
def test_regular_simplex_gives_equal_weights(matrix, method):
    inputs = make_inputs(_iid_returns(5), points=_simplex_points(5))
    w = ClosedForm(matrix=matrix, method=method).allocate(inputs).weights.to_numpy()
    np.testing.assert_allclose(w, np.full(5, 0.2), atol=1e-6)


def test_closed_form_is_a_stationary_point():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(6, 3))
    inputs = make_inputs(_iid_returns(6), points=pts)
    alloc = ClosedForm(matrix="regularised").allocate(inputs)
    d = inputs.distance
    m = d + alloc.diagnostics["ridge"] * np.eye(6)
    raw = np.array(alloc.diagnostics["raw_weights"])
    lam = m @ raw  # Lagrange: M w = lambda 1
    np.testing.assert_allclose(lam, np.full(6, lam.mean()), rtol=1e-9)
    assert raw.sum() == pytest.approx(1.0)
    assert alloc.diagnostics["stationary_point_only"] is True  # D + eps I is indefinite
    assert ClosedForm(matrix="kernel").allocate(inputs).diagnostics["positive_definite"]


def test_singular_distance_uses_the_pseudo_inverse():
    pts = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # duplicate: D singular
    inputs = make_inputs(_iid_returns(4), points=pts)
    d = inputs.distance
    assert np.linalg.matrix_rank(d) < 4
    alloc = ClosedForm(matrix="pinv").allocate(inputs)
    x = np.linalg.pinv(d, rcond=1e-10, hermitian=True) @ np.ones(4)
    np.testing.assert_allclose(alloc.diagnostics["raw_weights"], x / x.sum(), atol=1e-10)
    w = alloc.weights.to_numpy()
    assert w[0] == pytest.approx(w[1]) and w.min() >= 0 and w.sum() == pytest.approx(1)


def test_degenerate_budget_falls_back_to_qp():
    assert closed_form_weights(np.zeros((3, 3))) is None
    pts = np.zeros((3, 2))  # all assets identical: D = 0
    alloc = ClosedForm(matrix="pinv").allocate(make_inputs(_iid_returns(3), points=pts))
    assert "qp" in alloc.diagnostics["fallback"]
    assert alloc.weights.sum() == pytest.approx(1.0)


def test_kernel_qp_kkt_and_bounds():
    rng = np.random.default_rng(2)
    inputs = make_inputs(_iid_returns(8), points=rng.normal(size=(8, 2)), bounds=(0.05, 0.3))
    alloc = ClosedForm(method="qp").allocate(inputs)
    w = alloc.weights.to_numpy()
    assert w.min() >= 0.05 - 1e-9 and w.max() <= 0.3 + 1e-9
    h = alloc.diagnostics["bandwidth"]
    k = np.exp(-inputs.distance**2 / (2 * h * h))
    # the problem is strictly convex (K positive definite): an independent solver agrees
    from scipy.optimize import minimize

    ref = minimize(lambda v: v @ k @ v, np.full(8, 1 / 8), jac=lambda v: 2 * k @ v,
                   method="SLSQP", bounds=[(0.05, 0.3)] * 8,
                   constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
                   options={"ftol": 1e-14, "maxiter": 1000}).x
    np.testing.assert_allclose(w, ref, atol=1e-5)
    assert w @ k @ w <= ref @ k @ ref + 1e-7


def test_mvo_reg_zero_strength_is_minimum_variance(truth_inputs):
    a = MvoReg(lam=0.0).allocate(truth_inputs).weights.to_numpy()
    b = Mvo().allocate(truth_inputs).weights.to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("lam", [0.0, 0.5, 3.0])
def test_mvo_reg_kernel_closed_form_on_duplicates(lam):
    # assets 0 and 1 coincide in sensitivity space, asset 2 is far away; iid equal volatility.
    # minimise sigma^2 |w|^2 / sigma^2 + lam w'Kw with K = [[1,1,0],[1,1,0],[0,0,1]]:
    # w0 = w1 = a = (1 + lam) / (3 + 4 lam), w2 = 1 - 2a
    pts = np.array([[0.0], [0.0], [100.0]])
    inputs = make_inputs(_iid_returns(3), points=pts)
    w = MvoReg(lam=lam, bandwidth=1.0).allocate(inputs).weights.to_numpy()
    a = (1 + lam) / (3 + 4 * lam)
    np.testing.assert_allclose(w, [a, a, 1 - 2 * a], atol=1e-6)


def test_mvo_reg_dispersion_symmetric_and_value():
    inputs = make_inputs(_iid_returns(4), points=_simplex_points(4))
    alloc = MvoReg(term="dispersion", lam=2.0).allocate(inputs)
    w = alloc.weights.to_numpy()
    np.testing.assert_allclose(w, np.full(4, 0.25), atol=1e-6)
    s = _simplex_points(4)
    centre = s.T @ w
    assert alloc.diagnostics["dispersion"] == pytest.approx(
        float(np.sum(w * np.sum((s - centre) ** 2, axis=1))), rel=1e-9)


def test_mvo_reg_literal_distance_warns_and_is_local():
    rng = np.random.default_rng(4)
    inputs = make_inputs(_iid_returns(5), points=rng.normal(size=(5, 2)))
    with pytest.warns(DegenerateObjectiveWarning, match="concentration"):
        alloc = MvoReg(term="distance", lam=5.0).allocate(inputs)
    assert alloc.diagnostics["nonconvex"] is True
    assert alloc.weights.sum() == pytest.approx(1.0) and alloc.weights.min() >= -1e-12
