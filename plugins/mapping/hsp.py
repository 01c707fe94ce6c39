"""``hsp``: Hierarchical Sensitivity Parity (SPEC §5, monograph §9, Algorithm 2)."""

from __future__ import annotations

from typing import Literal

import attrs
import numpy as np
import pandas as pd
from causalfolio import hookimpl
from causalfolio.params import param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping
from scipy.cluster.hierarchy import leaves_list

from ._hierarchy import linkage_matrix, nearest_psd, recursive_bisection

Linkage = Literal["single", "complete", "average", "ward"]


def hierarchical_weights(dist: np.ndarray, cov: np.ndarray, assets: tuple[str, ...], *,
                         linkage: str, distance_of_distances: bool, optimal: bool,
                         bounds: tuple[float, float]) -> Allocation:
    """Linkage on ``dist``, quasi-diagonal order, recursive bisection on ``cov``."""
    n = len(assets)
    if n == 1:
        return Allocation(weights=pd.Series([1.0], index=list(assets)),
                          diagnostics={"order": [assets[0]]})
    z = linkage_matrix(dist, linkage, distance_of_distances=distance_of_distances,
                       optimal=optimal)
    order = leaves_list(z)
    w, splits = recursive_bisection(cov, order, *bounds)
    return Allocation(
        weights=pd.Series(w, index=list(assets)),
        diagnostics={"order": [assets[i] for i in order], "linkage": z.tolist(),
                     "splits": splits},
    )


@attrs.define(frozen=True, kw_only=True)
class Hsp(RiskMapping):
    """Hierarchical Sensitivity Parity: cluster in sensitivity space, bisect on covariance."""

    name = "hsp"

    psd: bool = param(True, doc="replace the distance matrix by its nearest PSD matrix "
                                "(Higham 1988), as in §9")
    distance_of_distances: bool = param(
        True, doc="cluster on Euclidean distances between columns of the matrix (eq. 22)")
    linkage: Linkage = param("single", doc="linkage method: single, complete, average, ward")
    optimal_ordering: bool = param(False, doc="optimal leaf ordering of the dendrogram")
    window: int | None = param(None, doc="covariance window in trading days (default: the "
                                         "backtest's covariance window, 3 months)",
                               validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        dist = np.asarray(inputs.distance, dtype=float)
        if self.psd:
            dist = nearest_psd(dist)
        return hierarchical_weights(dist, inputs.covariance(), inputs.assets,
                                    linkage=self.linkage,
                                    distance_of_distances=self.distance_of_distances,
                                    optimal=self.optimal_ordering, bounds=inputs.bounds)


@hookimpl
def register_mappings(register):
    register(Hsp)
