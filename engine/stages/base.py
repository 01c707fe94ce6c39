"""The base of every pipeline component and the helpers for deterministic keys.

A component is an ``attrs`` frozen class whose fields are its parameters. Subclasses declare
``name`` (the spec-string name) as a plain class attribute and parameters with
:func:`causalfolio.params.param`. Parameters are type-coerced and validated on construction, so an
instance is always valid.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from .._lazy import np, pd
from ..errors import ParameterError
from ..params import coerce, type_name
from ..params import hints as _hints

STAGES: tuple[str, ...] = ("drivers", "dynamics", "sensitivities", "forecasting", "mapping")
"""The five stages, in pipeline order."""


@attrs.frozen(kw_only=True)
class ParamInfo:
    """Description of one component parameter (for ``causalfolio plugins`` and the docs)."""

    name: str
    type: str
    default: Any
    doc: str
    required: bool


@attrs.define(frozen=True, kw_only=True)
class Component:
    """Base class of all components. Subclass one of the five stage bases, not this one."""

    name: ClassVar[str] = ""
    stage: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    """Optional libraries the component needs (import names, e.g. ``("torch",)``): building it
    without them raises :class:`~causalfolio.errors.ConfigError` naming the extra to install."""
    renamed_params: ClassVar[dict[str, tuple[str, dict[Any, Any]]]] = {}
    """Deprecated parameter names: ``{old: (new, {old value: new value})}``. The old name is a
    field defaulting to ``None``; given, it warns (``FutureWarning``) and sets the new one."""

    def __attrs_post_init__(self) -> None:
        owner = type(self).name or type(self).__name__
        if self.requires:
            from ..optional import require

            require(owner, self.requires)
        self._apply_renamed(owner)
        hints = _hints(type(self))
        for field in attrs.fields(type(self)):
            tp = hints.get(field.name, Any)
            value = getattr(self, field.name)
            object.__setattr__(self, field.name, coerce(value, tp, owner=owner, field=field.name))
        self.validate()

    def _apply_renamed(self, owner: str) -> None:
        for old, (new, values) in type(self).renamed_params.items():
            value = getattr(self, old)
            if value is None:
                continue
            try:
                mapped = values.get(value, value)
            except TypeError:  # unhashable: let the new parameter's type check reject it
                mapped = value
            default = attrs.fields_dict(type(self))[new].default
            if not _same(getattr(self, new), default):
                raise ParameterError(f"{owner}: parameter '{old}' is the deprecated name of "
                                     f"'{new}'; give only {new}={mapped!r}")
            warnings.warn(f"{owner}: parameter '{old}' is deprecated and will be removed; "
                          f"write {new}={mapped!r}", FutureWarning, stacklevel=5)
            object.__setattr__(self, new, mapped)
            object.__setattr__(self, old, None)

    def validate(self) -> None:
        """Cross-parameter checks; raise :class:`ParameterError`. Override when needed."""

    # -- description --------------------------------------------------------------------------
    @classmethod
    def parameters(cls) -> list[ParamInfo]:
        """The parameters of this component, in declaration order."""
        hints = _hints(cls)
        out = []
        for f in attrs.fields(cls):
            default = f.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            out.append(
                ParamInfo(
                    name=f.name,
                    type=type_name(hints.get(f.name, Any)),
                    default=None if default is attrs.NOTHING else default,
                    doc=f.metadata.get("doc", ""),
                    required=default is attrs.NOTHING,
                )
            )
        return out

    @classmethod
    def missing_requirements(cls) -> tuple[str, ...]:
        """The libraries of :attr:`requires` that are not installed here."""
        from ..optional import missing

        return missing(cls.requires)

    @classmethod
    def summary(cls) -> str:
        """First line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def non_default_params(self) -> dict[str, Any]:
        """The parameters whose value differs from the default, in declaration order."""
        out = {}
        for f in attrs.fields(type(self)):
            value = getattr(self, f.name)
            default = f.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            if default is attrs.NOTHING or not _same(value, default):
                out[f.name] = value
        return out

    @property
    def spec(self) -> str:
        """Canonical spec text of this component, e.g. ``rccp(k=15)``."""
        from ..spec.format import format_component

        return format_component(self.name, self.non_default_params())

    @property
    def key_spec(self) -> str:
        """The spec plus the code version of the component (:func:`code_version`): what stage
        keys are built from, so that a changed component never reuses cached outputs."""
        return f"{self.spec}@{code_version(type(self))}"

    def with_params(self, **changes: Any) -> Component:
        """A copy with some parameters changed (validated like a new instance)."""
        unknown = set(changes) - {f.name for f in attrs.fields(type(self))}
        if unknown:
            raise ParameterError(f"{self.name}: unknown parameter(s) {sorted(unknown)}")
        return attrs.evolve(self, **changes)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values without a scalar equality
        return False


