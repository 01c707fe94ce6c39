"""Degenerate inputs: documented behaviour or a specific causalfolio error."""

from __future__ import annotations

import numpy as np
import pytest
from hier_helpers import random_returns, sensitivity_distance

from causalfolio.errors import ConfigError, DataError, NumericalError, ParameterError
from causalfolio.plugins.mapping.equal import Equal
from causalfolio.plugins.mapping.herc import Herc
from causalfolio.plugins.mapping.hrp import Hrp
from causalfolio.plugins.mapping.hsp import Hsp
from causalfolio.plugins.mapping.inverse_vol import InverseVol
from causalfolio.plugins.mapping.schur import Schur

ALL = [Hsp(), Hsp(psd=False), Hrp(), Herc(), Herc(risk_measure="cvar"), Schur(),
       Schur(gamma=1.0, monotonic=False), InverseVol(), Equal()]
IDS = [m.spec for m in ALL]


def _valid(w, lo=0.0, hi=1.0):
    w = w.to_numpy()
    assert np.all(np.isfinite(w)) and abs(w.sum() - 1) < 1e-12
    assert w.min() >= lo - 1e-12 and w.max() <= hi + 1e-12


@pytest.mark.parametrize("mapping", ALL, ids=IDS)
def test_single_asset_gets_everything(make_inputs, mapping):
    x = random_returns(1, t=30)
    out = mapping.allocate(make_inputs(x, np.zeros((1, 1))))
    assert out.weights.to_dict() == {"A00": 1.0}


@pytest.mark.parametrize("mapping", ALL, ids=IDS)
@pytest.mark.parametrize("kind", ["all_equal", "all_zero", "rank_deficient", "twins"])
def test_degenerate_distance_matrices(make_inputs, mapping, kind):
    """All-equal, all-zero (every asset alike), rank-deficient (K = 1 sensitivity) and
    duplicated rows: the tree is then decided by ties, which the canonical (name) order makes
    deterministic and independent of the column order; weights stay valid."""
    n = 9
    x = random_returns(n, t=63, seed=2)
    rng = np.random.default_rng(0)
    d = {"all_equal": np.ones((n, n)) - np.eye(n), "all_zero": np.zeros((n, n)),
         "rank_deficient": sensitivity_distance(rng.standard_normal((n, 1))),
         "twins": sensitivity_distance(np.repeat(rng.standard_normal((3, 2)), 3, axis=0)),
         }[kind]
    out = mapping.allocate(make_inputs(x, d, bounds=(0.05, 0.2)))
    _valid(out.weights, 0.05, 0.2)
    p = rng.permutation(n)
    again = mapping.allocate(make_inputs(x.iloc[:, p], d[np.ix_(p, p)], bounds=(0.05, 0.2)))
    np.testing.assert_allclose(again.weights[out.weights.index], out.weights, atol=1e-12)


@pytest.mark.parametrize("mapping", [m for m in ALL if m.spec != "herc(risk_measure='cvar')"],
                         ids=lambda m: m.spec)
def test_singular_covariance(make_inputs, mapping):
    """Fewer days than assets and an exact duplicate column: the covariance is singular.
    Inverse variances need only the diagonal; schur checks only augmented blocks and repairs
    them (or caps gamma); weights stay valid."""
    x = random_returns(12, t=8, seed=4)
    x["A11"] = x["A00"]
    d = sensitivity_distance(np.random.default_rng(1).standard_normal((12, 3)))
    _valid(mapping.allocate(make_inputs(x, d)).weights)


@pytest.mark.parametrize("mapping", [m for m in ALL if not isinstance(m, Equal)], ids=IDS[:-1])
def test_bad_returns(make_inputs, mapping):
    d = np.ones((4, 4)) - np.eye(4)
    x = random_returns(4, t=30)
    x.iloc[3, 2] = np.nan
    with pytest.raises(DataError, match="non-finite returns.*A02"):
        mapping.allocate(make_inputs(x, d))
    x = random_returns(4, t=30)
    x["A01"] = 0.001
    with pytest.raises(DataError, match="zero variance.*A01"):
        mapping.allocate(make_inputs(x, d))
    with pytest.raises(DataError, match="need at least 2"):
        mapping.allocate(make_inputs(random_returns(4, t=1), d))


