"""Modules imported on first attribute access, for libraries that discovering components and
parsing specs do not need (pandas: about a third of a second of every command's start-up; numpy
about 0.13 s).

>>> pd = lazy_module("pandas")   # nothing imported yet
>>> pd.Timestamp("2020-01-02")   # doctest: +SKIP

The package's modules share the two proxies below (``from causalfolio._lazy import np, pd``):
type checkers see the real modules; at run time the first attribute access imports the library.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any


class LazyModule(types.ModuleType):
    """Stands for module ``name``: the first attribute access imports it; attributes are then
    cached on this object, so later accesses cost a plain attribute lookup."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self.__dict__["_lazy_target"]), attr)
        self.__dict__[attr] = value
        return value

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__dict__["_lazy_target"]))


def lazy_module(name: str) -> types.ModuleType:
    """Module ``name`` itself when it is already imported, else a :class:`LazyModule`."""
    return sys.modules.get(name) or LazyModule(name)


def lazy_exports(package: str, names: Mapping[str, str], namespace: dict[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for a package whose public names live in
    submodules loaded on first use: ``names`` maps each name to its submodule (relative to
    ``package``); ``namespace`` is the package's ``globals()``."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*namespace, *names])

    return __getattr__, __dir__


if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")