def names_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """A tuple of names (an attrs converter typed for mypy, which misreads ``converter=tuple``)."""
    return tuple(value)


def frozen_array(value: Any) -> np.ndarray:
    """A read-only float copy of an array (stage outputs are immutable values)."""
    arr = np.array(value, dtype=float, copy=True)
    arr.setflags(write=False)
    return arr


def frozen_optional_array(value: Any) -> np.ndarray | None:
    """:func:`frozen_array`, passing ``None`` through."""
    return None if value is None else frozen_array(value)


# --- deterministic keys -----------------------------------------------------------------------

_SOURCE_HASHES: dict[type, str] = {}


def source_hash(cls: type) -> str:
    """Hash of the source of the modules defining ``cls`` and its base classes (computed once
    per class). A class without retrievable source (defined in an interactive session) hashes
    its qualified name and the source lines of its methods where available."""
    found = _SOURCE_HASHES.get(cls)
    if found is not None:
        return found
    import hashlib
    import inspect
    import sys

    h = hashlib.sha256()
    for klass in cls.__mro__:
        if klass is object or klass.__module__ in ("builtins", "attr", "attrs"):
            continue
        h.update(f"{klass.__module__}:{klass.__qualname__}\n".encode())
        module = sys.modules.get(klass.__module__)
        for obj in (module, klass):
            if obj is None:
                continue
            try:
                h.update(inspect.getsource(obj).encode())
                break
            except (OSError, TypeError):
                continue
    found = _SOURCE_HASHES[cls] = h.hexdigest()[:16]
    return found


def code_version(cls: type) -> str:
    """The code version of a component class: the causalfolio version and :func:`source_hash`."""
    from .. import __version__

    return f"{__version__}+{source_hash(cls)}"



def fingerprint(*parts: Any) -> str:
    """A deterministic 16-hex-digit key of arrays, frames, strings and numbers.

    Frames hash their index, columns and values bit for bit, so two frames share a key exactly when
    they hold the same data. Used to key stage outputs: component spec plus inputs' identity.
    """
    import hashlib  # here, not at the top: parsing a spec needs no hashing

    h = hashlib.sha256()
    for part in parts:
        _feed(h, part)
    return h.hexdigest()[:16]


def _feed(h: Any, part: Any) -> None:
    if isinstance(part, pd.DataFrame):
        h.update(b"DF")
        _feed(h, np.asarray(part.index.asi8 if isinstance(part.index, pd.DatetimeIndex)
                            else part.index.astype(str)))
        _feed(h, "|".join(map(str, part.columns)))
        _feed(h, part.to_numpy(dtype=float))
    elif isinstance(part, pd.Series):
        _feed(h, part.to_frame())
    elif isinstance(part, np.ndarray):
        arr = np.ascontiguousarray(part)
        h.update(b"ND" + str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(arr.tobytes() if arr.dtype != object else str(arr.tolist()).encode())
    elif isinstance(part, (list, tuple)):
        h.update(b"L")
        for p in part:
            _feed(h, p)
    elif isinstance(part, dict):
        import json  # here: parsing a spec needs no json

        h.update(json.dumps(part, sort_keys=True, default=str).encode())
    else:
        h.update(b"S" + repr(part).encode())