@pytest.mark.parametrize("mapping", ALL, ids=IDS)
def test_infeasible_bounds_and_bad_names(make_inputs, mapping):
    x = random_returns(5, t=30)
    d = np.ones((5, 5)) - np.eye(5)
    with pytest.raises(ConfigError, match="infeasible weight bounds"):
        mapping.allocate(make_inputs(x, d, bounds=(0.25, 0.5)))
    with pytest.raises(ConfigError, match="infeasible weight bounds"):
        mapping.allocate(make_inputs(x, d, bounds=(0.0, 0.15)))
    x.columns = ["a", "b", "a", "c", "d"]
    if not isinstance(mapping, Equal):
        with pytest.raises(DataError, match="asset names repeat"):
            mapping.allocate(make_inputs(x, d))


@pytest.mark.parametrize("mapping", [Hsp(), Herc(distance="sensitivity"),
                                     Schur(distance="sensitivity")], ids=lambda m: m.spec)
def test_bad_distance_matrix(make_inputs, mapping):
    x = random_returns(4, t=30)
    with pytest.raises(ConfigError, match="no sensitivity distance matrix"):
        mapping.allocate(make_inputs(x, None))
    with pytest.raises(DataError, match=r"shape \(3, 3\), expected \(4, 4\)"):
        mapping.allocate(make_inputs(x, np.zeros((3, 3))))
    d = np.ones((4, 4)) - np.eye(4)
    d[0, 1] = d[1, 0] = np.inf
    with pytest.raises(DataError, match="non-finite"):
        mapping.allocate(make_inputs(x, d))
    d = np.ones((4, 4)) - np.eye(4)
    d[0, 1] = 2.0
    with pytest.raises(DataError, match="not symmetric"):
        mapping.allocate(make_inputs(x, d))


def test_auto_distance_picks_what_is_given(make_inputs):
    x = random_returns(6, t=60)
    d = sensitivity_distance(np.random.default_rng(3).standard_normal((6, 2)))
    for m in (Herc(), Schur()):
        assert not m.needs_sensitivities
        assert m.allocate(make_inputs(x)).diagnostics["distance"] == "correlation"
        assert m.allocate(make_inputs(x, d)).diagnostics["distance"] == "sensitivity"
    assert Herc(distance="sensitivity").needs_sensitivities
    assert Hsp().needs_sensitivities and not Hrp().needs_sensitivities


def test_herc_errors(make_inputs):
    x = random_returns(4, t=30)
    with pytest.raises(ParameterError, match="n_clusters=5 exceeds the 4 assets"):
        Herc(n_clusters=5).allocate(make_inputs(x))
    with pytest.raises(ParameterError, match="cvar_beta"):
        Herc(cvar_beta=0.9)
    up = x.abs() + 0.001  # no losses at all: CVaR is negative
    with pytest.raises(NumericalError, match="non-positive cvar"):
        Herc(risk_measure="cvar").allocate(make_inputs(up))
    assert abs(Herc(risk_measure="variance").allocate(make_inputs(up)).weights.sum() - 1) < 1e-12


def test_schur_repairs_and_records(make_inputs):
    """gamma = 1 without the monotonic cap on an ill-conditioned covariance: non-PD augmented
    blocks are replaced by their nearest PD matrices and counted in the diagnostics."""
    x = random_returns(20, t=40, seed=0)
    out = Schur(gamma=1.0, monotonic=False).allocate(make_inputs(x))
    assert out.diagnostics["repaired_blocks"] > 0
    _valid(out.weights)
    capped = Schur(gamma=1.0).allocate(make_inputs(x))
    assert capped.diagnostics["effective_gamma"] < 1.0
    cov = x.cov().to_numpy()
    hrp = Hrp().allocate(make_inputs(x)).weights.to_numpy()
    w = capped.weights.to_numpy()
    assert w @ cov @ w <= hrp @ cov @ hrp + 1e-18


def test_needs_sensitivities_on_the_class_is_a_bool():
    assert Herc.needs_sensitivities is False and Schur.needs_sensitivities is False
    assert Hsp.needs_sensitivities is True and Hrp.needs_sensitivities is False
    assert Schur(distance="sensitivity").needs_sensitivities is True


@pytest.mark.parametrize("mapping", [Hrp(merge_twins=True), Hsp(merge_twins=True),
                                     Herc(merge_twins=True), Schur(merge_twins=True)],
                         ids=lambda m: m.spec)
def test_all_assets_identical_with_merge_twins(make_inputs, mapping):
    """Three bit-identical assets merge into one, whose weight 1 is split in thirds."""
    x = random_returns(1, t=40)
    x = x.assign(B=x["A00"], C=x["A00"])
    out = mapping.allocate(make_inputs(x, np.zeros((3, 3)), bounds=(0.2, 0.5)))
    np.testing.assert_allclose(out.weights.to_numpy(), [1 / 3] * 3, atol=1e-15)
    assert out.diagnostics["twins"] == {"A00": ["B", "C"]}
