"""The TOML reader: the standard library's ``tomllib`` (Python 3.11+), else its backport ``tomli``
(declared for Python 3.10 in ``pyproject.toml``); both have the same API."""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["tomllib"]
