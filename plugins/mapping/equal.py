"""``equal``: the 1/N benchmark (SPEC §5)."""

from __future__ import annotations

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.stages import Allocation, MappingInputs, RiskMapping


@attrs.define(frozen=True, kw_only=True)
class Equal(RiskMapping):
    """Equal weights 1/N (within any feasible uniform bounds, since min <= 1/N <= max); with
    per-asset bounds or group constraints, the feasible weights closest to 1/N."""

    name = "equal"
    needs_sensitivities = False

    def allocate(self, inputs: MappingInputs) -> Allocation:
        n = len(inputs.assets)
        limits = inputs.constraints
        if limits.uniform_bounds and not limits.has_linear:
            limits.check_bounds(self.name)
            w = np.full(n, 1.0 / n)
        else:  # the feasible weights closest to 1/N
            w = limits.project(np.full(n, 1.0 / n))
        return Allocation(weights=pd.Series(w, index=list(inputs.assets)))


@hookimpl
def register_mappings(register):
    register(Equal)
