"""``bayesnet``: common drivers from a Bayesian network learned with pgmpy (SPEC §1d, §5.4.2).

A Gaussian Bayesian network is learned by pgmpy's hill-climbing search (with a faster, deterministic
move generator, see ``_fast_hill_climb_class``) over the constituents and a
pre-screened set of candidates (each at its most correlated lag), with a Gaussian BIC score
(identical to pgmpy's ``BICGauss``, computed from the Gram matrix for speed). Edges between two
candidates are forbidden (the structure among candidates is not needed to find drivers), and by
default so are edges between two constituents: their dependence must run through candidates, as
in the Commonality Principle's model. Hill climbing adds score-equivalent edges in an arbitrary
direction and, from the empty graph, often stalls with the strongest correlate (often a collider)
as a parent; it is therefore also started from the hypothesis "every candidate causes every
constituent", and the network with the higher BIC is kept. The drivers are the candidates that are
parents of the most constituents (ties: fewer constituent parents, then screening strength, then
name). A collider, caused by constituents, has them as parents and is not selected (Remark 3).
The evidence reports how many constituent pairs a Fisher-z partial-correlation test still finds
dependent given S.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import DataError, NumericalError
from causalfolio.params import in_range, non_empty, non_negative, param, positive, unique_items
from causalfolio.plugins.drivers._common import build_pool, check_inputs, dependent_pairs
from causalfolio.stages import DriverSelection, DriverSelector


def _gauss_bic_class():
    """A pgmpy StructureScore with the BICGauss value, computed from the Gram matrix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgmpy's own deprecation notices on import
        from pgmpy.estimators import StructureScore

    class FastGaussBIC(StructureScore):
        """Gaussian BIC local score: llf - (p + 2) / 2 log n of the OLS of a node on its parents
        (p parents plus intercept; llf at the ML variance RSS / n), as pgmpy's ``BICGauss``."""

        def __init__(self, data: pd.DataFrame, **kwargs) -> None:
            super().__init__(data, **kwargs)
            arr = data.to_numpy(dtype=float)
            arr = arr - arr.mean(axis=0)
            self._n = arr.shape[0]
            self._gram = arr.T @ arr
            self._col = {c: i for i, c in enumerate(data.columns)}

        def local_score(self, variable, parents) -> float:
            n = self._n
            v = self._col[variable]
            rss = self._gram[v, v]
            p = list(parents)
            if p:
                idx = [self._col[q] for q in p]
                g = self._gram[np.ix_(idx, idx)]
                b = self._gram[idx, v]
                try:
                    rss = rss - b @ np.linalg.solve(g, b)
                except np.linalg.LinAlgError:
                    rss = rss - b @ np.linalg.pinv(g) @ b
            rss = max(float(rss), 1e-300)
            llf = -0.5 * n * (math.log(2.0 * math.pi * rss / n) + 1.0)
            return llf - (len(p) + 2) / 2.0 * math.log(n)

    return FastGaussBIC


