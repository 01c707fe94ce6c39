"""``graph``: risk propagated by message passing on a sensitivity graph (SPEC §5; monograph
§8.2 "graph-based approaches").

Nodes are assets; edges join each asset to its k nearest neighbours in sensitivity space
(symmetrised) or follow the minimum spanning tree of the distance matrix (networkx). Edge
weights are similarities exp(-d^2 / (2 h^2)); P is the row-normalised weight matrix. Starting
from the per-asset risk r0 (volatility or historical CVaR), each round sends every node the
weighted mean of its neighbours' risk::

    r <- (1 - a) r0 + a P r        (fixed point r* = (1 - a) (I - a P)^-1 r0)

so an asset close to risky assets is treated as riskier. Weights are proportional to
r*^-power, projected onto the bounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.params import in_range, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._optim import bandwidth, gaussian_kernel, require_distance
from ._optim_geometry import asset_risk, risk_weights

if TYPE_CHECKING:  # networkx is imported where a graph is built, not on registry load
    import networkx as nx


def build_graph(d: np.ndarray, kind: str, k: int) -> nx.Graph:
    """kNN (symmetrised, ties by index) or minimum-spanning-tree graph on distances ``d``."""
    import networkx as nx

    n = len(d)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    if n < 2:
        return g
    if kind == "mst":
        full = nx.Graph()
        full.add_nodes_from(range(n))
        full.add_weighted_edges_from((i, j, float(d[i, j])) for i in range(n)
                                     for j in range(i + 1, n))
        return nx.minimum_spanning_tree(full, weight="weight", algorithm="kruskal")
    k = min(k, n - 1)
    for i in range(n):
        others = np.delete(np.arange(n), i)
        for j in others[np.argsort(d[i, others], kind="stable")[:k]]:
            g.add_edge(i, int(j), weight=float(d[i, j]))
    return g


def propagate(adj: np.ndarray, r0: np.ndarray, a: float, steps: int, tol: float = 1e-12
              ) -> tuple[np.ndarray, int]:
    """Message passing r <- (1 - a) r0 + a P r with P = row-normalised ``adj``.

    A node without (non-zero) edges keeps its own risk: its row of P is the unit vector.
    Returns the risk after convergence (or ``steps`` rounds) and the rounds used.
    """
    p = adj.astype(float).copy()
    rows = p.sum(axis=1)
    lonely = rows <= 0
    p[lonely] = 0.0
    p[lonely, np.flatnonzero(lonely)] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    r = r0.copy()
    for it in range(1, steps + 1):
        new = (1.0 - a) * r0 + a * p @ r
        if np.max(np.abs(new - r)) <= tol * max(1.0, float(np.abs(r).max())):
            return new, it
        r = new
    return r, steps


@attrs.define(frozen=True, kw_only=True)
class Graph(RiskMapping):
    """Risk propagated by message passing on a kNN or MST graph of sensitivity distances."""

    name = "graph"

    graph: Literal["knn", "mst"] = param("knn", doc="knn (k nearest neighbours, symmetrised) "
                                                   "or mst (minimum spanning tree)")
    neighbours: int = param(3, doc="k of the kNN graph (capped at N-1)", validator=positive)
    mixing: float = param(0.5, doc="share a of neighbours' risk in each round, in [0, 1)",
                          validator=in_range(0.0, 1.0, hi_open=True))
    steps: int = param(100, doc="maximum message-passing rounds", validator=positive)
    bandwidth: float | None = param(None, doc="similarity bandwidth h (default: median "
                                              "off-diagonal distance)", validator=positive)
    risk: Literal["volatility", "cvar"] = param("volatility", doc="node risk propagated: "
                                                                "volatility or historical CVaR")
    alpha: float = param(0.95, doc="CVaR confidence level when risk='cvar'",
                         validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))
    power: float = param(1.0, doc="weights proportional to propagated risk^-power",
                         validator=positive)
    window: int | None = param(None, doc="risk window in trading days", validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        d = require_distance(inputs, self.name)
        g = build_graph(d, self.graph, self.neighbours)
        n = len(d)
        sim = gaussian_kernel(d, bandwidth(d, self.bandwidth))
        adj = np.zeros((n, n))
        for i, j in g.edges():
            adj[i, j] = adj[j, i] = sim[i, j]
        r0 = asset_risk(inputs, self.risk, self.alpha)
        r, rounds = propagate(adj, r0, self.mixing, self.steps)
        edges = sorted((inputs.assets[i], inputs.assets[j]) if i < j else
                       (inputs.assets[j], inputs.assets[i]) for i, j in g.edges())
        return risk_weights(inputs, r, self.power,
                            {"graph": self.graph, "edges": [list(e) for e in edges],
                             "rounds": rounds, "raw_risk": r0.tolist()})


@hookimpl
def register_mappings(register):
    register(Graph)
