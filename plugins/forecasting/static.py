"""``static``: no forecast; the distance matrix of the aggregate sensitivities (SPEC §4)."""

from __future__ import annotations

import attrs

from causalfolio import hookimpl
from causalfolio.stages import DistanceForecast, Sensitivities, SensitivityForecaster


@attrs.define(frozen=True, kw_only=True)
class Static(SensitivityForecaster):
    """The current sensitivity distance matrix, unchanged over the horizon (the HSP of §9)."""

    name = "static"

    def forecast(self, sens: Sensitivities, *, horizon: int, seed: int) -> DistanceForecast:
        return DistanceForecast(distance=sens.distance, assets=sens.assets, horizon=0,
                                info={"model": "static"})


@hookimpl
def register_forecasters(register):
    register(Static)
