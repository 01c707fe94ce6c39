"""The regressors ``sklearn(estimator=...)`` may use: an allow-list, never an import path.

An ``estimator`` string is looked up, in order, among

1. the estimators registered by plugins through the ``register_estimators`` hook (the built-in
   short names ``kernel_ridge``, ``spline``, ... register this way, see ``sklearn_model``);
2. scikit-learn's public regressors, by class name (``'Ridge'``) or by their public path
   (``'sklearn.linear_model.Ridge'``).

A path is matched against the public modules listed in :data:`SKLEARN_MODULES` (a constant of
this module): the string is compared with names, never imported, and only a class that module
exports, defined by scikit-learn, a non-abstract subclass of ``RegressorMixin``, is accepted.
Resolving never calls the estimator; constructor options are checked against its signature.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import attrs

from causalfolio.errors import ParameterError

SKLEARN_MODULES: tuple[str, ...] = (
    "sklearn.linear_model", "sklearn.kernel_ridge", "sklearn.svm", "sklearn.ensemble",
    "sklearn.tree", "sklearn.neighbors", "sklearn.gaussian_process", "sklearn.neural_network",
    "sklearn.isotonic", "sklearn.cross_decomposition", "sklearn.dummy", "sklearn.compose",
    "sklearn.multioutput",
)
"""The public scikit-learn modules whose regressors are allowed (every module that
``sklearn.utils.all_estimators(type_filter='regressor')`` finds a regressor in; a test checks)."""

_CLASS_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_PATH_RE = re.compile(r"^(sklearn(?:\.[a-z][a-z0-9_]*)+)\.([A-Z][A-Za-z0-9]*)$")


@attrs.frozen(eq=False)
class Resolved:
    """An allow-listed estimator: how to build it, its defaults and where it comes from."""

    label: str
    factory: Callable[..., Any]
    defaults: Mapping[str, Any]
    provider: str


def _is_regressor(obj: Any, module: str) -> bool:
    from sklearn.base import RegressorMixin

    return (inspect.isclass(obj) and issubclass(obj, RegressorMixin)
            and not inspect.isabstract(obj) and not obj.__name__.startswith("_")
            and (obj.__module__ == module or obj.__module__.startswith(module + "."))
            and obj.__module__.split(".")[0] == "sklearn")


@cache
def module_regressors(module: str) -> dict[str, type]:
    """Public regressor classes of one allow-listed scikit-learn module, by class name."""
    if module not in SKLEARN_MODULES:  # only our constants are ever imported
        return {}
    mod = importlib.import_module(module)
    return {name: obj for name, obj in sorted(vars(mod).items()) if _is_regressor(obj, module)}


def sklearn_regressor(text: str) -> tuple[str, type] | None:
    """``(public path, class)`` for an allow-listed scikit-learn regressor, else ``None``.

    ``text`` is a class name (``'Ridge'``) or a public path (``'sklearn.linear_model.Ridge'``).
    """
    m = _PATH_RE.match(text)
    if m:
        module, name = m.groups()
        if module not in SKLEARN_MODULES:
            return None
        cls = module_regressors(module).get(name)
        return (text, cls) if cls is not None else None
    if _CLASS_RE.match(text):
        for module in SKLEARN_MODULES:  # imports modules one by one until the name is found
            cls = module_regressors(module).get(text)
            if cls is not None:
                return f"{module}.{text}", cls
    return None


def resolve(text: str, registry: Any = None) -> Resolved:
    """The allow-listed estimator named ``text``, or a :class:`ParameterError` saying how to fix.

    ``registry`` defaults to :func:`causalfolio.registry.active_registry` (the registry of the
    spec being parsed or the pipeline being run).
    """
    from causalfolio.registry import active_registry

    reg = registry if registry is not None else active_registry()
    entry = reg.estimator(text)
    if entry is not None:
        return Resolved(entry.name, entry.factory, dict(entry.defaults), entry.provider)
    found = sklearn_regressor(text) if isinstance(text, str) else None
    if found is not None:
        path, cls = found
        return Resolved(path, cls, {}, "scikit-learn")
    names = [e.name for e in reg.estimator_entries()]
    close = _close(text, names, n=1, cutoff=0.6) if isinstance(
        text, str) else []
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ParameterError(
        f"sklearn: parameter 'estimator' must be one of {names}, a scikit-learn regressor's "
        f"class name (e.g. 'Ridge') or its public path (e.g. 'sklearn.linear_model.Ridge'), got "
        f"{text!r}; {hint}other classes are never imported (plugins can add estimators with "
        "the register_estimators hook)"
    )


def check_options(resolved: Resolved, options: Mapping[str, Any]) -> None:
    """Reject options the estimator's constructor does not take, or missing required ones.

    Uses the constructor's signature; nothing is called.
    """
    try:
        sig = inspect.signature(resolved.factory)
    except (TypeError, ValueError):  # no signature to check against: checked when fitted
        return
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        accepted = None
    else:
        accepted = [n for n, p in params.items()
                    if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    given = {**resolved.defaults, **options}
    if accepted is not None:
        unknown = [k for k in options if k not in accepted]
        if unknown:
            close = _close(unknown[0], accepted, n=1, cutoff=0.5)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"it takes {', '.join(accepted) or 'no arguments'}")
            raise ParameterError(
                f"sklearn: parameter 'options': bad options for {resolved.label}: no "
                f"constructor argument {unknown[0]!r} ({hint})"
            )
    missing = [n for n, p in params.items()
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and n not in given]
    if missing:
        raise ParameterError(
            f"sklearn: parameter 'options': bad options for {resolved.label}: it needs "
            f"{', '.join(missing)}, which a spec cannot give (options are literals); choose "
            "another estimator"
        )


def _close(word: str, possibilities: list[str], n: int, cutoff: float) -> list[str]:
    """difflib's close matches (imported here: only error messages need it)."""
    import difflib

    return difflib.get_close_matches(word, possibilities, n=n, cutoff=cutoff)
