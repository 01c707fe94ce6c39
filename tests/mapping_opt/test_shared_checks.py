"""One input check for every mapping that reads the distance matrix, and one name for the
covariance estimator (issue 14, item 8)."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

import causalfolio as cf
from causalfolio.errors import DataError, SpecError
from causalfolio.registry import get_registry

DISTANCE_MAPPINGS = ["hsp", "closed_form", "kernel", "shrinkage", "manifold", "graph",
                     "mvo_reg(term='kernel')"]


def _mapping(spec):
    return cf.parse_spec(f"rccp|linear|beta|static|{spec}").mapping


@pytest.mark.parametrize("spec", DISTANCE_MAPPINGS)
def test_asymmetric_distance_is_rejected_by_every_mapping(truth_inputs, spec):
    d = np.asarray(truth_inputs.distance, dtype=float)
    bad = d + np.triu(np.full_like(d, 0.05 * d.max()), 1)
    with pytest.raises(DataError, match="distance matrix is not symmetric.*symmetrise it"):
        _mapping(spec).allocate(attrs.evolve(truth_inputs, distance=bad))


@pytest.mark.parametrize("spec", DISTANCE_MAPPINGS)
def test_rounding_asymmetry_is_symmetrised_by_every_mapping(truth_inputs, spec):
    d = np.asarray(truth_inputs.distance, dtype=float)
    a = np.random.default_rng(0).normal(size=d.shape) * 1e-12 * d.max()
    noisy = d + (a - a.T)  # antisymmetric: (D + D') / 2 recovers D
    m = _mapping(spec)
    w0 = m.allocate(truth_inputs).weights
    w1 = m.allocate(attrs.evolve(truth_inputs, distance=noisy)).weights
    np.testing.assert_allclose(w1.to_numpy(), w0.to_numpy(), rtol=0, atol=1e-8)


def test_every_mapping_names_its_covariance_estimator_covariance():
    reg = get_registry()
    for entry in reg.entries("mapping"):
        params = {p.name: p for p in entry.cls.parameters()}
        if "shrinkage" in params:  # only as the deprecated alias of covariance
            assert "covariance" in params, entry.name
            assert params["shrinkage"].default is None, entry.name
            assert "deprecated" in params["shrinkage"].doc, entry.name


@pytest.mark.parametrize("name", ["hrp", "herc", "schur", "hsp"])
def test_shrinkage_is_a_deprecated_alias_of_covariance(name):
    spec = name if name != "hsp" else "rccp|linear|beta|static|hsp"
    with pytest.warns(FutureWarning, match="'shrinkage' is deprecated.*covariance='ledoit_wolf'"):
        old = cf.parse_spec(spec.replace(name, f"{name}(shrinkage='ledoit_wolf')"))
    new = cf.parse_spec(spec.replace(name, f"{name}(covariance='ledoit_wolf')"))
    assert old == new and old.spec == new.spec
    assert f"{name}(covariance='ledoit_wolf')" in old.spec
    with pytest.warns(FutureWarning):
        assert cf.parse_spec(spec.replace(name, f"{name}(shrinkage='none')")).spec == spec
    with pytest.raises(SpecError, match="deprecated name of 'covariance'; give only"):
        cf.parse_spec(spec.replace(name, f"{name}(shrinkage='ledoit_wolf',"
                                         "covariance='ledoit_wolf')"))
