"""``herc``: Hierarchical Equal Risk Contribution (Raffinot 2018; SPEC §5, monograph §8.1).

1. Tree on the sensitivity or correlation distance (Ward linkage by default, as Raffinot).
2. Cut it into k clusters: given, or chosen automatically as the k (2 <= k <= max(8, sqrt N))
   maximising the second-order difference of the within-cluster dispersion (sum over clusters
   of the mean pairwise distance), skfolio's deterministic variant of Raffinot's gap rule.
3. Inside each cluster, naive risk parity: weights proportional to 1 / (each asset's own risk).
4. Top-down along the dendrogram (not by position), each node's weight is split between its
   two subtrees by ``alpha = 1 - R_left / (R_left + R_right)``, ``R`` = the sum of the risks
   of the clusters below, each cluster's risk being that of its step-3 portfolio.
Risk measures: variance, standard deviation, or historical CVaR of the trailing returns.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.errors import NumericalError, ParameterError
from causalfolio.params import in_range, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._hierarchy import (
    RENAMED_COVARIANCE,
    SHRINKAGE_DOC,
    DistanceKind,
    Linkage,
    NeedsSensitivitiesIfSensitivityDistance,
    Shrinkage,
    bounded_proportional,
    condensed,
    covariance,
    in_canonical_order,
    leaf_order,
    linkage_matrix,
    risk_contributions,
    split_range,
    tree_diagnostics,
)
from .schur import tree_distance

RiskMeasure = Literal["variance", "std", "cvar"]


def historical_cvar(returns: np.ndarray, beta: float) -> np.ndarray | float:
    """CVaR at level ``beta`` of return series (T,) or (T, N), as a positive loss.

    Mean of the worst ``k = (1 - beta) T`` returns, the last one counted fractionally
    (Rockafellar-Uryasev on the empirical distribution, as skfolio's ``cvar``).
    """
    x = np.sort(np.asarray(returns, dtype=float), axis=0)
    t = x.shape[0]
    k = (1.0 - beta) * t
    i = max(0, int(np.ceil(k) - 1))
    return -(x[:i].sum(axis=0) + (k - i) * x[i]) / k


def optimal_n_clusters(dist: np.ndarray, z: np.ndarray) -> int:
    """Number of clusters maximising the second-order difference of the dispersion.

    ``dist`` (N, N) is the matrix the tree was built from; dispersion(k) = sum over the k
    clusters of the mean pairwise distance inside each. Candidates k = 1..max(8, round(sqrt N))
    (at most N); the rule picks argmax_k disp(k) + disp(k+2) - 2 disp(k+1) over k >= 1, plus 1
    (skfolio's ``compute_optimal_n_clusters``). Two assets give 2.
    """
    from scipy.cluster.hierarchy import cut_tree
    from scipy.spatial.distance import squareform

    n = len(dist)
    if n <= 2:
        return n
    levels = cut_tree(z)
    kmax = min(n, max(8, round(np.sqrt(n))))
    disp = []
    for k in range(kmax):
        level = levels[:, n - k - 1]
        total = 0.0
        for c in range(int(level.max()) + 1):
            idx = np.flatnonzero(level == c)
            if len(idx) > 1:
                total += float(squareform(dist[np.ix_(idx, idx)], checks=False).mean())
        disp.append(total)
    d = np.asarray(disp)
    gaps = (np.roll(d, -2) + d - 2 * np.roll(d, -1))[:-2]
    return int(np.argmax(gaps)) + 2 if len(gaps) else min(2, n)


@attrs.define(frozen=True, kw_only=True)
class Herc(RiskMapping):
    """Hierarchical Equal Risk Contribution: risk parity across tree clusters, then inside."""

    name = "herc"
    renamed_params = RENAMED_COVARIANCE
    group_constraints = False  # per-asset bounds only (see _hierarchy.in_canonical_order)

    n_clusters: int | None = param(None, doc="number of clusters; None: chosen automatically "
                                             "(second-order difference of the dispersion)",
                                   validator=positive)
    risk_measure: RiskMeasure = param("variance", doc="risk of assets and clusters: "
                                                      "variance, std, or cvar")
    cvar_beta: float = param(0.95, doc="CVaR confidence level (worst 1 - beta of the days)",
                             validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))
    distance: DistanceKind = param("auto", doc="tree from: sensitivity distance, correlation "
                                               "distance, or auto (sensitivity when the spec "
                                               "has five stages, correlation alone)")
    psd: bool = param(False, doc="sensitivity distance: nearest PSD matrix first (Higham; "
                                  "the literal §9 reproduction, rank one, see SPEC §5)")
    distance_of_distances: bool | None = param(
        None, doc="cluster on distances between columns (eq. 22); default: True on "
                  "sensitivity distance, False on correlation")
    linkage: Linkage = param("ward", doc="linkage method: single, complete, average, ward")
    covariance: Shrinkage = param(
        "sample", doc="covariance estimator: sample or ledoit_wolf")
    shrinkage: str | None = param(None, doc=SHRINKAGE_DOC)
    merge_twins: bool = param(False, doc="allocate exact duplicates as one asset and split "
                                         "its weight equally between them")
    window: int | None = param(None, doc="covariance / CVaR window in trading days",
                               validator=positive)

    needs_sensitivities = NeedsSensitivitiesIfSensitivityDistance()  # type: ignore[assignment]

    def validate(self) -> None:
        if self.risk_measure != "cvar" and self.cvar_beta != 0.95:
            raise ParameterError("herc: parameter 'cvar_beta' only applies with "
                                 "risk_measure=cvar")

    def _risk(self, w: np.ndarray, cov: np.ndarray, r: np.ndarray) -> float:
        if self.risk_measure == "variance":
            return float(w @ cov @ w)
        if self.risk_measure == "std":
            return float(np.sqrt(max(w @ cov @ w, 0.0)))
        return float(historical_cvar(r @ w, self.cvar_beta))

    def allocate(self, inputs: MappingInputs) -> Allocation:
        w, diag = in_canonical_order(inputs, self._run, merge_twins=self.merge_twins,
                                     owner=self.name)
        return Allocation(weights=w, diagnostics=diag)

    def _run(self, inp: MappingInputs, lo: np.ndarray, hi: np.ndarray
             ) -> tuple[np.ndarray, dict[str, Any]]:
        from scipy.cluster.hierarchy import fcluster, to_tree
        from scipy.spatial.distance import squareform

        assets = inp.assets
        n = len(assets)
        dist, kind, dod = tree_distance(self, inp)
        cov = covariance(inp, self.covariance)
        r = inp.returns.to_numpy(dtype=float)
        if n == 1:
            return np.ones(1), {"order": list(assets), "distance": kind, "n_clusters": 1}
        if self.n_clusters is not None and self.n_clusters > n:
            raise ParameterError(f"herc: n_clusters={self.n_clusters} exceeds the {n} assets; "
                                 "lower it or leave it out (automatic)")
        z = linkage_matrix(dist, self.linkage, distance_of_distances=dod)
        if self.n_clusters is None:
            # the dispersion uses the distances the tree was built on
            tree_d = squareform(condensed(dist, dod))
            k = optimal_n_clusters(tree_d, z)
        else:
            k = self.n_clusters
        labels = fcluster(z, t=k, criterion="maxclust") - 1
        clusters = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]

        if self.risk_measure == "variance":
            unit = np.diag(cov).copy()
        elif self.risk_measure == "std":
            unit = np.sqrt(np.diag(cov))
        else:
            unit = np.asarray(historical_cvar(r, self.cvar_beta), dtype=float)
        if not np.all(np.isfinite(unit)) or np.any(unit <= 0):
            bad = [assets[i] for i in np.flatnonzero(~(unit > 0))]
            raise NumericalError(
                f"herc: non-positive {self.risk_measure} for {bad[:5]} over the window (for "
                "CVaR: no losses in the tail); use risk_measure=variance or a longer window")
        inner = []
        c_risk = np.empty(len(clusters))
        for c, idx in enumerate(clusters):
            p = np.zeros(n)
            p[idx] = 1.0 / unit[idx]
            p /= p.sum()
            inner.append(p[idx])
            c_risk[c] = self._risk(p, cov, r)
        if not np.all(c_risk > 0):
            raise NumericalError(f"herc: a cluster has non-positive {self.risk_measure}; use "
                                 "risk_measure=variance or a longer window")

        c_total = np.ones(len(clusters))
        splits: list[dict[str, Any]] = []
        cluster_of = {frozenset(idx.tolist()): c for c, idx in enumerate(clusters)}

        def recurse(node: Any, total: float) -> None:
            leaves = frozenset(node.pre_order())
            if leaves in cluster_of:
                c_total[cluster_of[leaves]] = total
                return
            left, right = node.get_left(), node.get_right()
            ls, rs = set(left.pre_order()), set(right.pre_order())
            lc = [c for c, idx in enumerate(clusters) if set(idx.tolist()) <= ls]
            rc = [c for c, idx in enumerate(clusters) if set(idx.tolist()) <= rs]
            r_l, r_r = float(c_risk[lc].sum()), float(c_risk[rc].sum())
            alpha = 1.0 - r_l / (r_l + r_r)
            li, ri = list(ls), list(rs)
            a, b = split_range(total, lo[li].sum(), hi[li].sum(), lo[ri].sum(), hi[ri].sum())
            bounded = min(max(alpha, a), b)
            splits.append({"left": sorted(assets[i] for i in ls),
                           "right": sorted(assets[i] for i in rs), "risk_left": r_l,
                           "risk_right": r_r, "alpha": alpha, "alpha_bounded": bounded})
            recurse(left, total * bounded)
            recurse(right, total * (1.0 - bounded))

        recurse(to_tree(z), 1.0)
        w = np.zeros(n)
        for c, idx in enumerate(clusters):
            w[idx] = bounded_proportional(inner[c], c_total[c], lo[idx], hi[idx])
        order = leaf_order(z)
        diag = tree_diagnostics(z, order, assets)
        diag.update({
            "distance": kind, "n_clusters": len(clusters),
            "clusters": [[assets[i] for i in idx] for idx in clusters],
            "cluster_risk": c_risk.tolist(), "cluster_weight": c_total.tolist(),
            "risk_measure": self.risk_measure, "splits": splits,
            "risk_contributions": dict(zip(assets, risk_contributions(w, cov).tolist(),
                                           strict=True)),
        })
        return w, diag


@hookimpl
def register_mappings(register):
    register(Herc)
