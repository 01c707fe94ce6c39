"""Optional libraries: whether they are installed, and the extra of causalfolio that installs them.

The core install (linear and scikit-learn dynamics, ``beta``/``fd`` sensitivities, every mapping,
backtests, ablations, reports) needs none of them. A component that needs one declares it in its
``requires`` class attribute (e.g. ``requires = ("torch",)``): it is still registered and listed by
``causalfolio plugins`` (marked), and building it without the library raises a
:class:`~causalfolio.errors.ConfigError` naming the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from types import ModuleType

from .errors import ConfigError

EXTRAS: dict[str, str] = {"torch": "nn"}
"""Import name of an optional library -> the extra that installs it (``causalfolio[nn]``)."""


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here (looked up without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked or broken package
        return False


def missing(modules: Iterable[str]) -> tuple[str, ...]:
    """The libraries of ``modules`` that are not installed, in order."""
    return tuple(m for m in modules if not installed(m))


def install_hint(modules: Iterable[str]) -> str:
    """``pip install 'causalfolio[nn]'`` (or the plain package names without an extra)."""
    mods = list(modules)
    extras = sorted({EXTRAS[m] for m in mods if m in EXTRAS})
    plain = [m for m in mods if m not in EXTRAS]
    parts = ([f"'causalfolio[{','.join(extras)}]'"] if extras else []) + plain
    return "pip install " + " ".join(parts)


def require(owner: str, modules: Iterable[str]) -> None:
    """Raise :class:`ConfigError` when a library ``owner`` needs is not installed.

    Parameters
    ----------
    owner
        Who needs it, for the message (a component name such as ``fnn``).
    modules
        Import names, e.g. ``("torch",)``.
    """
    absent = missing(modules)
    if absent:
        raise ConfigError(f"{owner} needs {', '.join(absent)}, which is not installed; install "
                          f"it with: {install_hint(absent)}")


def import_optional(module: str, owner: str) -> ModuleType:
    """``import module``, or the :class:`ConfigError` of :func:`require` when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        require(owner, (module,))
        raise
