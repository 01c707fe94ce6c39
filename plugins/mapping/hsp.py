"""``hsp``: Hierarchical Sensitivity Parity (SPEC §5, monograph §9, Algorithm 2, eq. 22-25)."""

from __future__ import annotations

from typing import Any

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.params import param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._hierarchy import (
    RENAMED_COVARIANCE,
    SHRINKAGE_DOC,
    Linkage,
    SensitivityCovariance,
    checked_distance,
    covariance,
    in_canonical_order,
    leaf_order,
    linkage_matrix,
    name_records,
    nearest_psd,
    recursive_bisection,
    risk_contributions,
    tree_diagnostics,
)


def hierarchical_weights(dist: np.ndarray, cov: np.ndarray, assets: tuple[str, ...], *,
                         linkage: str, distance_of_distances: bool, optimal: bool,
                         bounds: tuple[np.ndarray | float, np.ndarray | float] = (0.0, 1.0)
                         ) -> tuple[np.ndarray, dict[str, Any]]:
    """Linkage on ``dist`` (N, N), quasi-diagonal order, recursive bisection on ``cov`` (N, N)
    with per-asset ``bounds`` (scalars or arrays (N,)).

    Returns weights (N,) in the order of ``assets`` and diagnostics: the linkage tree and
    order, each split's half variances and shares (``v_left``, ``v_right``, ``alpha``,
    ``alpha_bounded``), and each asset's share of portfolio variance.
    """
    n = len(assets)
    if n == 1:
        return np.ones(1), {"order": [assets[0]], "risk_contributions": {assets[0]: 1.0}}
    z = linkage_matrix(dist, linkage, distance_of_distances=distance_of_distances,
                       optimal=optimal)
    order = leaf_order(z)
    w, splits = recursive_bisection(cov, order, *bounds)
    diag = tree_diagnostics(z, order, assets)
    diag["splits"] = name_records(splits, assets)
    diag["risk_contributions"] = dict(zip(assets, risk_contributions(w, cov).tolist(),
                                          strict=True))
    return w, diag


@attrs.define(frozen=True, kw_only=True)
class Hsp(RiskMapping):
    """Hierarchical Sensitivity Parity: cluster in sensitivity space, bisect on covariance."""

    name = "hsp"
    renamed_params = RENAMED_COVARIANCE
    group_constraints = False  # per-asset bounds only (see _hierarchy.in_canonical_order)

    psd: bool = param(False, doc="replace the distance matrix by its nearest PSD matrix "
                                 "(Higham 1988): the literal §9 reproduction (rank one on a "
                                 "Euclidean distance matrix, see SPEC §5)")
    distance_of_distances: bool = param(
        True, doc="cluster on Euclidean distances between columns of the matrix (eq. 22)")
    linkage: Linkage = param("single", doc="linkage method: single, complete, average, ward")
    optimal_ordering: bool = param(False, doc="optimal leaf ordering of the dendrogram "
                                              "(False: raw dendrogram order)")
    covariance: SensitivityCovariance = param(
        "sample", doc="covariance estimator of the bisection: sample, ledoit_wolf, or "
                    "implied (B Sigma_D B' + diag(Sigma_res) from the sensitivities, §8.4)")
    shrinkage: str | None = param(None, doc=SHRINKAGE_DOC)
    merge_twins: bool = param(False, doc="allocate exact duplicates as one asset and split "
                                         "its weight equally between them")
    window: int | None = param(None, doc="covariance window in trading days (default: the "
                                         "backtest's covariance window, 3 months)",
                               validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        def run(inp: MappingInputs, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, dict[str, Any]]:
            dist = checked_distance(inp, self.name)
            cov = covariance(inp, self.covariance)
            if self.psd:
                dist = nearest_psd(dist)
            return hierarchical_weights(dist, cov, inp.assets, linkage=self.linkage,
                                        distance_of_distances=self.distance_of_distances,
                                        optimal=self.optimal_ordering, bounds=(lo, hi))

        w, diag = in_canonical_order(inputs, run, merge_twins=self.merge_twins,
                                     owner=self.name)
        return Allocation(weights=w, diagnostics=diag)


@hookimpl
def register_mappings(register):
    register(Hsp)
