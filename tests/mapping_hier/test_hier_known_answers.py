"""Closed-form weights, Higham's nearest PSD matrix, CVaR and the cluster-count rule."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hier_helpers import random_returns, returns_with_cov, sensitivity_distance
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform

from causalfolio.plugins.mapping._hierarchy import (
    bounded_proportional,
    correlation_distance,
    nearest_psd,
)
from causalfolio.plugins.mapping.herc import Herc, historical_cvar, optimal_n_clusters
from causalfolio.plugins.mapping.hrp import Hrp
from causalfolio.plugins.mapping.hsp import Hsp
from causalfolio.plugins.mapping.inverse_vol import InverseVol
from causalfolio.plugins.mapping.schur import Schur

# --- two assets --------------------------------------------------------------------------------


@pytest.mark.parametrize("mapping", [Hrp(), Hsp(), Herc(), Schur(gamma=0.7),
                                     InverseVol(power=2)])
def test_two_assets_inverse_variance(make_inputs, mapping):
    """With two assets every bisection is alpha = 1 - v1 / (v1 + v2) = inverse variance."""
    v1, v2, rho = 0.0004, 0.0001, 0.3
    c = rho * np.sqrt(v1 * v2)
    x = returns_with_cov(np.array([[v1, c], [c, v2]]))
    d = np.array([[0.0, 1.0], [1.0, 0.0]])
    w = mapping.allocate(make_inputs(x, d)).weights.to_numpy()
    np.testing.assert_allclose(w, [v2 / (v1 + v2), v1 / (v1 + v2)], atol=1e-14)


def test_two_assets_bounds_bind(make_inputs):
    """Inverse-variance weights (0.8, 0.2) under bounds (0.3, 0.7) become (0.7, 0.3)."""
    x = returns_with_cov(np.diag([0.0001, 0.0004]))
    for m in (Hrp(), Herc(), Schur(), InverseVol(power=2)):
        w = m.allocate(make_inputs(x, bounds=(0.3, 0.7))).weights.to_numpy()
        np.testing.assert_allclose(w, [0.7, 0.3], atol=1e-14)


# --- block-diagonal covariance ----------------------------------------------------------------

A, RA, B, RB = 0.0004, 0.5, 0.0001, 0.2


def _block_cov() -> np.ndarray:
    s = np.zeros((4, 4))
    s[:2, :2] = [[A, RA * A], [RA * A, A]]
    s[2:, 2:] = [[B, RB * B], [RB * B, B]]
    return s


def _block_answer() -> np.ndarray:
    v1, v2 = A * (1 + RA) / 2, B * (1 + RB) / 2  # inverse-variance half portfolios
    alpha = 1 - v1 / (v1 + v2)
    return np.array([alpha / 2, alpha / 2, (1 - alpha) / 2, (1 - alpha) / 2])


BETAS = np.array([[1.0, 0.0], [1.1, 0.1], [-1.0, 0.5], [-1.2, 0.4]])  # pairs (0,1), (2,3)


@pytest.mark.parametrize("mapping", [
    Hrp(), Hrp(linkage="complete"), Hrp(optimal_ordering=True), Hrp(linkage="ward"),
    Herc(n_clusters=2),
    Schur(gamma=0.9, monotonic=False), Schur(gamma=1.0),
    Hsp(psd=False), Hsp(psd=False, distance_of_distances=False, linkage="average"),
    Herc(n_clusters=2, distance="sensitivity", psd=False),
    Schur(distance="sensitivity", psd=False, gamma=0.8),
])
def test_block_diagonal_closed_form(make_inputs, mapping):
    """Two uncorrelated pairs: the tree finds the pairs; weights alpha/2, (1 - alpha)/2 with
    alpha = 1 - V1 / (V1 + V2), V = sigma^2 (1 + rho) / 2. Schur adds nothing (B = 0)."""
    x = returns_with_cov(_block_cov())
    dist = sensitivity_distance(BETAS) if mapping.needs_sensitivities else None
    w = mapping.allocate(make_inputs(x, dist)).weights.to_numpy()
    np.testing.assert_allclose(w, _block_answer(), atol=1e-14)


def test_nearest_psd_of_a_distance_matrix_is_rank_one(make_inputs):
    """A Euclidean distance matrix is conditionally negative definite, so it has exactly one
    positive eigenvalue and its nearest PSD matrix is lam v v' (v the Perron vector). With
    psd=True, eq. 22 then clusters by |v_x - v_y| alone: here it pairs (0, 2) and (1, 3),
    not the sensitivity pairs (0, 1) and (2, 3) that psd=False finds."""
    d = sensitivity_distance(BETAS)
    vals, vecs = np.linalg.eigh(d)
    assert (vals > 1e-12).sum() == 1
    p = nearest_psd(d)
    np.testing.assert_allclose(p, vals[-1] * np.outer(vecs[:, -1], vecs[:, -1]), atol=1e-13)
    x = returns_with_cov(_block_cov())
    first = Hsp(psd=True).allocate(make_inputs(x, d)).diagnostics["splits"][0]
    assert {frozenset(first["left"]), frozenset(first["right"])} != {
        frozenset({"A00", "A01"}), frozenset({"A02", "A03"})}
    first = Hsp().allocate(make_inputs(x, d)).diagnostics["splits"][0]
    assert {frozenset(first["left"]), frozenset(first["right"])} == {
        frozenset({"A00", "A01"}), frozenset({"A02", "A03"})}


def test_herc_std_closed_form(make_inputs):
    """risk_measure=std splits the pairs by alpha = 1 - s1 / (s1 + s2), s = sqrt(V)."""
    x = returns_with_cov(_block_cov())
    s1, s2 = np.sqrt(A * (1 + RA) / 2), np.sqrt(B * (1 + RB) / 2)
    alpha = 1 - s1 / (s1 + s2)
    w = Herc(n_clusters=2, risk_measure="std").allocate(make_inputs(x)).weights.to_numpy()
    np.testing.assert_allclose(w, [alpha / 2] * 2 + [(1 - alpha) / 2] * 2, atol=1e-14)


def test_herc_singleton_clusters_closed_form(make_inputs):
    """k = 4 singletons: the root splits the pairs by summed risks 2A vs 2B, each pair splits
    equally: weights B / (A + B) / 2 and A / (A + B) / 2."""
    x = returns_with_cov(_block_cov())
    out = Herc(n_clusters=4).allocate(make_inputs(x))
    assert out.diagnostics["n_clusters"] == 4
    np.testing.assert_allclose(out.weights.to_numpy(),
                               [B / (A + B) / 2] * 2 + [A / (A + B) / 2] * 2, atol=1e-14)


def test_hsp_uses_sensitivity_tree_not_correlation(make_inputs):
    """Same returns, sensitivity pairs (0, 2) and (1, 3): hsp splits by sensitivity, and the
    half variances are those of the inverse-variance portfolios of those pairs."""
    x = returns_with_cov(_block_cov())
    betas = BETAS[[0, 2, 1, 3]]
    out = Hsp(psd=False).allocate(make_inputs(x, sensitivity_distance(betas)))
    first = out.diagnostics["splits"][0]
    got = {frozenset(first["left"]), frozenset(first["right"])}
    assert got == {frozenset({"A00", "A02"}), frozenset({"A01", "A03"})}
    cov = x.cov().to_numpy()
    for side, v in (("left", first["v_left"]), ("right", first["v_right"])):
        idx = [int(a[1:]) for a in first[side]]
        sub = cov[np.ix_(idx, idx)]
        iv = 1 / sub.diagonal() / (1 / sub.diagonal()).sum()
        assert v == pytest.approx(float(iv @ sub @ iv), rel=1e-12)


def test_schur_gamma_zero_is_hrp(make_inputs):
    x = random_returns(25, seed=7)
    for link in ("single", "average", "ward"):
        for opt in (False, True):
            a = Schur(gamma=0.0, linkage=link, optimal_ordering=opt).allocate(make_inputs(x))
            b = Hrp(linkage=link, optimal_ordering=opt).allocate(make_inputs(x))
            np.testing.assert_array_equal(a.weights.to_numpy(), b.weights.to_numpy())


def test_schur_moves_towards_minimum_variance(make_inputs):
    """Portfolio variance falls from HRP's as gamma grows (monotonic cap)."""
    x = random_returns(20, seed=0)
    cov = x.cov().to_numpy()
    var = [float(w @ cov @ w) for w in (
        Schur(gamma=g).allocate(make_inputs(x)).weights.to_numpy() for g in (0, 0.1, 0.2))]
    assert var[0] > var[1] > var[2]


