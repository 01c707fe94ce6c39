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

import contextlib
import contextvars
import importlib
import importlib.metadata
import inspect
import os
import pkgutil
import re
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
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


@attrs.frozen(eq=False)
class EstimatorEntry:
    """A regressor the ``sklearn`` dynamics model may use: its spec name, factory and plugin.

    ``factory`` (a class or function taking keyword arguments) is called only when a model is
    fitted; ``defaults`` are keyword arguments the spec's ``options`` override.
    """

    name: str
    factory: Callable[..., Any]
    defaults: Mapping[str, Any]
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


def _not_in_script(names: Iterable[str], path: str) -> list[str]:
    """Of ``names`` (qualified names of objects whose module is ``__main__``), those the script
    at ``path`` does not define outside its ``if __name__ == "__main__":`` block."""
    import ast

    if not names:
        return []
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return []  # cannot tell: pickling will say
    top: set[str] = set()

    def main_guard(test: ast.expr) -> bool:
        return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
                and test.left.id == "__name__" and len(test.comparators) == 1
                and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value == "__main__")

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                top.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                top.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                top.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.If):
                if not main_guard(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.With, ast.For, ast.While)):
                visit(node.body)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    return sorted(n for n in names if n.split(".")[0] not in top)


def is_builtin(provider: str) -> bool:
    """True for a plugin shipped with causalfolio (a module below ``causalfolio.plugins``)."""
    return provider.startswith(BUILTIN_PACKAGE + ".")


def _duplicate_hint(existing: str, new: str) -> str:
    """How to resolve a name clash without ever making a third-party component the built-in."""
    third = [p for p in (existing, new) if not is_builtin(p)]
    if len(third) == 1:
        return (f"the third-party plugin {third[0]!r} reuses a built-in name; uninstall it or "
                f"block it with {ENV_BLOCK}={third[0]}")
    return f"block the one you do not want with {ENV_BLOCK}={new} (or ={existing})"


def _truthy(value: str | None) -> bool:
    return value is not None and value != "" and value.strip() not in ("0", "false", "False",
                                                                       "no")


