"""The component registry, built with pluggy from built-ins and entry points.

Environment variables
---------------------
``CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD``
    When set to a non-empty value other than ``0``, entry points of group ``causalfolio`` are not
    loaded; only built-ins (and plugins registered in code) are available.
``CAUSALFOLIO_BLOCK_PLUGINS``
    Comma-separated plugin names (entry-point names or built-in module names as listed by
    ``causalfolio plugins``) that are not registered.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import os
import pkgutil
import re
import warnings
from collections.abc import Iterable
from typing import Any, cast

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError, SpecError
from .stages import STAGE_BASES, STAGES, Component

ENTRY_POINT_GROUP = "causalfolio"
ENV_DISABLE_AUTOLOAD = "CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD"
ENV_BLOCK = "CAUSALFOLIO_BLOCK_PLUGINS"
BUILTIN_PACKAGE = "causalfolio.plugins"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

STAGE_LABELS = {
    "drivers": "driver selector",
    "dynamics": "dynamics model",
    "sensitivities": "sensitivity extractor",
    "forecasting": "sensitivity forecaster",
    "mapping": "risk mapping",
}
_REQUIRED_METHOD = {
    "drivers": "select",
    "dynamics": "fit",
    "sensitivities": "per_sample",
    "forecasting": "forecast",
    "mapping": "allocate",
}


@attrs.frozen
class Entry:
    """A registered component: its class and the plugin that provided it."""

    stage: str
    name: str
    cls: type[Component]
    provider: str


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded, with the reason."""

    name: str
    error: str


def builtin_modules() -> list[str]:
    """Module names of the built-in plugins: every public module below ``causalfolio.plugins``."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    names = []
    for info in pkgutil.walk_packages(package.__path__, prefix=BUILTIN_PACKAGE + "."):
        if info.ispkg or info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        names.append(info.name)
    return sorted(names)


def _truthy(value: str | None) -> bool:
    return value is not None and value != "" and value.strip() not in ("0", "false", "False",
                                                                       "no")


class Registry:
    """Components by stage and name, with the plugins that provided them.

    Build it with :func:`build_registry` (or get the process-wide one with :func:`get_registry`).
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._entries: dict[str, dict[str, Entry]] = {s: {} for s in STAGES}
        self.failures: list[PluginFailure] = []
        self.blocked: tuple[str, ...] = ()

    # -- building ---------------------------------------------------------------------------
    def _collect(self) -> None:
        for hook_name, stage in hookspecs.HOOK_STAGES.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in reversed(caller.get_hookimpls()):  # registration order
                provider = impl.plugin_name
                kwargs = {"register": self._registrar(stage, provider)}
                try:
                    impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
                except PluginError:
                    raise
                except Exception as exc:  # noqa: BLE001 - report, keep the others
                    self.failures.append(
                        PluginFailure(provider, f"{hook_name} raised {type(exc).__name__}: {exc}")
                    )
                    warnings.warn(
                        f"causalfolio plugin {provider!r} failed in {hook_name}: {exc}",
                        stacklevel=2,
                    )

    def _registrar(self, stage: str, provider: str):
        def register(cls: type) -> None:
            self.add(stage, cls, provider)

        return register

    def add(self, stage: str, cls: type, provider: str) -> None:
        """Register one component class for a stage; duplicate names raise :class:`PluginError`."""
        base = STAGE_BASES[stage]
        if not (inspect.isclass(cls) and issubclass(cls, base)):
            raise PluginError(
                f"plugin {provider!r} registered {cls!r} as a {STAGE_LABELS[stage]}, but it is not "
                f"a subclass of causalfolio.stages.{base.__name__}"
            )
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise PluginError(
                f"plugin {provider!r}: component {cls.__qualname__} needs a class attribute "
                f"'name' in snake_case (letters, digits, underscores), got {name!r}"
            )
        method = _REQUIRED_METHOD[stage]
        if getattr(cls, method) is getattr(base, method):
            raise PluginError(
                f"plugin {provider!r}: component {name!r} does not implement {method}()"
            )
        if not attrs.has(cls):
            raise PluginError(
                f"plugin {provider!r}: component {name!r} must be an attrs class "
                "(decorate it with @attrs.define(frozen=True, kw_only=True))"
            )
        existing = self._entries[stage].get(name)
        if existing is not None:
            raise PluginError(
                f"duplicate {STAGE_LABELS[stage]} name {name!r}: provided by plugin "
                f"{existing.provider!r} and by plugin {provider!r}; block one with "
                f"{ENV_BLOCK}={provider}"
            )
        self._entries[stage][name] = Entry(stage, name, cast("type[Component]", cls), provider)

    # -- queries ----------------------------------------------------------------------------
    def names(self, stage: str) -> list[str]:
        """Component names of a stage, sorted."""
        return sorted(self._entries[stage])

    def entries(self, stage: str | None = None) -> list[Entry]:
        """Registered entries, of one stage or all, in stage then name order."""
        stages = STAGES if stage is None else (stage,)
        return [self._entries[s][n] for s in stages for n in sorted(self._entries[s])]

    def get(self, stage: str, name: str) -> type[Component]:
        """The component class registered as ``name`` for ``stage``.

        Raises :class:`SpecError` with the closest valid name when it is unknown.
        """
        entry = self._entries[stage].get(name)
        if entry is not None:
            return entry.cls
        raise SpecError(
            f"unknown {STAGE_LABELS[stage]} {name!r}",
            hint=self.suggest(stage, name),
        )

    def suggest(self, stage: str, name: str) -> str:
        """A 'did you mean' hint for an unknown name, plus failed plugins worth knowing about."""
        close = difflib.get_close_matches(name, self.names(stage), n=1, cutoff=0.5)
        if close:
            hint = f"did you mean {close[0]!r}?"
        else:
            hint = f"valid {STAGE_LABELS[stage]}s: {', '.join(self.names(stage)) or 'none'}"
        other = [s for s in STAGES if s != stage and name in self._entries[s]]
        if other:
            hint += f" ({name!r} is a {STAGE_LABELS[other[0]]}: check the stage order)"
        if self.failures:
            hint += " (plugins that failed to load: " + ", ".join(
                f.name for f in self.failures) + ")"
        return hint

    def provider(self, stage: str, name: str) -> str:
        """The plugin that registered a component."""
        return self._entries[stage][name].provider

    @property
    def plugin_names(self) -> list[str]:
        """Names of the plugins registered with the plugin manager."""
        return sorted(n for n, _ in self.pm.list_name_plugin())


