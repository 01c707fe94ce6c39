"""``hrp``: Hierarchical Risk Parity on correlation distance (de Prado 2016; SPEC §5)."""

from __future__ import annotations

from typing import Literal

import attrs
import numpy as np
from causalfolio import hookimpl
from causalfolio.params import param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from .hsp import hierarchical_weights

Linkage = Literal["single", "complete", "average", "ward"]


def correlation_distance(cov: np.ndarray) -> np.ndarray:
    """sqrt((1 - rho) / 2) from a covariance matrix; zero-variance assets get rho = 0."""
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = cov / np.outer(sd, sd)
    rho[~np.isfinite(rho)] = 0.0
    np.fill_diagonal(rho, 1.0)
    return np.sqrt(np.clip((1.0 - np.clip(rho, -1.0, 1.0)) / 2.0, 0.0, None))


@attrs.define(frozen=True, kw_only=True)
class Hrp(RiskMapping):
    """Hierarchical Risk Parity: cluster on correlation distance, bisect on covariance."""

    name = "hrp"
    needs_sensitivities = False

    linkage: Linkage = param("single", doc="linkage method: single, complete, average, ward")
    distance_of_distances: bool = param(
        False, doc="cluster on distances between columns of the correlation-distance matrix "
                   "(de Prado's original code); False matches PyPortfolioOpt and skfolio")
    optimal_ordering: bool = param(False, doc="optimal leaf ordering of the dendrogram")
    window: int | None = param(None, doc="covariance window in trading days",
                               validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        cov = inputs.covariance()
        return hierarchical_weights(correlation_distance(cov), cov, inputs.assets,
                                    linkage=self.linkage,
                                    distance_of_distances=self.distance_of_distances,
                                    optimal=self.optimal_ordering, bounds=inputs.bounds)


@hookimpl
def register_mappings(register):
    register(Hrp)
