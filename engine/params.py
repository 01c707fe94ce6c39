"""Typed component parameters: declaration helper, coercion and validators.

Component parameters are attrs fields. :func:`param` declares one with a docstring; on construction
:func:`coerce` converts every value to its annotated type (lists become tuples, ints become floats
where a float is expected) and rejects anything else with a :class:`ParameterError`.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal, Union

import attrs

from .errors import ParameterError

_NOTHING = attrs.NOTHING


def param(default: Any = _NOTHING, *, doc: str = "", validator: Any = None) -> Any:
    """Declare a component parameter (an attrs field) with a one-line description.

    Parameters
    ----------
    default
        The default value; mutable defaults must be tuples.
    doc
        What the parameter means, with its unit. Shown by ``causalfolio plugins``.
    validator
        attrs validator(s) run after type coercion; use the ones in this module.
    """
    validators = [] if validator is None else (
        list(validator) if isinstance(validator, (list, tuple)) else [validator])

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        # attrs runs validators before __attrs_post_init__ coerces: coerce here first, so that
        # type errors come before value errors and validators see the coerced value.
        owner = getattr(type(instance), "name", "") or type(instance).__name__
        value = coerce(value, hints(type(instance)).get(attribute.name, Any), owner=owner,
                       field=attribute.name)
        for v in validators:
            v(instance, attribute, value)

    return attrs.field(default=default, validator=check, metadata={"doc": doc})


_HINTS: dict[type, dict[str, Any]] = {}


def hints(cls: type) -> dict[str, Any]:
    """Resolved type annotations of a class (cached); empty when they cannot be resolved."""
    if cls not in _HINTS:
        try:
            _HINTS[cls] = typing.get_type_hints(cls)
        except Exception:  # noqa: BLE001 - unresolvable annotation: no coercion for it
            _HINTS[cls] = {}
    return _HINTS[cls]


def type_name(tp: Any) -> str:
    """A short human name for a type annotation, e.g. ``list[int]`` or ``'mean'|'median'``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None):
        return "None"
    if origin is Literal:
        return "|".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin in (tuple, list, Sequence):
        if len(args) == 2 and args[1] is Ellipsis or origin is not tuple:
            return f"list[{type_name(args[0]) if args else 'any'}]"
        return "[" + ", ".join(type_name(a) for a in args) + "]"
    return getattr(tp, "__name__", str(tp))


class _Mismatch(Exception):
    pass


def _coerce(value: Any, tp: Any) -> Any:
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise _Mismatch
        for arm in args:
            if arm is type(None):
                continue
            try:
                return _coerce(value, arm)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise _Mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, int):
            return int(value)
        if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu":
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, (int, float)) or (
            hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iuf"
        ):
            out = float(value)
            if math.isnan(out):
                raise _Mismatch
            return out
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if origin in (tuple, list, Sequence):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            value = (value,)  # a scalar where a list is expected becomes a one-item list
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise _Mismatch
            return tuple(_coerce(v, a) for v, a in zip(value, args, strict=True))
        item = args[0] if args else Any
        return tuple(_coerce(v, item) for v in value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch
    return value


def coerce(value: Any, tp: Any, *, owner: str, field: str) -> Any:
    """Convert ``value`` to the annotated type ``tp`` or raise :class:`ParameterError`."""
    try:
        return _coerce(value, tp)
    except _Mismatch:
        raise ParameterError(
            f"{owner}: parameter '{field}' expects {type_name(tp)}, got {value!r}"
        ) from None


def literal_choices(tp: Any) -> tuple[Any, ...]:
    """The allowed values of a ``Literal`` annotation (also inside ``Optional``), else ``()``."""
    if typing.get_origin(tp) is Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        out: tuple[Any, ...] = ()
        for arm in typing.get_args(tp):
            out += literal_choices(arm)
        return out
    return ()


# --- validators (attrs-compatible: called as v(instance, attribute, value)) -------------------


def _fail(instance: Any, attribute: attrs.Attribute, message: str) -> None:
    owner = getattr(type(instance), "name", type(instance).__name__)
    raise ParameterError(f"{owner}: parameter '{attribute.name}' {message}")


def positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """Value (or each item) must be > 0; ``None`` passes."""
    for v in value if isinstance(value, tuple) else (value,):
        if v is not None and not v > 0:
            _fail(instance, attribute, f"must be > 0, got {value!r}")


def non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """Value (or each item) must be >= 0; ``None`` passes."""
    for v in value if isinstance(value, tuple) else (value,):
        if v is not None and not v >= 0:
            _fail(instance, attribute, f"must be >= 0, got {value!r}")


def in_range(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Callable:
    """Value (or each item) must lie in the interval; ``None`` passes."""
    left, right = ("(" if lo_open else "["), (")" if hi_open else "]")

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        for v in value if isinstance(value, tuple) else (value,):
            if v is None:
                continue
            ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
            if not ok:
                _fail(instance, attribute, f"must be in {left}{lo}, {hi}{right}, got {value!r}")

    return check


def non_empty(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """A list parameter must have at least one item."""
    if value is not None and len(value) == 0:
        _fail(instance, attribute, "must not be empty")


def unique_items(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """A list parameter must not repeat items."""
    if value is not None and len(set(value)) != len(value):
        _fail(instance, attribute, f"must not repeat items, got {list(value)!r}")