def build_registry(
    *,
    autoload: bool | None = None,
    block: Iterable[str] | None = None,
    extra_plugins: Iterable[tuple[str, Any]] = (),
) -> Registry:
    """Build a registry from built-ins, entry points and extra plugin objects.

    Parameters
    ----------
    autoload
        Load entry points of group ``causalfolio``. Default: on, unless
        ``CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD`` is set.
    block
        Plugin names not to register. Default: from ``CAUSALFOLIO_BLOCK_PLUGINS``.
    extra_plugins
        ``(name, module_or_object)`` pairs to register in addition (useful in tests and notebooks).
    """
    if autoload is None:
        autoload = not _truthy(os.environ.get(ENV_DISABLE_AUTOLOAD))
    if block is None:
        block = [b.strip() for b in os.environ.get(ENV_BLOCK, "").split(",") if b.strip()]
    blocked = tuple(block)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    registry = Registry(pm)
    registry.blocked = blocked

    def _register(name: str, obj: Any) -> None:
        if pm.is_blocked(name):
            return
        try:
            pm.register(obj, name=name)
        except ValueError as exc:
            raise PluginError(f"plugin {name!r} could not be registered: {exc}") from None
        except pluggy.PluginValidationError as exc:
            registry.failures.append(PluginFailure(name, f"invalid hook implementation: {exc}"))

    for modname in builtin_modules():
        if pm.is_blocked(modname):
            continue
        try:
            module = importlib.import_module(modname)
        except Exception as exc:  # noqa: BLE001 - a broken built-in must not hide the others
            registry.failures.append(PluginFailure(modname, f"{type(exc).__name__}: {exc}"))
            continue
        _register(modname, module)
    if autoload:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.is_blocked(ep.name):
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001 - report by name, keep the others
                registry.failures.append(PluginFailure(ep.name, f"{type(exc).__name__}: {exc}"))
                warnings.warn(
                    f"causalfolio plugin {ep.name!r} failed to load: {type(exc).__name__}: {exc}",
                    stacklevel=2,
                )
                continue
            _register(ep.name, obj)
    for name, obj in extra_plugins:
        _register(name, obj)
    registry._collect()  # noqa: SLF001
    return registry


_DEFAULT: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = build_registry()
    return _DEFAULT


def reset_registry() -> None:
    """Forget the process-wide registry (it is rebuilt on next use, re-reading the environment)."""
    global _DEFAULT
    _DEFAULT = None
