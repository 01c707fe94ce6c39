"""Stage interfaces: one base class per stage and the immutable values stages pass on."""

from .base import STAGES, Component, ParamInfo, fingerprint
from .drivers import DriverSelection, DriverSelector
from .dynamics import DynamicsModel, FittedDynamics, input_name, lagged_design
from .forecasting import DistanceForecast, SensitivityForecaster
from .mapping import Allocation, MappingInputs, RiskMapping
from .sensitivities import (
    Sensitivities,
    SensitivityExtractor,
    aggregate_series,
    distance_matrix,
)

STAGE_BASES: dict[str, type[Component]] = {
    "drivers": DriverSelector,
    "dynamics": DynamicsModel,
    "sensitivities": SensitivityExtractor,
    "forecasting": SensitivityForecaster,
    "mapping": RiskMapping,
}
"""Stage name -> the base class its components must subclass."""

__all__ = [
    "STAGES", "STAGE_BASES", "Component", "ParamInfo", "fingerprint",
    "DriverSelection", "DriverSelector", "DynamicsModel", "FittedDynamics", "input_name",
    "lagged_design", "DistanceForecast", "SensitivityForecaster", "Allocation", "MappingInputs",
    "RiskMapping", "SensitivityExtractor", "Sensitivities", "aggregate_series", "distance_matrix",
]
