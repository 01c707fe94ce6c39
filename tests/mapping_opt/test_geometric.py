"""kernel, shrinkage, graph, manifold: toy configurations whose answer is known by symmetry or
in closed form, and the synthetic market's clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mapopt_helpers import exact_returns, make_inputs

from causalfolio.plugins.mapping.graph import Graph, build_graph, propagate
from causalfolio.plugins.mapping.kernel import Kernel
from causalfolio.plugins.mapping.manifold import Manifold
from causalfolio.plugins.mapping.shrinkage import Shrinkage, neighbour_mean

SD = np.array([0.01, 0.02, 0.01, 0.04, 0.01])


def _returns(sd=SD):
    return exact_returns(np.zeros(len(sd)), np.diag(sd**2))


def _line(n):
    return np.arange(n, dtype=float)[:, None]  # points 0, 1, 2, ... on a line


def test_kernel_limits_are_inverse_vol_and_equal_weights():
    tiny = Kernel(bandwidth=1e-3).allocate(make_inputs(_returns(), points=_line(5)))
    np.testing.assert_allclose(tiny.weights, (1 / SD) / np.sum(1 / SD), rtol=1e-9)
    huge = Kernel(bandwidth=1e6).allocate(make_inputs(_returns(), points=_line(5)))
    np.testing.assert_allclose(huge.weights, np.full(5, 0.2), rtol=1e-9)


def test_kernel_smoothing_closed_form():
    inputs = make_inputs(_returns(), points=_line(5))
    w = Kernel(bandwidth=1.0, power=2.0).allocate(inputs).weights.to_numpy()
    d = inputs.distance
    k = np.exp(-d**2 / 2)
    smooth = k @ SD / k.sum(axis=1)
    np.testing.assert_allclose(w, smooth**-2 / np.sum(smooth**-2), rtol=1e-9)


def test_shrinkage_closed_form_and_limits():
    inputs = make_inputs(_returns(), points=_line(5))
    none = Shrinkage(intensity=0.0).allocate(inputs).weights
    np.testing.assert_allclose(none, (1 / SD) / np.sum(1 / SD), rtol=1e-9)
    # neighbours on a line with k = 2: 0 -> {1, 2}, 1 -> {0, 2}, 2 -> {1, 3}, 3 -> {2, 4},
    # 4 -> {3, 2}
    m = neighbour_mean(inputs.distance, SD, 2, "uniform")
    expect = np.array([(SD[1] + SD[2]) / 2, (SD[0] + SD[2]) / 2, (SD[1] + SD[3]) / 2,
                       (SD[2] + SD[4]) / 2, (SD[3] + SD[2]) / 2])
    np.testing.assert_allclose(m, expect)
    w = Shrinkage(intensity=0.5, neighbours=2).allocate(inputs).weights.to_numpy()
    s = 0.5 * SD + 0.5 * expect
    np.testing.assert_allclose(w, (1 / s) / np.sum(1 / s), rtol=1e-9)


def test_graph_mst_and_knn_on_a_line():
    d = np.abs(_line(5) - _line(5).T)
    mst = build_graph(d, "mst", 0)
    assert sorted(tuple(sorted(e)) for e in mst.edges()) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    knn = build_graph(d, "knn", 1)
    assert sorted(tuple(sorted(e)) for e in knn.edges()) == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_message_passing_reaches_the_closed_form_fixed_point():
    rng = np.random.default_rng(0)
    adj = rng.random((6, 6))
    adj = adj + adj.T
    np.fill_diagonal(adj, 0)
    r0 = rng.random(6)
    r, rounds = propagate(adj, r0, 0.6, 1000)
    p = adj / adj.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(r, 0.4 * np.linalg.solve(np.eye(6) - 0.6 * p, r0), rtol=1e-10)
    assert rounds < 1000


def test_graph_symmetric_path_penalises_neighbours_of_the_risky_asset():
    sd = np.array([0.01, 0.01, 0.05, 0.01, 0.01])  # the middle asset is risky
    inputs = make_inputs(_returns(sd), points=_line(5))
    w = Graph(graph="mst", mixing=0.5, bandwidth=1.0).allocate(inputs).weights.to_numpy()
    assert w[0] == pytest.approx(w[4], rel=1e-9) and w[1] == pytest.approx(w[3], rel=1e-9)
    assert w[2] < w[1] < w[0]  # risk spreads to the risky asset's neighbours
    plain = Graph(mixing=0.0).allocate(inputs).weights.to_numpy()
    np.testing.assert_allclose(plain, (1 / sd) / np.sum(1 / sd), rtol=1e-9)


def test_manifold_two_groups_by_symmetry():
    # asset 0 alone, assets 1-3 one perfectly correlated group, all the same volatility:
    # cluster variances sigma^2 and sigma^2 -> half each; 1/6 for each member of the group
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 0.01, 120), rng.normal(0, 0.01, 120)
    b = b - (b @ a) / (a @ a) * a  # uncorrelated with a
    b *= a.std() / b.std()
    r = pd.DataFrame({"S": a, "G1": b, "G2": b, "G3": b})
    pts = np.array([[5.0, 5.0], [0.0, 0.0], [0.1, 0.0], [0.0, 0.1]])
    for emb in ("mds", "isomap", "spectral", "tsne"):
        alloc = Manifold(embedding=emb, n_clusters=2, neighbours=2).allocate(
            make_inputs(r, points=pts))
        labels = alloc.diagnostics["clusters"]
        assert labels["G1"] == labels["G2"] == labels["G3"] != labels["S"], emb
        np.testing.assert_allclose(alloc.weights.to_numpy(), [0.5, 1 / 6, 1 / 6, 1 / 6],
                                   atol=1e-9, err_msg=emb)


def test_manifold_recovers_the_synthetic_clusters(market):
    from sklearn.metrics import adjusted_rand_score

    truth = market.truth
    inputs = make_inputs(market.assets.iloc[-63:], points=truth.mean_betas)
    k = len(set(truth.clusters.values()))
    alloc = Manifold(n_clusters=k).allocate(inputs)
    got = [alloc.diagnostics["clusters"][a] for a in truth.assets]
    assert adjusted_rand_score([truth.clusters[a] for a in truth.assets], got) == 1.0
