"""``equal``: the 1/N benchmark (SPEC §5)."""

from __future__ import annotations

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.stages import Allocation, MappingInputs, RiskMapping
from causalfolio.weights import check_bounds


@attrs.define(frozen=True, kw_only=True)
class Equal(RiskMapping):
    """Equal weights 1/N (within any feasible bounds, since min <= 1/N <= max)."""

    name = "equal"
    needs_sensitivities = False

    def allocate(self, inputs: MappingInputs) -> Allocation:
        n = len(inputs.assets)
        check_bounds(n, *inputs.bounds)
        return Allocation(weights=pd.Series(np.full(n, 1.0 / n), index=list(inputs.assets)))


@hookimpl
def register_mappings(register):
    register(Equal)
