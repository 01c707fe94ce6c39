"""``kernel``: volatility smoothed over neighbours in sensitivity space (SPEC §5; monograph §8.2).

sigma~_i = sum_j K_ij sigma_j / sum_j K_ij with K = exp(-D^2 / (2 h^2)) (Nadaraya-Watson
smoothing of the volatility surface over the sensitivity space); weights proportional to
sigma~^-power, projected onto the bounds. h -> 0 gives inverse volatility, h -> inf equal weights.
"""

from __future__ import annotations

from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio.params import in_range, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._optim import bandwidth, gaussian_kernel, require_distance
from ._optim_geometry import asset_risk, risk_weights


@attrs.define(frozen=True, kw_only=True)
class Kernel(RiskMapping):
    """Inverse of the kernel-smoothed volatility over sensitivity-space neighbours."""

    name = "kernel"

    bandwidth: float | None = param(None, doc="kernel bandwidth h in sensitivity-distance units "
                                              "(default: median off-diagonal distance)",
                                    validator=positive)
    scale: float = param(1.0, doc="multiplier of the bandwidth (handy with the default h)",
                         validator=positive)
    power: float = param(1.0, doc="weights proportional to smoothed risk^-power (2: inverse "
                                  "variance)", validator=positive)
    risk: Literal["volatility", "cvar"] = param("volatility", doc="per-asset risk smoothed: "
                                                                "volatility or historical CVaR")
    alpha: float = param(0.95, doc="CVaR confidence level when risk='cvar'",
                         validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))
    window: int | None = param(None, doc="volatility window in trading days",
                               validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        d = require_distance(inputs, self.name)
        h = bandwidth(d, self.bandwidth) * self.scale
        k = gaussian_kernel(d, h)
        sigma = asset_risk(inputs, self.risk, self.alpha)
        smooth = k @ sigma / k.sum(axis=1)
        return risk_weights(inputs, smooth, self.power,
                            {"bandwidth": h, "raw_risk": sigma.tolist()})


@hookimpl
def register_mappings(register):
    register(Kernel)
