"""Every issue-7 mapping, by name in the last slot of a spec: long-only, sums to 1, within bounds,
deterministic; degenerate inputs (duplicate assets, T < N, NaN) handled or reported."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mapopt_helpers import make_inputs

import causalfolio as cf
from causalfolio import DataError, SpecError
from causalfolio.registry import get_registry

MAPPINGS = ["mvo", "mvo_reg", "closed_form", "cvar", "copula", "kernel", "shrinkage",
            "manifold", "graph"]
VARIANTS = [
    "mvo", "mvo(objective='max_sharpe', covariance='ledoit_wolf')",
    "mvo(objective='quadratic_utility', risk_aversion=10)",
    "mvo_reg", "mvo_reg(term='dispersion', lam=2)", "mvo_reg(term='distance')",
    "closed_form", "closed_form(matrix='regularised')", "closed_form(matrix='pinv', method='qp')",
    "cvar", "cvar(scenarios='drivers', residuals='resample', alpha=0.9)",
    "copula(n_scenarios=500)", "copula(family='clayton', n_scenarios=500)",
    "kernel", "kernel(risk='cvar', power=2)", "shrinkage(weighting='inverse_distance')",
    "manifold", "manifold(embedding='isomap', clustering='ward')", "graph",
    "graph(graph='mst', risk='cvar')",
]
BOUNDS = (0.03, 0.3)


@pytest.fixture(scope="module")
def cache():
    return {}


@pytest.mark.parametrize("mapping", VARIANTS)
def test_full_pipeline_weights_valid_and_deterministic(market, cache, mapping):
    spec = f"rccp(k=4)|linear|beta|static|{mapping}"
    pipe = cf.parse_spec(spec)
    assert cf.parse_spec(pipe.spec).spec == pipe.spec
    date = market.dates[-20]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the literal distance variant warns by design
        a = pipe.run(market.assets, market.candidates, date, min_weight=BOUNDS[0],
                     max_weight=BOUNDS[1], seed=3, cache=cache)
        b = pipe.run(market.assets, market.candidates, date, min_weight=BOUNDS[0],
                     max_weight=BOUNDS[1], seed=3, cache=cache)
    w = a.weights.to_numpy()
    np.testing.assert_array_equal(w, b.weights.to_numpy())
    assert abs(w.sum() - 1) < 1e-9 and w.min() >= BOUNDS[0] - 1e-9 and w.max() <= BOUNDS[1] + 1e-9
    assert "bounds_projection" not in a.allocation.diagnostics or \
        a.allocation.diagnostics["bounds_projection"] < 1e-6
    import json

    json.dumps(a.allocation.diagnostics)


@pytest.mark.parametrize("spec", ["mvo", "cvar", "mvo(objective='max_sharpe')"])
def test_benchmarks_run_alone(market, spec):
    res = cf.parse_spec(spec).run(market.assets, None, market.dates[-1], min_weight=BOUNDS[0],
                                  max_weight=BOUNDS[1])
    assert res.weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(set(MAPPINGS) - {"mvo", "cvar"}))
def test_sensitivity_mappings_cannot_run_alone(name):
    with pytest.raises(SpecError, match="sensitivity"):
        cf.parse_spec(name)


def _degenerate_inputs(n=6, t=40):
    rng = np.random.default_rng(9)
    r = rng.normal(0, 0.01, (t, n))
    r[:, 1] = r[:, 0]  # asset 1 duplicates asset 0 ...
    pts = rng.normal(size=(n, 2))
    pts[1] = pts[0]  # ... in returns and in sensitivity space
    names = [f"A{i}" for i in range(n)]
    idx = pd.bdate_range("2020-01-01", periods=t)
    d = pd.DataFrame(rng.normal(0, 0.01, (t, 2)), index=idx, columns=["D0", "D1"])
    return make_inputs(pd.DataFrame(r, index=idx, columns=names), points=pts,
                       driver_returns=d, bounds=(0.0, 0.5))


@pytest.mark.parametrize("mapping", VARIANTS)
def test_duplicate_assets_do_not_break_anything(mapping):
    inputs = _degenerate_inputs()
    comp = cf.parse_spec(f"rccp|linear|beta|static|{mapping}").mapping
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = comp.allocate(inputs).weights.to_numpy()
    assert np.all(np.isfinite(w)) and abs(w.sum() - 1) < 1e-9
    assert w.min() >= -1e-9 and w.max() <= 0.5 + 1e-9


@pytest.mark.parametrize("spec", ["mvo", "cvar", "kernel", "graph"])
def test_nan_returns_are_a_data_error(spec):
    inputs = _degenerate_inputs()
    r = inputs.returns.copy()
    r.iloc[3, 2] = np.nan
    bad = make_inputs(r, points=inputs.sensitivities.aggregate, bounds=(0.0, 0.5))
    comp = cf.parse_spec(f"rccp|linear|beta|static|{spec}").mapping
    with pytest.raises(DataError, match="NaN"):
        comp.allocate(bad)


def test_every_component_is_registered_and_documented():
    reg = get_registry()
    doc = Path(__file__).resolve().parents[2] / "docs/components/mapping-optimisation.md"
    text = doc.read_text()
    for name in MAPPINGS:
        cls = reg.get("mapping", name)
        assert re.search(rf"^### `{name}`\s*$", text, re.M), name
        for p in cls.parameters():  # every parameter appears in the section's table
            section = text.split(f"### `{name}`")[1].split("\n### ")[0]
            assert f"`{p.name}`" in section, (name, p.name)


@pytest.mark.parametrize("n, bounds", [(1, (0.0, 1.0)), (2, (0.0, 1.0)), (10, (0.1, 0.1)),
                                       (10, (0.1, 0.3))])
def test_single_asset_and_fully_determined_bounds(n, bounds):
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2020-01-01", periods=60)
    r = pd.DataFrame(rng.normal(5e-4, 0.01, (60, n)), index=idx,
                     columns=[f"A{i}" for i in range(n)])
    d = pd.DataFrame(rng.normal(0, 0.01, (60, 2)), index=idx, columns=["D0", "D1"])
    inputs = make_inputs(r, points=rng.normal(size=(n, 2)), driver_returns=d, bounds=bounds)
    for mapping in VARIANTS:
        comp = cf.parse_spec(f"rccp|linear|beta|static|{mapping}").mapping
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = comp.allocate(inputs).weights.to_numpy()
        assert abs(w.sum() - 1) < 1e-9, mapping
        assert w.min() >= bounds[0] - 1e-9 and w.max() <= bounds[1] + 1e-9, mapping
