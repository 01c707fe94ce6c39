"""Per-asset and group constraints in the optimisation mappings (issue 24): enforced in the
problem (each mapping's own output meets them, without the pipeline's projection), and the
minimum-variance portfolio equals skfolio's MeanRisk with the same linear_constraints."""

from __future__ import annotations

import warnings

import attrs
import numpy as np
import pytest

import causalfolio as cf
from causalfolio.constraints import Constraints
from causalfolio.stages import MappingInputs

GROUPS = {**{f"A{i:02d}": "G1" for i in range(4)}, **{f"A{i:02d}": "G2" for i in range(4, 8)},
          **{f"A{i:02d}": ["G3", "Small"] for i in range(8, 12)}}
LINEAR = ["G1 <= 0.25", "G2 >= 0.35", "A05 + A06 <= 0.2", "Small >= 2 * A00"]
MAX = {"A08": 0.05, "A09": 0.06, "A10": 0.3}
VARIANTS = [
    "mvo", "mvo(objective='max_sharpe')", "mvo(objective='quadratic_utility', risk_aversion=10)",
    "mvo(objective='target_return', target_return=0.0, infeasible='closest')",
    "mvo_reg", "mvo_reg(term='distance')", "closed_form", "closed_form(method='qp')",
    "cvar", "cvar(scenarios='drivers')", "copula(n_scenarios=300)", "kernel", "shrinkage",
    "manifold", "graph", "equal", "inverse_vol",
]


def _limits(inputs, **kw):
    settings = dict(min_weight=0.02, max_weight=MAX, groups=GROUPS, linear_constraints=LINEAR)
    settings.update(kw)
    return Constraints.from_settings(**settings).resolve(inputs.assets, inputs.date)


@pytest.mark.parametrize("spec", VARIANTS)
def test_each_optimisation_mapping_meets_the_constraints_itself(truth_inputs, spec):
    limits = _limits(truth_inputs)
    inputs = attrs.evolve(truth_inputs, constraints=limits)
    mapping = cf.parse_spec(spec if spec in ("equal", "inverse_vol") else
                            f"rccp|linear|beta|static|{spec}").mapping
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = mapping.allocate(inputs).weights.reindex(list(inputs.assets)).to_numpy()
    assert limits.contains(w, tol=1e-8), (spec, w)


def test_mvo_group_constraint_binds_and_bounds_hold(truth_inputs):
    free = cf.parse_spec("mvo").mapping.allocate(attrs.evolve(
        truth_inputs, constraints=_limits(truth_inputs, linear_constraints=None)))
    w = cf.parse_spec("mvo").mapping.allocate(attrs.evolve(
        truth_inputs, constraints=_limits(truth_inputs)))
    g1 = [f"A{i:02d}" for i in range(4)]
    assert free.weights[g1].sum() > 0.25 + 0.1  # so the constraint G1 <= 0.25 is active
    assert w.weights[g1].sum() == pytest.approx(0.25, abs=1e-7)
    assert w.weights["A08"] <= 0.05 + 1e-9 and w.weights.min() >= 0.02 - 1e-9


@pytest.mark.parametrize("seed", [3, 11])
def test_min_variance_matches_skfolio_meanrisk_with_linear_constraints(seed):
    pytest.importorskip("skfolio")
    from mapopt_helpers import random_returns
    from skfolio.optimization import MeanRisk

    x = random_returns(8, seed=seed)
    groups = {a: (["Tech"] if i < 3 else ["Energy"]) + (["Big"] if i % 2 == 0 else [])
              for i, a in enumerate(x.columns)}
    linear = ["Tech <= 0.2", "Energy >= 0.3", "Big <= 0.5", "A03 >= 0.5 * A04"]
    mins, maxs = {"A01": 0.05, "A05": 0.1}, {"A00": 0.1, "A07": 0.25}
    limits = Constraints.from_settings(mins, maxs, groups, linear).resolve(tuple(x.columns))
    inputs = MappingInputs(date=x.index[-1], assets=tuple(x.columns), returns=x,
                           constraints=limits)
    w = cf.parse_spec("mvo").mapping.allocate(inputs).weights.to_numpy()
    tight = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skfolio: "Solution may be inaccurate" at 1e-12
        ref = MeanRisk(min_weights=mins, max_weights=maxs, groups=groups,
                       linear_constraints=linear, solver="CLARABEL",
                       solver_params=tight).fit(x).weights_
    np.testing.assert_allclose(w, ref, rtol=0, atol=1e-6)
    assert limits.contains(w) and not limits.contains(
        cf.parse_spec("mvo").mapping.allocate(attrs.evolve(inputs, constraints=None))
        .weights.to_numpy())
