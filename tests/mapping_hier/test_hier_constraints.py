"""Per-asset bounds in the hierarchical mappings (issue 24): honoured at every split as in
skfolio's hierarchical optimisers (HRP equal to skfolio's with per-asset min_weights /
max_weights mappings), and group / linear constraints refused with a clear message."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hier_helpers import random_returns, sensitivity_distance

from causalfolio.constraints import Constraints
from causalfolio.errors import ConfigError
from causalfolio.plugins.mapping.herc import Herc
from causalfolio.plugins.mapping.hrp import Hrp
from causalfolio.plugins.mapping.hsp import Hsp
from causalfolio.plugins.mapping.schur import Schur

MINS = {"A01": 0.05, "A05": 0.1, "A02": 0.12}
MAXS = {"A00": 0.1, "A07": 0.08, "A03": 0.2, "A11": 0.02}


def _with(inputs, **settings):
    limits = Constraints.from_settings(**settings).resolve(inputs.assets, inputs.date)
    return attrs.evolve(inputs, constraints=limits), limits


@pytest.mark.parametrize("link,optimal", [("single", False), ("ward", True)])
def test_hrp_per_asset_bounds_match_skfolio(make_inputs, link, optimal):
    pytest.importorskip("skfolio")
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import HierarchicalRiskParity
    from skfolio.seriation import HierarchicalSeriation

    x = random_returns(20, seed=5)
    seriation = HierarchicalSeriation(hierarchical_clustering_estimator=HierarchicalClustering(
        linkage_method=LinkageMethod(link)), optimal_ordering=optimal)
    ref = HierarchicalRiskParity(seriation_estimator=seriation, min_weights=MINS,
                                 max_weights=MAXS).fit(x).weights_
    inputs, limits = _with(make_inputs(x), min_weight=MINS, max_weight=MAXS)
    mapping = Hrp(linkage=link, optimal_ordering=optimal)
    w = mapping.allocate(inputs).weights.to_numpy()
    np.testing.assert_allclose(w, ref, rtol=0, atol=1e-10)
    assert limits.contains(w, tol=1e-12)
    free = mapping.allocate(make_inputs(x)).weights.to_numpy()
    assert np.abs(w - free).max() > 1e-2  # the bounds bind


@pytest.mark.parametrize("mapping", [Hsp(), Herc(), Schur(), Hrp(merge_twins=True),
                                     Schur(distance="sensitivity", gamma=0.3)])
def test_every_hierarchical_mapping_honours_per_asset_bounds(make_inputs, mapping):
    x = random_returns(12, seed=2)
    dist = sensitivity_distance(np.random.default_rng(0).standard_normal((12, 3)))
    inputs, limits = _with(make_inputs(x, distance=dist), min_weight=0.01,
                           max_weight={**MAXS, "A04": 0.03})
    w = mapping.allocate(inputs).weights.to_numpy()
    assert limits.contains(w, tol=1e-12), w


@pytest.mark.parametrize("mapping", [Hsp(), Hrp(), Herc(), Schur()])
def test_hierarchical_mappings_refuse_group_constraints(make_inputs, mapping):
    x = random_returns(6, seed=1)
    dist = sensitivity_distance(np.random.default_rng(0).standard_normal((6, 2)))
    inputs, _ = _with(make_inputs(x, distance=dist), groups={"A00": "Tech", "A01": "Tech"},
                      linear_constraints=["Tech <= 0.3"])
    with pytest.raises(ConfigError, match=rf"{mapping.name} cannot enforce group or linear "
                                          r"constraints \('Tech <= 0.3'\)"):
        mapping.allocate(inputs)


@pytest.mark.parametrize("gamma,monotonic", [(0.5, True), (0.3, False)])
def test_schur_per_asset_bounds_match_skfolio(make_inputs, gamma, monotonic):
    pytest.importorskip("skfolio")
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import SchurComplementary
    from skfolio.seriation import HierarchicalSeriation

    x = random_returns(20, seed=0)
    seriation = HierarchicalSeriation(hierarchical_clustering_estimator=HierarchicalClustering(
        linkage_method=LinkageMethod("single")), optimal_ordering=False)
    ref = SchurComplementary(gamma=gamma, keep_monotonic=monotonic, min_weights=MINS,
                             max_weights=MAXS, seriation_estimator=seriation).fit(x).weights_
    inputs, limits = _with(make_inputs(x), min_weight=MINS, max_weight=MAXS)
    w = Schur(gamma=gamma, monotonic=monotonic).allocate(inputs).weights.to_numpy()
    np.testing.assert_allclose(w, ref, rtol=0, atol=1e-10)
    assert limits.contains(w, tol=1e-12)