# --- Higham 1988 ------------------------------------------------------------------------------


def _edm(n: int, k: int, seed: int) -> np.ndarray:
    return sensitivity_distance(np.random.default_rng(seed).standard_normal((n, k)))


@pytest.mark.parametrize("seed", range(4))
def test_nearest_psd_equals_higham_polar_formula(seed):
    """Higham's Theorem 2: X = (B + H) / 2, H the symmetric polar factor of B = (A + A') / 2
    (scipy.linalg.polar, an independent route to the same answer)."""
    a = _edm(12, 3, seed) + 0.1 * np.random.default_rng(seed).standard_normal((12, 12))
    b = 0.5 * (a + a.T)
    _, h = scipy.linalg.polar(b)
    np.testing.assert_allclose(nearest_psd(a), 0.5 * (b + h), atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_nearest_psd_is_the_projection(seed):
    """X is PSD, and <A - X, P - X> <= 0 for every PSD P (the projection's variational
    inequality), so no PSD P is closer to A in Frobenius norm."""
    rng = np.random.default_rng(seed)
    a = _edm(10, 2, seed)
    x = nearest_psd(a)
    assert np.linalg.eigvalsh(x).min() > -1e-12
    for _ in range(200):
        g = rng.standard_normal((10, 3))
        p = g @ g.T * rng.uniform(0, 2)
        assert np.sum((a - x) * (p - x)) <= 1e-10
        assert np.linalg.norm(a - x) <= np.linalg.norm(a - p) + 1e-12
        e = rng.standard_normal((10, 10))
        q = nearest_psd(x + 1e-3 * (e + e.T))  # a nearby PSD matrix
        assert np.linalg.norm(a - x) <= np.linalg.norm(a - q) + 1e-12


def test_nearest_psd_keeps_psd_and_handles_singular():
    g = np.random.default_rng(0).standard_normal((6, 2))
    p = g @ g.T  # rank 2, singular
    np.testing.assert_allclose(nearest_psd(p), p, atol=1e-13)
    ones = np.ones((5, 5)) - np.eye(5)  # all-equal distances: eigenvalues 4, -1 (x4)
    np.testing.assert_allclose(nearest_psd(ones), np.full((5, 5), 4 / 5), atol=1e-13)


# --- smaller pieces ---------------------------------------------------------------------------


def test_historical_cvar_known_values():
    r = np.array([0.03, -0.05, 0.0, 0.01, -0.03, 0.02, 0.06, -0.01, 0.04, 0.05])
    # beta 0.8: k = 2 worst days, -(-0.05 - 0.03) / 2
    assert historical_cvar(r, 0.8) == pytest.approx(0.04, abs=1e-15)
    # beta 0.75: k = 2.5, the third worst (-0.01) counts half
    assert historical_cvar(r, 0.75) == pytest.approx((0.05 + 0.03 + 0.005) / 2.5, abs=1e-15)
    np.testing.assert_allclose(historical_cvar(np.c_[r, 2 * r], 0.8), [0.04, 0.08])


def test_optimal_n_clusters_finds_planted_groups():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    pts = np.vstack([c + 0.1 * rng.standard_normal((m, 2))
                     for c, m in zip(centres, (3, 4, 5), strict=True)])
    d = sensitivity_distance(pts)
    assert optimal_n_clusters(d, linkage(squareform(d, checks=False), "ward")) == 3


def test_correlation_distance_values():
    cov = np.array([[1.0, 0.5, -1.0], [0.5, 1.0, -0.5], [-1.0, -0.5, 1.0]])
    d = correlation_distance(cov)
    np.testing.assert_allclose(d, np.sqrt((1 - cov) / 2), atol=1e-15)


def test_bounded_proportional_water_filling():
    w = bounded_proportional(np.array([8.0, 1.0, 1.0]), 1.0, 0.1, 0.5)
    np.testing.assert_allclose(w, [0.5, 0.25, 0.25], atol=1e-13)
    w = bounded_proportional(np.array([1.0, 2.0, 7.0]), 1.0, 0.2, 0.6)
    np.testing.assert_allclose(w, [0.2, 0.2, 0.6], atol=1e-13)


def test_ledoit_wolf_shrinks_towards_scaled_identity(make_inputs):
    """LW = (1 - d) S_mle + d mu I: off-diagonals shrink by one common factor, the average
    variance is kept, and hrp uses it."""
    from causalfolio.plugins.mapping._hierarchy import covariance

    x = random_returns(8, t=40, seed=3)
    inp = make_inputs(x)
    s = np.cov(x.to_numpy(), rowvar=False, ddof=0)
    lw = covariance(inp, "ledoit_wolf")
    off = ~np.eye(8, dtype=bool)
    ratio = lw[off] / s[off]
    assert 0 < ratio.mean() < 1
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-10)
    assert np.trace(lw) == pytest.approx(np.trace(s), rel=1e-12)
    a = Hrp(covariance="ledoit_wolf").allocate(inp).weights
    b = Hrp().allocate(inp).weights
    assert np.abs(a - b).max() > 1e-4


@pytest.mark.parametrize("n1,n2", [(1, 1), (2, 1), (3, 2), (6, 5), (5, 6), (4, 4)])
def test_step_up_matrix_definition(n1, n2):
    """Closed form equals the defining average of stacked unit rows; M 1 = 1."""
    from causalfolio.plugins.mapping.schur import step_up_matrix

    def by_definition(a, b):
        if a == b:
            return np.eye(a)
        if a < b:
            return by_definition(b, a).T * a / b
        e = np.eye(b)
        return sum(np.concatenate([e[:j], np.ones((1, b)) / b, e[j:]]) for j in range(a)) / a

    m = step_up_matrix(n1, n2)
    np.testing.assert_allclose(m, by_definition(n1, n2), atol=1e-15)
    np.testing.assert_allclose(m @ np.ones(n2), np.ones(n1), atol=1e-14)
