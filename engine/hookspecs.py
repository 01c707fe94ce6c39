"""Plugin hook specifications: one ``register_*`` hook per pipeline stage.

A plugin is a module (or object) with functions decorated by :data:`causalfolio.hookimpl`. Each
hook receives a ``register`` callable; call it once per component class::

    from causalfolio import hookimpl

    @hookimpl
    def register_mappings(register):
        register(MyMapping)

The component's spec name is its class attribute ``name``. Built-in components register exactly
this way (modules under ``causalfolio.plugins``); third-party packages declare an entry point in
the group ``causalfolio`` pointing at their plugin module.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT = "causalfolio"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_drivers(register: Callable[[type], None]) -> None:
    """Register driver selectors (subclasses of :class:`causalfolio.stages.DriverSelector`)."""


@hookspec
def register_dynamics(register: Callable[[type], None]) -> None:
    """Register dynamics models (subclasses of :class:`causalfolio.stages.DynamicsModel`)."""


@hookspec
def register_sensitivities(register: Callable[[type], None]) -> None:
    """Register sensitivity extractors (subclasses of
    :class:`causalfolio.stages.SensitivityExtractor`)."""


@hookspec
def register_forecasters(register: Callable[[type], None]) -> None:
    """Register sensitivity forecasters (subclasses of
    :class:`causalfolio.stages.SensitivityForecaster`)."""


@hookspec
def register_mappings(register: Callable[[type], None]) -> None:
    """Register risk mappings (subclasses of :class:`causalfolio.stages.RiskMapping`)."""


@hookspec
def register_estimators(register: Callable[..., None]) -> None:
    """Register regressors for the ``sklearn`` dynamics model's ``estimator=`` parameter.

    Call ``register(name, factory, defaults=None)`` once per estimator: ``name`` is snake_case
    (the spelling used in specs), ``factory`` a class or function taking keyword arguments and
    returning an unfitted scikit-learn-style regressor (``fit``/``predict``), ``defaults`` the
    keyword arguments used when the spec's ``options`` do not set them. Nothing is called while a
    spec is parsed: the factory runs when the model is fitted.
    """


HOOK_STAGES: dict[str, str] = {
    "register_drivers": "drivers",
    "register_dynamics": "dynamics",
    "register_sensitivities": "sensitivities",
    "register_forecasters": "forecasting",
    "register_mappings": "mapping",
}
"""Hook name -> the stage whose components it registers."""

HOOK_OTHER: dict[str, str] = {"register_estimators": "estimators"}
"""Hooks that register something other than a stage's components -> what they register."""
