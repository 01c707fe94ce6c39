"""An example third-party causalfolio plugin.

It adds the risk mapping ``isolation``: each asset is weighted by how far it sits from the others
in sensitivity space (its mean sensitivity distance), raised to a power, so assets that respond to
the common drivers unlike the rest get more weight. Installed with this package, it is available in
spec strings as the last stage, e.g. ``rccp(k=5)|linear|beta|static|isolation(power=2)``.

The package declares, in its pyproject.toml::

    [project.entry-points.causalfolio]
    isolation = "causalfolio_example_plugin"
"""

from __future__ import annotations

import attrs
import numpy as np
import pandas as pd

from causalfolio import hookimpl
from causalfolio.params import param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping


@attrs.define(frozen=True, kw_only=True)
class Isolation(RiskMapping):
    """Weights proportional to each asset's mean sensitivity distance to the others, ** power."""

    name = "isolation"

    power: float = param(1.0, doc="exponent on the mean distance (0 gives equal weights)",
                         validator=positive)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        d = np.asarray(inputs.distance, dtype=float)
        n = len(d)
        mean_dist = d.sum(axis=1) / max(n - 1, 1)
        score = mean_dist**self.power
        if not np.isfinite(score).all() or score.sum() <= 0:
            # all assets coincide in sensitivity space: nothing to prefer
            score = np.ones(n)
        w = score / score.sum()
        return Allocation(weights=pd.Series(w, index=list(inputs.assets)),
                          diagnostics={"mean_distance": mean_dist.tolist()})


@hookimpl
def register_mappings(register):
    register(Isolation)
