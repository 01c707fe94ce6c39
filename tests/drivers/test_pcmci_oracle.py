"""Oracle: the PC-stable skeleton and majority-rule collider orientation behind ``pcmci``
equal tigramite's ``run_pcmciplus`` (GPL-3.0, test-only) on random linear SCMs.

Same test (partial correlation, analytic t-test with n - 2 - |S| degrees of freedom), same
alpha (0.05 and 0.01 alternately over 22 SCMs), ``tau_max=0`` and
``contemp_collider_rule='majority'``. Compared: the adjacencies, the ambiguous triples and
every edge mark (``-->``, ``<--``, ``o-o``, ``x-x``) after tigramite's orientation phase
versus ours (majority colliders, conflicts kept as ``x-x``, then Meek's
rules 1-3). Why lag 0 only: pcmci's stage A puts a candidate's lag-1 copy in the graph as a
separate node whose edges are oriented by time, whereas PCMCI+ conditions each contemporaneous
test on the lagged parents (MCI); the lag-1 graphs are therefore not the same object. The
shared core, the contemporaneous PC-stable search and its collider rule, is what this checks.
(The selector itself uses only the collider votes, not Meek's propagation.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from causalfolio.plugins.drivers._ci import correlation, orient, pc_skeleton

tigramite = pytest.importorskip("tigramite")


def _random_scm(seed: int) -> np.ndarray:
    """A random linear Gaussian DAG on 5-7 variables, 250 rows, columns shuffled."""
    rng = np.random.default_rng(seed)
    v, t = int(5 + seed % 3), 250
    w = rng.uniform(0.4, 1.0, (v, v)) * rng.choice([-1, 1], (v, v))
    w = np.triu(w * (rng.random((v, v)) < 0.35), 1)
    x = np.zeros((t, v))
    for k in range(v):
        x[:, k] = x @ w[:, k] + rng.normal(size=t)
    return x[:, rng.permutation(v)]


def _marks(head: np.ndarray, adj: np.ndarray) -> np.ndarray:
    out = np.where(head & head.T, "x-x", np.where(head & ~head.T, "-->",
                                                   np.where(head.T & ~head, "<--", "o-o")))
    out[~adj] = ""
    return out


@pytest.mark.slow
def test_skeleton_and_orientation_equal_tigramite_pcmciplus():
    from tigramite import data_processing as pp
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    n_colliders = 0
    for seed in range(22):
        alpha = (0.05, 0.01)[seed % 2]
        x = _random_scm(seed)
        r, n = correlation(x), x.shape[0]
        skel = pc_skeleton(r, n, alpha, None)
        ori = orient(r, n, skel, alpha, None, resolve="union", propagate=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = PCMCI(pp.DataFrame(x), ParCorr(significance="analytic"),
                        verbosity=0).run_pcmciplus(tau_min=0, tau_max=0, pc_alpha=alpha,
                                                   contemp_collider_rule="majority")
        graph = res["graph"][:, :, 0]
        np.testing.assert_array_equal(graph != "", skel.adj, err_msg=f"skeleton, seed {seed}")
        theirs = sorted({(min(i, j), k, max(i, j))
                         for (i, _), k, j in res["ambiguous_triples"]})
        assert theirs == sorted(ori.ambiguous), f"ambiguous triples, seed {seed}"
        np.testing.assert_array_equal(graph, _marks(ori.head, skel.adj),
                                      err_msg=f"edge marks, seed {seed}")
        n_colliders += len(ori.colliders)
    assert n_colliders >= 10  # the SCMs exercise the collider rule, not only skeletons
