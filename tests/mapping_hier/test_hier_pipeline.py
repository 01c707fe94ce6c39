"""End to end on the synthetic market: every mapping by name in a spec, bounds held without
the pipeline's projection, and the planted clusters recovered from the true sensitivities."""

from __future__ import annotations

import numpy as np
import pytest
from hier_helpers import make_inputs, sensitivity_distance

import causalfolio as cf
from causalfolio.data.synthetic import synthetic_market
from causalfolio.plugins.mapping.herc import Herc


@pytest.fixture(scope="module")
def market():
    return synthetic_market(seed=0, n_days=500)


FULL = ["hsp", "hsp(psd=False,linkage='ward',optimal_ordering=True)",
        "hsp(covariance='ledoit_wolf',window=42)", "herc", "herc(risk_measure='cvar')",
        "schur", "schur(gamma=0.2,distance='correlation')", "hrp", "equal", "inverse_vol"]
ALONE = ["hrp", "hrp(optimal_ordering=True)", "herc", "herc(n_clusters=3,risk_measure='std')",
         "schur", "schur(gamma=0)", "inverse_vol", "equal"]


def test_every_mapping_in_a_full_spec(market):
    cache: dict = {}
    date = market.assets.index[400]
    for last in FULL:
        pipe = cf.parse_spec(f"rccp(k=4)|linear|beta|static|{last}")
        res = pipe.run(market.assets, market.candidates, date, bounds=(0.03, 0.10), cache=cache)
        w = res.weights.to_numpy()
        assert abs(w.sum() - 1) < 1e-12 and w.min() >= 0.03 - 1e-12 and w.max() <= 0.1 + 1e-12
        assert "bounds_projection" not in res.allocation.diagnostics, last


def test_every_benchmark_alone(market):
    date = market.assets.index[400]
    for spec in ALONE:
        res = cf.parse_spec(spec).run(market.assets, None, date, bounds=(0.03, 0.10))
        assert "bounds_projection" not in res.allocation.diagnostics, spec
        assert abs(res.weights.sum() - 1) < 1e-12


def test_sensitivity_only_specs_refuse_to_run_alone():
    for spec in ("hsp", "herc(distance='sensitivity')", "schur(distance='sensitivity')"):
        with pytest.raises(cf.errors.SpecError, match="cannot run alone"):
            cf.parse_spec(spec)


@pytest.mark.parametrize("seed", range(4))
def test_true_sensitivities_recover_planted_clusters(seed):
    """HERC cut at 3 clusters on the distance between true mean sensitivities recovers the
    synthetic market's clusters with psd=False; with psd=True (nearest PSD of a Euclidean
    distance matrix, which is rank one) it does not, on any of these seeds."""
    m = synthetic_market(seed=seed)
    truth = {frozenset(a for a, c in m.truth.clusters.items() if c == k)
             for k in set(m.truth.clusters.values())}
    d = sensitivity_distance(m.truth.mean_betas)
    inp = make_inputs(m.assets.iloc[-63:], d)
    for link in ("ward", "average"):
        out = Herc(n_clusters=3, distance="sensitivity", psd=False, linkage=link).allocate(inp)
        assert {frozenset(c) for c in out.diagnostics["clusters"]} == truth
        out = Herc(n_clusters=3, distance="sensitivity", psd=True, linkage=link).allocate(inp)
        assert {frozenset(c) for c in out.diagnostics["clusters"]} != truth
    assert np.isfinite(d).all()
