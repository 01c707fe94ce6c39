"""``inverse_vol``: inverse-volatility benchmark (SPEC §5)."""

from __future__ import annotations

from typing import Any

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.params import in_range, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._hierarchy import bounded_proportional, covariance, in_canonical_order, risk_contributions


@attrs.define(frozen=True, kw_only=True)
class InverseVol(RiskMapping):
    """Weights proportional to 1 / sigma_i^power on the trailing window, within the bounds
    (water-filling); with group / linear constraints, projected onto them."""

    name = "inverse_vol"
    needs_sensitivities = False

    power: float = param(1.0, doc="exponent of the volatility: 1 inverse volatility, "
                                  "2 inverse variance", validator=in_range(0.0, 10.0))
    window: int | None = param(None, doc="volatility window in trading days",
                               validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        def run(inp: MappingInputs, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, dict[str, Any]]:
            cov = covariance(inp)
            vol = np.sqrt(np.diag(cov))
            w = bounded_proportional(vol ** -self.power, 1.0, lo, hi)
            return w, {"volatility": dict(zip(inp.assets, vol.tolist(), strict=True)),
                       "risk_contributions": dict(zip(
                           inp.assets, risk_contributions(w, cov).tolist(), strict=True))}

        w, diag = in_canonical_order(inputs, run, owner=self.name, linear="project")
        return Allocation(weights=w, diagnostics=diag)


@hookimpl
def register_mappings(register):
    register(InverseVol)