def _fast_hill_climb_class():
    """pgmpy's ``HillClimbSearch`` with an equivalent, faster and deterministic move generator.

    pgmpy 1.x checks whether flipping X -> Y creates a cycle by enumerating every simple path from
    X to Y (exponential in dense graphs: minutes for 40 nodes), tests reachability for every
    ordered pair before looking at the forbidden edges, and iterates over a Python set, whose
    order depends on string hashing (``PYTHONHASHSEED``), so that score-equivalent moves (X -> Y
    and Y -> X from the empty graph) are chosen differently from one process to the next. This
    subclass yields the same moves with the same score changes: flipping is legal when Y is not
    reachable from X except through the edge itself, forbidden pairs are skipped first, and moves
    come in a fixed order (variables in data order, edges sorted), so ties go to the first.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import networkx as nx
        from pgmpy.estimators import HillClimbSearch

    class FastHillClimb(HillClimbSearch):
        def _legal_operations(self, model, score, structure_score, tabu_list, max_indegree,
                              forbidden_edges, required_edges):
            tabu = set(tabu_list)
            forbidden = set(forbidden_edges)
            required = set(required_edges)
            edges = sorted(model.edges())
            present = set(edges) | {(b, a) for a, b in edges}
            for x in self.variables:
                for y in self.variables:
                    if x == y or (x, y) in present or (x, y) in forbidden:
                        continue
                    op = ("+", (x, y))
                    if op in tabu or nx.has_path(model, y, x):
                        continue
                    old = model.get_parents(y)
                    if len(old) + 1 <= max_indegree:
                        yield op, score(y, [*old, x]) - score(y, old) + structure_score("+")
            for x, y in edges:
                op = ("-", (x, y))
                if op not in tabu and (x, y) not in required:
                    old = model.get_parents(y)
                    new = [v for v in old if v != x]
                    yield op, score(y, new) - score(y, old) + structure_score("-")
            for x, y in edges:
                op = ("flip", (x, y))
                if (op in tabu or ("flip", (y, x)) in tabu or (x, y) in required
                        or (y, x) in forbidden):
                    continue
                if any(nx.has_path(model, s, y) for s in model.successors(x) if s != y):
                    continue  # another path x -> ... -> y: the flip would close a cycle
                old_x, old_y = model.get_parents(x), model.get_parents(y)
                if len(old_x) + 1 <= max_indegree:
                    delta = (score(x, [*old_x, y]) + score(y, [v for v in old_y if v != x])
                             - score(x, old_x) - score(y, old_y))
                    yield op, delta + structure_score("flip")

    return FastHillClimb


def learn_network(data: pd.DataFrame, candidates: list[str], *, max_indegree: int | None,
                  tabu_length: int, max_iter: int, constituent_edges: bool = False,
                  starts: tuple[str, ...] = ("empty", "hypothesis")
                  ) -> tuple[Any, str, dict[str, float]]:
    """Hill-climbing search (pgmpy) with the fast Gaussian BIC from each start in ``starts``:
    ``'empty'`` (the empty graph) and ``'hypothesis'`` (the Commonality Principle's hypothesis,
    every candidate a parent of every constituent). The network with the higher total BIC is
    returned (ties: the earlier start), with the name of its start and every start's score.
    Candidate-candidate edges are forbidden, and constituent-constituent edges too unless
    ``constituent_edges``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.base import DAG
        from pgmpy.estimators import ExpertKnowledge

    cset = set(candidates)
    assets = [c for c in data.columns if c not in cset]
    forbidden = [(a, b) for a in candidates for b in candidates if a != b]
    if not constituent_edges:
        forbidden += [(a, b) for a in assets for b in assets if a != b]
    score = _gauss_bic_class()(data)
    full = DAG()
    full.add_nodes_from(data.columns)
    full.add_edges_from([(c, a) for c in candidates for a in assets])
    if max_indegree is not None and len(candidates) > max_indegree:
        full = None  # the hypothesis start would break the in-degree limit
    results: dict[str, tuple[Any, float]] = {}
    for name in starts:
        start = None if name == "empty" else full
        if name == "hypothesis" and full is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dag = _fast_hill_climb_class()(data).estimate(
                scoring_method=score, start_dag=start, tabu_length=tabu_length,
                max_indegree=max_indegree,
                expert_knowledge=ExpertKnowledge(forbidden_edges=forbidden),
                max_iter=max_iter, show_progress=False)
        total = sum(score.local_score(v, list(dag.predecessors(v))) for v in dag.nodes())
        results[name] = (dag, float(total))
    best = max(results, key=lambda k: (results[k][1], -list(starts).index(k)))
    return results[best][0], best, {k: v[1] for k, v in results.items()}


