"""hrp, schur and herc against established implementations (PyPortfolioOpt, skfolio)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hier_helpers import random_returns

from causalfolio.plugins.mapping.herc import Herc
from causalfolio.plugins.mapping.hrp import Hrp
from causalfolio.plugins.mapping.schur import Schur

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

LINKS = ["single", "complete", "average", "ward"]


def _skfolio():
    pytest.importorskip("skfolio", reason="skfolio is not installed (pip install skfolio; "
                                          "it is in the dev extra)")
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.seriation import HierarchicalSeriation

    def seriation(link, optimal):
        return HierarchicalSeriation(
            hierarchical_clustering_estimator=HierarchicalClustering(
                linkage_method=LinkageMethod(link)), optimal_ordering=optimal)

    return seriation


@pytest.mark.parametrize("n,seed", [(7, 1), (20, 2), (45, 3)])
@pytest.mark.parametrize("link", LINKS)
def test_hrp_matches_pyportfolioopt_raw_order(make_inputs, n, seed, link):
    pypfopt = pytest.importorskip("pypfopt", reason="PyPortfolioOpt is not installed (pip "
                                                    "install pyportfolioopt; dev extra)")
    x = random_returns(n, seed=seed)
    ref = pd.Series(pypfopt.HRPOpt(x).optimize(linkage_method=link))
    w = Hrp(linkage=link).allocate(make_inputs(x)).weights
    np.testing.assert_allclose(w.to_numpy(), ref[w.index].to_numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("optimal", [False, True])
@pytest.mark.parametrize("link", LINKS)
def test_hrp_matches_skfolio(make_inputs, link, optimal):
    seriation = _skfolio()
    from skfolio.optimization import HierarchicalRiskParity

    x = random_returns(30, seed=4)
    ref = HierarchicalRiskParity(seriation_estimator=seriation(link, optimal)).fit(x)
    w = Hrp(linkage=link, optimal_ordering=optimal).allocate(make_inputs(x)).weights
    np.testing.assert_allclose(w.to_numpy(), ref.weights_, rtol=0, atol=1e-14)


def test_leaf_ordering_changes_weights(make_inputs):
    """Raw and optimal leaf orders give different bisections, hence different weights."""
    x = random_returns(30, seed=4)
    a = Hrp().allocate(make_inputs(x))
    b = Hrp(optimal_ordering=True).allocate(make_inputs(x))
    assert a.diagnostics["order"] != b.diagnostics["order"]
    assert np.abs(a.weights - b.weights).max() > 1e-3


def test_hrp_bounds_match_skfolio(make_inputs):
    """skfolio clips the split factor the same way (uniform bounds)."""
    seriation = _skfolio()
    from skfolio.optimization import HierarchicalRiskParity

    x = random_returns(20, seed=5)
    ref = HierarchicalRiskParity(seriation_estimator=seriation("single", False),
                                 min_weights=0.03, max_weights=0.08).fit(x)
    w = Hrp().allocate(make_inputs(x, bounds=(0.03, 0.08))).weights.to_numpy()
    np.testing.assert_allclose(w, ref.weights_, rtol=0, atol=1e-14)
    assert w.min() >= 0.03 - 1e-15 and w.max() <= 0.08 + 1e-15


# skfolio refuses these two cases ("Schur complement failed ... set keep_monotonic=True"): its
# blocks stop being positive definite for gamma >= 0.8 without the monotonic guard. They are
# excluded from the comparison here and covered by test_schur_repairs_where_skfolio_refuses.
SKFOLIO_REFUSES = [(0.8, False), (1.0, False)]
SCHUR_CASES = [(g, m) for g in (0.0, 0.2, 0.5, 0.8, 1.0) for m in (False, True)
               if (g, m) not in SKFOLIO_REFUSES]


def _skfolio_schur(gamma, monotonic):
    seriation = _skfolio()
    from skfolio.optimization import SchurComplementary

    return SchurComplementary(gamma=gamma, keep_monotonic=monotonic,
                              seriation_estimator=seriation("single", False))


@pytest.mark.parametrize("gamma,monotonic", SCHUR_CASES)
def test_schur_matches_skfolio(make_inputs, gamma, monotonic):
    x = random_returns(20, seed=0)
    ref = _skfolio_schur(gamma, monotonic).fit(x)  # must succeed: no fallback to weak checks
    out = Schur(gamma=gamma, monotonic=monotonic).allocate(make_inputs(x))
    np.testing.assert_allclose(out.weights.to_numpy(), ref.weights_, rtol=0, atol=1e-13)
    assert out.diagnostics["effective_gamma"] == pytest.approx(ref.effective_gamma_, abs=1e-12)


@pytest.mark.parametrize("gamma,monotonic", SKFOLIO_REFUSES)
def test_schur_repairs_where_skfolio_refuses(make_inputs, gamma, monotonic):
    from skfolio.exceptions import OptimizationError

    x = random_returns(20, seed=0)
    with pytest.raises(OptimizationError, match="Schur complement failed"):
        _skfolio_schur(gamma, monotonic).fit(x)
    out = Schur(gamma=gamma, monotonic=False).allocate(make_inputs(x))
    assert out.diagnostics["repaired_blocks"] > 0  # we repair and record it instead
    assert abs(out.weights.sum() - 1) < 1e-12 and out.weights.min() > 0


@pytest.mark.parametrize("risk", ["variance", "std", "cvar"])
@pytest.mark.parametrize("link", ["ward", "single"])
@pytest.mark.parametrize("k", [None, 3])
def test_herc_matches_skfolio(make_inputs, risk, link, k):
    _skfolio()
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import HierarchicalEqualRiskContribution

    rm = {"variance": RiskMeasure.VARIANCE, "std": RiskMeasure.STANDARD_DEVIATION,
          "cvar": RiskMeasure.CVAR}[risk]
    for n, seed in [(10, 10), (40, 11)]:
        x = random_returns(n, seed=seed)
        ref = HierarchicalEqualRiskContribution(
            risk_measure=rm, hierarchical_clustering_estimator=HierarchicalClustering(
                linkage_method=LinkageMethod(link), max_clusters=k)).fit(x)
        out = Herc(risk_measure=risk, linkage=link, n_clusters=k).allocate(make_inputs(x))
        assert out.diagnostics["n_clusters"] == ref.hierarchical_clustering_estimator_.n_clusters_
        np.testing.assert_allclose(out.weights.to_numpy(), ref.weights_, rtol=0, atol=1e-14)
