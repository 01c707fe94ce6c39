"""Canonical spec text: the one spelling of a component or pipeline, used as its identifier."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def format_value(value: Any) -> str:
    """Canonical text of a parameter value (numbers, strings, booleans, None, lists)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isinf(value):
            raise ValueError("infinite parameter values cannot be written in a spec")
        return repr(float(value))
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} value {value!r} in a spec")


def format_component(name: str, params: Mapping[str, Any]) -> str:
    """``name`` alone, or ``name(key=value,...)`` in the given parameter order."""
    if not params:
        return name
    inner = ",".join(f"{k}={format_value(v)}" for k, v in params.items())
    return f"{name}({inner})"
