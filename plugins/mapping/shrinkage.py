"""``shrinkage``: weights inverse to the volatility shrunk towards that of sensitivity-space
neighbours (SPEC §5; monograph §8.2, "distance-weighted shrinkage").

sigma^_i = (1 - delta) sigma_i + delta * m_i, where m_i is the mean volatility of the k nearest
neighbours of asset i in sensitivity space (uniform, or weighted by inverse distance); weights
proportional to sigma^-power, projected onto the bounds. delta = 1 uses neighbours only.
"""

from __future__ import annotations

from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.params import in_range, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._optim import require_distance
from ._optim_geometry import asset_risk, risk_weights


def neighbour_mean(d: np.ndarray, values: np.ndarray, k: int, weighting: str) -> np.ndarray:
    """Mean of ``values`` over each row's k nearest other points (ties by index, stable)."""
    n = len(d)
    k = min(k, n - 1)
    out = np.empty(n)
    for i in range(n):
        others = np.delete(np.arange(n), i)
        nn = others[np.argsort(d[i, others], kind="stable")[:k]]
        if weighting == "inverse_distance":
            wts = 1.0 / np.maximum(d[i, nn], 1e-12 * max(float(d.max()), 1e-300))
        else:
            wts = np.ones(len(nn))
        out[i] = float(wts @ values[nn] / wts.sum())
    return out


@attrs.define(frozen=True, kw_only=True)
class Shrinkage(RiskMapping):
    """Inverse of volatility shrunk towards the mean volatility of sensitivity neighbours."""

    name = "shrinkage"

    neighbours: int = param(3, doc="k nearest neighbours in sensitivity space (capped at N-1)",
                            validator=positive)
    intensity: float = param(0.5, doc="shrinkage delta in [0, 1] towards the neighbours' mean",
                             validator=in_range(0.0, 1.0))
    weighting: Literal["uniform", "inverse_distance"] = param(
        "uniform", doc="neighbour average: uniform or weighted by 1/distance")
    power: float = param(1.0, doc="weights proportional to shrunk risk^-power",
                         validator=positive)
    window: int | None = param(None, doc="volatility window in trading days",
                               validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        d = require_distance(inputs, self.name)
        sigma = asset_risk(inputs)
        if len(sigma) == 1:
            shrunk = sigma
        else:
            m = neighbour_mean(d, sigma, self.neighbours, self.weighting)
            shrunk = (1.0 - self.intensity) * sigma + self.intensity * m
        return risk_weights(inputs, shrunk, self.power, {"raw_risk": sigma.tolist()})


@hookimpl
def register_mappings(register):
    register(Shrinkage)