@attrs.define(frozen=True, kw_only=True)
class Bayesnet(DriverSelector):
    """Common drivers as the candidates parenting most constituents in a learned network."""

    name = "bayesnet"

    k: int = param(10, doc="largest number of drivers to select", validator=positive)
    window: int | None = param(None, doc="selection window in trading days (default: the "
                                         "backtest's driver window)", validator=positive)
    lags: tuple[int, ...] = param((0, 1), doc="lags l at which a candidate may act, X(t-l) vs "
                                  "Y(t); each enters at its most correlated lag",
                                  validator=[non_empty, unique_items, non_negative])
    prescreen: int = param(20, doc="candidates (largest summed |corr|) in the network; at "
                           "least k", validator=positive)
    max_indegree: int | None = param(None, doc="most parents per node (None: no limit)",
                                     validator=positive)
    tabu_length: int = param(100, doc="hill-climbing tabu list length", validator=non_negative)
    max_iter: int = param(100000, doc="most hill-climbing moves", validator=positive)
    start: Literal["both", "empty", "hypothesis"] = param(
        "both", doc="hill-climbing start: the empty graph, the hypothesis 'every candidate "
                    "causes every constituent' (slower), or both keeping the higher BIC")
    constituent_edges: bool = param(False, doc="allow edges between constituents (default: "
                                    "their dependence must go through candidates)")
    alpha: float = param(0.05, doc="level of the Fisher-z test counting constituent pairs "
                         "still dependent given the drivers",
                         validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        check_inputs(self.name, assets, candidates, k=self.k)
        pool = build_pool(self.name, assets, candidates, k=self.k, lags=self.lags,
                          prescreen=self.prescreen)
        t = pool.y.shape[0]
        if t <= len(pool.names) + pool.y.shape[1]:
            raise DataError(f"bayesnet: {t} usable observations for a network of "
                            f"{len(pool.names) + pool.y.shape[1]} variables; use a longer "
                            "window or a smaller prescreen")
        # exact duplicates make the Gaussian scores singular: keep the first of each group
        keep = _drop_duplicates(pool.x)
        cand = [pool.names[p] for p in keep]
        xs = pool.x[:, keep] / pool.x[:, keep].std(axis=0)
        ys = pool.y / np.where(pool.y.std(axis=0) > 0, pool.y.std(axis=0), 1.0)
        asset_names = [str(a) for a in assets.columns]
        data = pd.DataFrame(np.column_stack([xs, ys]), columns=cand + asset_names)
        try:
            dag, start, bic = learn_network(data, cand, max_indegree=self.max_indegree,
                                tabu_length=self.tabu_length, max_iter=self.max_iter,
                                constituent_edges=self.constituent_edges,
                                starts=("empty", "hypothesis") if self.start == "both"
                                else (self.start,))
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise NumericalError(f"bayesnet: structure learning failed ({exc})") from None
        aset = set(asset_names)
        edges = [(str(u), str(v)) for u, v in dag.edges()]
        children = {c: sorted(v for u, v in edges if u == c and v in aset) for c in cand}
        parents = {c: sorted(u for u, v in edges if v == c and u in aset) for c in cand}
        order = sorted(cand, key=lambda c: (-len(children[c]), len(parents[c]),
                                            -round(pool.strength[c], 12), c))
        chosen = [c for c in order if children[c]][: self.k] or order[:1]
        pos = {n: i for i, n in enumerate(pool.names)}
        dep, pairs = dependent_pairs(pool.y, pool.x[:, [pos[c] for c in chosen]], self.alpha)
        dep0, _ = dependent_pairs(pool.y, pool.x[:, :0], self.alpha)
        names_all = [str(c) for c in candidates.columns]
        frame = pd.DataFrame(index=pd.Index(names_all, name="candidate"))
        frame["lag"] = [pool.lag_of.get(n, -1) for n in names_all]
        frame["strength"] = [pool.strength.get(n, 0.0) for n in names_all]
        frame["prescreened"] = [n in pos for n in names_all]
        frame["children"] = [len(children.get(n, ())) for n in names_all]
        frame["parents"] = [len(parents.get(n, ())) for n in names_all]
        rank = {c: i + 1 for i, c in enumerate(order)}
        frame["rank"] = [rank.get(n, 0) for n in names_all]
        return DriverSelection(
            names=chosen, scores=frame, specific_to={c: tuple(children[c]) for c in chosen},
            objective=float(dep),
            info={"method": "bayesnet", "dependent_pairs": dep, "dependent_pairs_empty": dep0,
                  "pairs": pairs, "alpha": self.alpha, "start": start, "bic": bic,
                  "edges": [list(e) for e in edges],
                  "lags": {c: pool.lag_of[c] for c in chosen},
                  "dropped_duplicates": [n for i, n in enumerate(pool.names) if i not in keep],
                  "pool_size": len(pool.names), "n_candidates": len(names_all),
                  "constant": pool.constant})


def _drop_duplicates(x: np.ndarray) -> list[int]:
    """Indices of columns to keep: a column perfectly correlated (|r| > 1 - 1e-12) with an
    earlier kept one is dropped."""
    xs = x / np.sqrt((x**2).sum(axis=0))
    keep: list[int] = []
    for j in range(x.shape[1]):
        if not keep or np.max(np.abs(xs[:, keep].T @ xs[:, j])) < 1 - 1e-12:
            keep.append(j)
    return keep


@hookimpl
def register_drivers(register):
    register(Bayesnet)
