"""``beta``: analytic sensitivities of linear models, the coefficients (SPEC §3, §8.3.1)."""

from __future__ import annotations

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.errors import ConfigError
from causalfolio.stages import FittedDynamics, SensitivityExtractor


@attrs.define(frozen=True, kw_only=True)
class Beta(SensitivityExtractor):
    """Constant sensitivities of a linear model: S[t, i, j] = B[i, j] for every sample."""

    name = "beta"

    def per_sample(self, model: FittedDynamics, x: np.ndarray) -> np.ndarray:
        coef = model.coefficients()
        if coef is None:
            raise ConfigError(
                f"beta needs a linear dynamics model; {type(model).__name__} has no constant "
                "coefficients: use 'aad' for neural nets or 'fd' for any model"
            )
        return np.broadcast_to(coef, (x.shape[0], *coef.shape)).copy()


@hookimpl
def register_sensitivities(register):
    register(Beta)