class Registry:
    """Components by stage and name, with the plugins that provided them.

    Build it with :func:`build_registry` (or get the process-wide one with :func:`get_registry`).
    """

    def __init__(self, pm: pluggy.PluginManager, *, strict: bool = True) -> None:
        self.pm = pm
        self._entries: dict[str, dict[str, Entry]] = {s: {} for s in STAGES}
        self._estimators: dict[str, EstimatorEntry] = {}
        self.failures: list[PluginFailure] = []
        self.blocked: tuple[str, ...] = ()
        self.strict = strict
        # how to rebuild this registry in another process (see __reduce__)
        self._recipe: dict[str, Any] = {"autoload": False, "block": (), "extra": ()}
        self._added: list[tuple[str, tuple[Any, ...]]] = []
        self._collecting = False
        self.distributions: dict[str, tuple[str, str]] = {}
        """Plugin name -> (distribution, version) of the installed package that supplied it
        (built-ins: causalfolio's; plugins added in code: none)."""

    # -- travelling to worker processes ------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        extra = []
        for name, obj in self._recipe["extra"]:
            # a module travels by name (modules do not pickle); anything else by pickle
            extra.append((name, ("module", obj.__name__) if isinstance(obj, types.ModuleType)
                          else ("object", obj)))
        return (_rebuild, (self._recipe["autoload"], tuple(self._recipe["block"]),
                           tuple(extra), tuple(self._added), self.strict))

    def check_portable(self) -> None:
        """Raise :class:`PluginError` unless this registry can be rebuilt in a worker process.

        A registry travels as the recipe that built it (entry points, blocked plugins, the extra
        plugin objects and components added in code). Components defined in an interactive
        session (a notebook's ``__main__``) or plugin objects that do not pickle cannot.
        """
        import pickle
        import sys

        main = sys.modules.get("__main__")
        interactive = getattr(main, "__file__", None) is None
        for _, obj in self._recipe["extra"]:
            owner = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(
                obj, "__module__", type(obj).__module__)
            if isinstance(obj, types.ModuleType) and obj.__name__ not in sys.modules:
                owner = "__main__"
            if owner == "__main__" and interactive:
                raise PluginError(self._not_portable("a plugin defined in this interactive "
                                                     "session"))
        for _, args in self._added:
            cls = args[1] if len(args) > 1 else None
            if getattr(cls, "__module__", "") == "__main__" and interactive:
                raise PluginError(self._not_portable(f"{cls!r}, defined in this interactive "
                                                     "session"))
        try:
            pickle.dumps(self)
        except Exception as exc:  # noqa: BLE001 - any pickling failure means it cannot travel
            raise PluginError(self._not_portable(f"{type(exc).__name__}: {exc}")) from None
        if not interactive:  # a script: workers re-import it, without its main block
            objs = [obj for _, obj in self._recipe["extra"]]
            objs += [e.cls for s in STAGES for e in self._entries[s].values()]
            objs += [args[1] for _, args in self._added if len(args) > 1]
            names = {getattr(o, "__qualname__", type(o).__qualname__) for o in objs
                     if getattr(o, "__module__", None) == "__main__"}
            script = str(getattr(main, "__file__", ""))
            hidden = _not_in_script(names, script)
            if hidden:
                raise PluginError(self._not_portable(
                    f"{', '.join(hidden)} {'is' if len(hidden) == 1 else 'are'} defined under "
                    f"'if __name__ == \"__main__\":' in "
                    f"{script}, and worker processes, which re-import the script under "
                    "another name, never see it; define it at the top level of the script"))

    @staticmethod
    def _not_portable(why: str) -> str:
        return (f"this registry cannot be sent to worker processes ({why}); run the ablation "
                "with executor='serial', or put the plugin in an importable module (or a "
                "package with a 'causalfolio' entry point)")

    # -- building ---------------------------------------------------------------------------
    def _collect(self) -> None:
        self._collecting = True
        try:
            for hook_name, stage in {**hookspecs.HOOK_STAGES, **hookspecs.HOOK_OTHER}.items():
                self._collect_hook(hook_name, stage)
        finally:
            self._collecting = False

    def _collect_hook(self, hook_name: str, stage: str) -> None:
        caller = getattr(self.pm.hook, hook_name)
        # built-ins first, then the others in registration order, so that on a clash the
        # built-in keeps its name and the third-party plugin is the one reported
        # (get_hookimpls() is in registration order; pluggy *calls* them in reverse)
        impls = sorted(caller.get_hookimpls(), key=lambda i: not is_builtin(i.plugin_name))
        for impl in impls:
            provider = impl.plugin_name
            register = (self._estimator_registrar(provider) if stage == "estimators"
                        else self._registrar(stage, provider))
            kwargs = {"register": register}
            try:
                impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            except PluginError as exc:
                if self.strict:
                    raise
                self.failures.append(PluginFailure(provider, str(exc)))
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

    def _estimator_registrar(self, provider: str):
        def register(name: str, factory: Callable[..., Any],
                     defaults: Mapping[str, Any] | None = None) -> None:
            self.add_estimator(name, factory, provider, defaults)

        return register

    def add_estimator(self, name: str, factory: Callable[..., Any], provider: str,
                      defaults: Mapping[str, Any] | None = None) -> None:
        """Register a regressor for ``sklearn(estimator=name)``; duplicates raise
        :class:`PluginError`. ``factory`` is stored, never called here."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise PluginError(
                f"plugin {provider!r}: estimator names are snake_case (letters, digits, "
                f"underscores), got {name!r}"
            )
        if not callable(factory):
            raise PluginError(f"plugin {provider!r}: estimator {name!r} needs a class or "
                              f"function that builds the regressor, got {factory!r}")
        if defaults is not None and not (isinstance(defaults, Mapping)
                                         and all(isinstance(k, str) for k in defaults)):
            raise PluginError(f"plugin {provider!r}: defaults of estimator {name!r} must be a "
                              f"dict of keyword arguments, got {defaults!r}")
        existing = self._estimators.get(name)
        if existing is not None:
            raise PluginError(
                f"duplicate estimator name {name!r}: provided by plugin {existing.provider!r} "
                f"and by plugin {provider!r}; {_duplicate_hint(existing.provider, provider)}"
            )
        if not self._collecting:
            self._added.append(("estimator", (name, factory, provider, dict(defaults or {}))))
        self._estimators[name] = EstimatorEntry(name, factory, dict(defaults or {}), provider)

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
                f"{existing.provider!r} and by plugin {provider!r}; "
                f"{_duplicate_hint(existing.provider, provider)}"
            )
        if not self._collecting:
            self._added.append(("component", (stage, cls, provider)))
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
        provider, _ = self._blocked_provider(stage, name) if self.blocked else (None, [])
        if provider is not None:
            raise SpecError(f"{STAGE_LABELS[stage]} {name!r} is blocked: plugin {provider!r} "
                            f"provides it and {ENV_BLOCK} blocks that plugin",
                            hint=f"remove {provider!r} from {ENV_BLOCK} to use it")
        raise SpecError(
            f"unknown {STAGE_LABELS[stage]} {name!r}",
            hint=self.suggest(stage, name),
        )

    def suggest(self, stage: str, name: str) -> str:
        """A 'did you mean' hint for an unknown name, plus failed plugins worth knowing about."""
        import difflib  # only for an unknown name

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
        unloaded = self._blocked_provider(stage, name)[1] if self.blocked else []
        if unloaded:
            hint += (f" ({ENV_BLOCK} blocks {', '.join(map(repr, unloaded))}: not loaded, so "
                     f"causalfolio cannot tell whether one provides {name!r})")
        return hint

    def _blocked_provider(self, stage: str, name: str) -> tuple[str | None, list[str]]:
        """The blocked plugin that provides ``name`` (or None), and the blocked plugins that could
        not be asked. Built-in modules and plugin objects given to :func:`build_registry` are
        asked (their hook runs on a list: nothing is registered); blocked entry points are never
        loaded, so they cannot be asked."""
        extra = {n: obj for n, obj in self._recipe["extra"] if n in self.blocked}
        hook = next(h for h, s in hookspecs.HOOK_STAGES.items() if s == stage)
        unloaded = []
        for plugin in self.blocked:
            obj = extra.get(plugin)
            if obj is None and is_builtin(plugin):
                try:
                    obj = importlib.import_module(plugin)
                except Exception:  # noqa: BLE001 - a broken blocked module provides nothing
                    continue
            if obj is None:
                unloaded.append(plugin)
                continue
            names: list[Any] = []
            try:
                getattr(obj, hook)(register=lambda cls, seen=names: seen.append(
                    getattr(cls, "name", None)))
            except Exception:  # noqa: BLE001 - no such hook, or it fails: not the provider
                continue
            if name in names:
                return plugin, unloaded
        return None, unloaded

    def estimator(self, name: str) -> EstimatorEntry | None:
        """The estimator registered as ``name`` (by a plugin's ``register_estimators``)."""
        return self._estimators.get(name)

    def estimator_entries(self) -> list[EstimatorEntry]:
        """Registered estimators, by name."""
        return [self._estimators[n] for n in sorted(self._estimators)]

    def provider(self, stage: str, name: str) -> str:
        """The plugin that registered a component."""
        return self._entries[stage][name].provider

    def distribution(self, stage: str, name: str) -> tuple[str, str] | None:
        """(distribution name, version) of the package that supplied a component, or None
        for one registered in code."""
        return self.distributions.get(self.provider(stage, name))

    def source(self, provider: str) -> str:
        """Who supplied a plugin, for listings: ``dist version`` with the entry-point key when it
        differs from the distribution name (``acme-quant 2.1.0, entry point acme``); the plugin
        name alone for built-ins and plugins added in code."""
        dist = self.distributions.get(provider)
        if dist is None or is_builtin(provider):
            return provider
        norm = re.sub(r"[-_.]+", "-", dist[0]).lower()
        key = "" if re.sub(r"[-_.]+", "-", provider).lower() == norm else \
            f", entry point {provider}"
        return f"{dist[0]} {dist[1]}{key}"

    @property
    def plugin_names(self) -> list[str]:
        """Names of the plugins registered with the plugin manager."""
        return sorted(n for n, _ in self.pm.list_name_plugin())


def build_registry(
    *,
    autoload: bool | None = None,
    block: Iterable[str] | None = None,
    extra_plugins: Iterable[tuple[str, Any]] = (),
    strict: bool = True,
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
    strict
        Raise :class:`PluginError` for an invalid or clashing component (default). ``False``
        records it in ``failures`` instead and keeps the first registration (``causalfolio
        plugins`` uses this to list everything, with the clash and its providers).
    """
    extra_plugins = list(extra_plugins)
    if autoload is None:
        autoload = not _truthy(os.environ.get(ENV_DISABLE_AUTOLOAD))
    if block is None:
        block = [b.strip() for b in os.environ.get(ENV_BLOCK, "").split(",") if b.strip()]
    blocked = tuple(block)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    registry = Registry(pm, strict=strict)
    registry.blocked = blocked
    registry._recipe = {"autoload": autoload, "block": blocked,  # noqa: SLF001
                        "extra": tuple(extra_plugins)}

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
        registry.distributions[modname] = _own_distribution()
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
            dist = getattr(ep, "dist", None)
            if dist is not None:
                registry.distributions[ep.name] = (str(dist.name), str(dist.version))
    for name, obj in extra_plugins:
        _register(name, obj)
    registry._collect()  # noqa: SLF001
    return registry


def _own_distribution() -> tuple[str, str]:
    """causalfolio's own distribution and version (the built-ins' supplier)."""
    from . import __version__

    return ("causalfolio", __version__)


def components_used(pipelines: Iterable[Any]) -> dict[str, dict[str, str]]:
    """For a run's pipelines, ``{"stage:name": {"provider", "distribution", "version"}}`` of
    every component that is not a built-in: the code outside causalfolio a result depends on
    (``run.json`` records it)."""
    out: dict[str, dict[str, str]] = {}
    for pipe in pipelines:
        reg = pipe.registry or get_registry()
        for stage in STAGES:
            comp = getattr(pipe, stage, None)
            if comp is None:
                continue
            try:
                provider = reg.provider(stage, comp.name)
            except KeyError:
                continue
            if is_builtin(provider):
                continue
            dist = reg.distributions.get(provider)
            out[f"{stage}:{comp.name}"] = {
                "provider": provider, "distribution": dist[0] if dist else "",
                "version": dist[1] if dist else ""}
    return dict(sorted(out.items()))


def _rebuild(autoload: bool, block: tuple[str, ...], extra: tuple[tuple[str, Any], ...],
             added: tuple[tuple[str, tuple[Any, ...]], ...], strict: bool = True) -> Registry:
    """Rebuild a pickled registry (in a worker process) from its recipe."""
    plugins = [(name, importlib.import_module(ref) if kind == "module" else ref)
               for name, (kind, ref) in extra]
    reg = build_registry(autoload=autoload, block=block, extra_plugins=plugins, strict=strict)
    for kind, args in added:
        if kind == "component":
            reg.add(*args)
        else:
            reg.add_estimator(*args)
    return reg


_DEFAULT: Registry | None = None
_ACTIVE: contextvars.ContextVar[Registry | None] = contextvars.ContextVar(
    "causalfolio_registry", default=None)


@contextlib.contextmanager
def use_registry(registry: Registry | None) -> Iterator[None]:
    """Make ``registry`` the one :func:`active_registry` returns inside the ``with`` block
    (``None`` leaves the current one)."""
    if registry is None:
        yield
        return
    token = _ACTIVE.set(registry)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active_registry() -> Registry:
    """The registry of the spec being parsed or pipeline being run, else the process-wide one.

    Components that look something up by name while they are built or run (the ``sklearn``
    model's ``estimator``) use this, so a registry given to :func:`~causalfolio.parse_spec`,
    ``run_backtest`` or ``run_ablation`` is the one used everywhere.
    """
    return _ACTIVE.get() or get_registry()


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
