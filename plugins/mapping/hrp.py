"""``hrp``: Hierarchical Risk Parity on correlation distance (de Prado 2016; SPEC §5)."""

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
    Shrinkage,
    correlation_distance,
    covariance,
    in_canonical_order,
)
from .hsp import hierarchical_weights

__all__ = ["Hrp", "correlation_distance"]


@attrs.define(frozen=True, kw_only=True)
class Hrp(RiskMapping):
    """Hierarchical Risk Parity: cluster on correlation distance, bisect on covariance."""

    name = "hrp"
    renamed_params = RENAMED_COVARIANCE
    group_constraints = False  # per-asset bounds only (see _hierarchy.in_canonical_order)
    needs_sensitivities = False

    linkage: Linkage = param("single", doc="linkage method: single, complete, average, ward")
    distance_of_distances: bool = param(
        False, doc="cluster on distances between columns of the correlation-distance matrix "
                   "(de Prado's original code); False matches PyPortfolioOpt and skfolio")
    optimal_ordering: bool = param(False, doc="optimal leaf ordering of the dendrogram; False "
                                              "(raw order) matches PyPortfolioOpt, True "
                                              "matches skfolio's default seriation")
    covariance: Shrinkage = param(
        "sample", doc="covariance estimator: sample or ledoit_wolf")
    shrinkage: str | None = param(None, doc=SHRINKAGE_DOC)
    merge_twins: bool = param(False, doc="allocate exact duplicates as one asset and split "
                                         "its weight equally between them")
    window: int | None = param(None, doc="covariance window in trading days",
                               validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        def run(inp: MappingInputs, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, dict[str, Any]]:
            cov = covariance(inp, self.covariance)
            return hierarchical_weights(correlation_distance(cov), cov, inp.assets,
                                        linkage=self.linkage,
                                        distance_of_distances=self.distance_of_distances,
                                        optimal=self.optimal_ordering, bounds=(lo, hi))

        w, diag = in_canonical_order(inputs, run, merge_twins=self.merge_twins,
                                     owner=self.name)
        return Allocation(weights=w, diagnostics=diag)


@hookimpl
def register_mappings(register):
    register(Hrp)
