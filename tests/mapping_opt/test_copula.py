"""copula: fits recover the parameters of data simulated from each family; Clayton and Gumbel
agree with the ``copulas`` package; the mapping is deterministic and maps through B."""

from __future__ import annotations

import numpy as np
import pytest

from causalfolio.plugins.mapping.copula import (
    Copula,
    fit_copula,
    pseudo_observations,
    sample_copula,
)

R = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]])


@pytest.mark.parametrize("family, params", [
    ("gaussian", {"corr": R.tolist()}),
    ("t", {"corr": R.tolist(), "df": 5.0}),
    ("clayton", {"theta": 2.0}),
    ("gumbel", {"theta": 2.0}),
])
def test_fit_recovers_simulated_parameters(family, params):
    u = sample_copula(family, params, 3, 3000, np.random.default_rng(11))
    fit = fit_copula(pseudo_observations(u), family)
    if "corr" in params:
        np.testing.assert_allclose(fit["corr"], R, atol=0.05)
    if family == "t":
        assert 3.5 < fit["df"] < 7.5
    if "theta" in params:
        assert fit["theta"] == pytest.approx(2.0, abs=0.15)


@pytest.mark.parametrize("family", ["clayton", "gumbel"])
def test_bivariate_fit_equals_the_copulas_package(family):
    from copulas.bivariate import Clayton, Gumbel

    u = sample_copula(family, {"theta": 3.0}, 2, 1500, np.random.default_rng(5))
    ref = (Clayton if family == "clayton" else Gumbel)()
    ref.fit(u)
    assert fit_copula(u, family)["theta"] == pytest.approx(ref.theta, rel=1e-10)


def test_tail_dependence_of_samples():
    rng = np.random.default_rng(2)
    cl = sample_copula("clayton", {"theta": 2.0}, 2, 20000, rng)
    gu = sample_copula("gumbel", {"theta": 2.0}, 2, 20000, rng)
    q = 0.02

    def lower(u):
        return np.mean((u[:, 0] < q) & (u[:, 1] < q)) / q

    def upper(u):
        return np.mean((u[:, 0] > 1 - q) & (u[:, 1] > 1 - q)) / q

    # Clayton: lambda_L = 2^(-1/theta) ~ 0.71, no upper tail; Gumbel: lambda_U = 2 - 2^(1/theta)
    assert lower(cl) == pytest.approx(2 ** -0.5, abs=0.1) and upper(cl) < lower(cl) - 0.4
    assert upper(gu) == pytest.approx(2 - 2**0.5, abs=0.1) and lower(gu) < upper(gu) - 0.25


def test_negative_dependence_gives_independence_flag():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 1))
    u = pseudo_observations(np.hstack([x, -x + 0.1 * rng.normal(size=(500, 1))]))
    fit = fit_copula(u, "clayton")
    assert fit["independence"] is True and fit["theta"] <= 1e-6


@pytest.mark.parametrize("family", ["gaussian", "t", "clayton", "gumbel"])
def test_mapping_is_deterministic_and_bounded(truth_inputs, family):
    m = Copula(family=family, n_scenarios=800)
    a, b = m.allocate(truth_inputs), m.allocate(truth_inputs)
    np.testing.assert_array_equal(a.weights.to_numpy(), b.weights.to_numpy())
    w = a.weights.to_numpy()
    assert w.min() >= 0.03 - 1e-9 and w.max() <= 0.3 + 1e-9 and w.sum() == pytest.approx(1)
    assert a.diagnostics["cvar"] >= a.diagnostics["var"] > 0


def test_scenarios_map_through_the_sensitivities(truth_inputs):
    from causalfolio.diagnostics import driver_inputs

    x, _, b, _ = driver_inputs(truth_inputs)
    scen, facts = Copula(family="gaussian", residuals="none", n_scenarios=400).scenarios(
        truth_inputs)
    # empirical marginals: each simulated input lies in its data range, and r = B x exactly
    xs = np.linalg.lstsq(b, scen.T, rcond=None)[0].T
    np.testing.assert_allclose(xs @ b.T, scen, atol=1e-12)
    assert np.all(xs >= x.min(axis=0) - 1e-9) and np.all(xs <= x.max(axis=0) + 1e-9)
    assert facts["n_fit"] == len(x)


def test_variance_objective_and_t_marginals(truth_inputs):
    alloc = Copula(family="clayton", marginals="t", objective="variance",
                   n_scenarios=500).allocate(truth_inputs)
    assert alloc.weights.sum() == pytest.approx(1.0)
    assert all(m["df"] >= 2.05 for m in alloc.diagnostics["marginals"])
