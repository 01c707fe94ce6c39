"""Distribution shifts of the synthetic market: dated events or a regular schedule.

A shift is written ``KIND[:KEY=VALUE]...``; several are joined with ``;``::

    driver_vol:every=250:strength=2          drivers' volatility x2 in every other 250-day block
    proxy_decouple:start=2018-01-02          proxies independent of their driver from that date
    mechanism:start=600:end=900              mean sensitivities changed on days 600..899
    none                                     no shift

The same text is what ``--synthetic-param shifts=...`` and the grid file's ``[market]`` table take
(a comma there lists several settings: an axis of markets). Python also takes :class:`Shift`
objects or mappings with the same keys.

Kinds (what changes in the active days; every other mechanism stays as it was):

==================  ==============================================================================
``driver_vol``      common (and latent) drivers' volatility x ``strength`` (default 2); asset
                    correlations move, causal sensitivities do not. ``driver=J``: only
                    ``truth.common[J]``.
``intervention``    do-intervention on one driver (``driver``, default 0): volatility x
                    ``strength`` (default 1) and ``level`` added to its daily mean (default 0);
                    the assets' mechanisms are unchanged.
``proxy_decouple``  every proxy = (1 - ``strength``) x its driver + ``strength`` x an independent
                    path of the same volatility (+ its own noise); default strength 1.
``collider_rewire`` every collider of a subset of assets becomes a function of other assets:
                    (1 - ``strength``) x old members' average + ``strength`` x new members'.
``spurious``        ``n`` (default 2) new candidates: a noisy average of half the assets inside
                    the active days, independent noise of the same volatility outside.
``mechanism``       a control: the mean sensitivities move ``strength`` (default 1) of the way to
                    a new clustered draw; nothing causal stays valid.
==================  ==============================================================================

Timing keys (all kinds): ``start`` a date ``YYYY-MM-DD`` or a day index (default: day 0 with
``every``, else the middle of the sample), ``end`` the same, exclusive (default: the end),
``every=D``: active and inactive blocks of D days alternate from ``start``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pandas as pd

from ..errors import ParameterError

SHIFT_KINDS = ("driver_vol", "intervention", "proxy_decouple", "collider_rewire", "spurious",
               "mechanism")
"""The kinds of distribution shift ``synthetic_market(shifts=...)`` knows."""

_TIMING = ("start", "end", "every")
_KEYS = {
    "driver_vol": ("strength", "driver"),
    "intervention": ("strength", "level", "driver"),
    "proxy_decouple": ("strength",),
    "collider_rewire": ("strength",),
    "spurious": ("n",),
    "mechanism": ("strength",),
}
_DEFAULT_STRENGTH = {"driver_vol": 2.0, "intervention": 1.0, "proxy_decouple": 1.0,
                     "collider_rewire": 1.0, "mechanism": 1.0}


def _when(value: Any, key: str, kind: str) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParameterError(f"shift {kind}: {key} must be a date YYYY-MM-DD or a day index, "
                             f"got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ParameterError(f"shift {kind}: {key} must be a day index >= 0, got {value}")
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts) or len(text) < 8:
        raise ParameterError(f"shift {kind}: {key} must be a date YYYY-MM-DD or a day index, "
                             f"got {value!r}")
    return ts.strftime("%Y-%m-%d")


def _number(value: Any, key: str, kind: str, *, integer: bool = False) -> Any:
    try:
        f = float(value)
    except (TypeError, ValueError):
        f = math.nan
    if isinstance(value, bool) or not math.isfinite(f) or (integer and f != int(f)):
        what = "an integer" if integer else "a finite number"
        raise ParameterError(f"shift {kind}: {key} must be {what}, got {value!r}")
    return int(f) if integer else f


def _exact_text(v: float) -> str:
    """Shortest text that parses back to exactly ``v`` (``2`` rather than ``2.0``)."""
    short = f"{v:g}"
    return short if float(short) == v else repr(v)


@attrs.frozen(kw_only=True)
class Shift:
    """One distribution shift of the synthetic market (see the module docstring for the kinds).

    Attributes
    ----------
    kind
        One of :data:`SHIFT_KINDS`.
    start, end
        First active day and the day after the last: a date ``YYYY-MM-DD`` or a day index.
    every
        Active/inactive blocks of this many days alternate from ``start`` (a regular schedule).
    strength, level, driver, n
        Kind-specific settings (``None``: the kind's default).
    """

    kind: str
    start: str | int | None = None
    end: str | int | None = None
    every: int | None = None
    strength: float | None = None
    level: float | None = None
    driver: int | None = None
    n: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in SHIFT_KINDS:
            import difflib

            close = difflib.get_close_matches(str(self.kind), SHIFT_KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParameterError(f"unknown shift kind {self.kind!r}{hint} (kinds: "
                                 f"{', '.join(SHIFT_KINDS)})")
        allowed = _KEYS[self.kind]
        for key in ("strength", "level", "driver", "n"):
            if getattr(self, key) is not None and key not in allowed:
                raise ParameterError(f"shift {self.kind} takes no {key!r}; its keys are "
                                     f"{', '.join((*_TIMING, *allowed))}")
        object.__setattr__(self, "start", _when(self.start, "start", self.kind))
        object.__setattr__(self, "end", _when(self.end, "end", self.kind))
        if self.every is not None:
            every = _number(self.every, "every", self.kind, integer=True)
            if every < 1:
                raise ParameterError(f"shift {self.kind}: every must be >= 1 day, got {every}")
            object.__setattr__(self, "every", every)
        if self.strength is not None:
            s = _number(self.strength, "strength", self.kind)
            if self.kind in ("proxy_decouple", "collider_rewire") and not 0 <= s <= 1:
                raise ParameterError(f"shift {self.kind}: strength is a fraction in [0, 1], "
                                     f"got {s}")
            if self.kind in ("driver_vol", "intervention") and s <= 0:
                raise ParameterError(f"shift {self.kind}: strength multiplies a volatility "
                                     f"and must be > 0, got {s}")
            if self.kind == "mechanism" and s < 0:
                raise ParameterError(f"shift mechanism: strength must be >= 0, got {s}")
            object.__setattr__(self, "strength", s)
        if self.level is not None:
            object.__setattr__(self, "level", _number(self.level, "level", self.kind))
        for key in ("driver", "n"):
            v = getattr(self, key)
            if v is not None:
                v = _number(v, key, self.kind, integer=True)
                if v < (1 if key == "n" else 0):
                    raise ParameterError(f"shift {self.kind}: {key} must be >= "
                                         f"{1 if key == 'n' else 0}, got {v}")
                object.__setattr__(self, key, v)

    @property
    def power(self) -> float:
        """The strength in effect (the kind's default when unset; 0 for ``spurious``)."""
        return self.strength if self.strength is not None else _DEFAULT_STRENGTH.get(self.kind,
                                                                                     0.0)

    def text(self) -> str:
        """The canonical ``KIND:KEY=VALUE...`` form (parses back to an equal shift)."""
        parts = [self.kind]
        for key in ("start", "end", "every", "strength", "level", "driver", "n"):
            v = getattr(self, key)
            if v is not None:
                parts.append(f"{key}={_exact_text(v)}" if isinstance(v, float) else f"{key}={v}")
        return ":".join(parts)

    def windows(self, dates: pd.DatetimeIndex) -> list[tuple[int, int]]:
        """Active day ranges ``[i0, i1)`` on the market's calendar (non-empty, ordered)."""
        T = len(dates)

        def index(v: str | int | None, default: int, key: str) -> int:
            if v is None:
                return default
            if isinstance(v, int):
                i = v
            else:
                i = int(dates.searchsorted(pd.Timestamp(v)))
            if not 0 <= i <= T or (key == "start" and i == T):
                raise ParameterError(
                    f"shift {self.text()}: {key} {v!r} is outside the market "
                    f"({dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}, days 0..{T - 1})")
            return i

        i0 = index(self.start, 0 if self.every else T // 2, "start")
        i1 = index(self.end, T, "end")
        if i1 <= i0:
            raise ParameterError(f"shift {self.text()}: end must come after start")
        if not self.every:
            return [(i0, i1)]
        return [(a, min(a + self.every, i1)) for a in range(i0, i1, 2 * self.every)]


def parse_shifts(value: Any) -> tuple[Shift, ...]:
    """Normalise ``synthetic_market``'s ``shifts`` argument to a tuple of :class:`Shift`.

    Takes ``None``, ``"none"``, the text form ``"KIND:KEY=V;KIND..."``, a :class:`Shift`, a
    mapping with ``kind`` and the keys, or a list of those. Raises
    :class:`~causalfolio.errors.ParameterError` naming the bad part.
    """
    if value is None:
        return ()
    if isinstance(value, Shift):
        return (value,)
    if isinstance(value, Mapping):
        if "kind" not in value:
            raise ParameterError(f"a shift needs a kind (one of {', '.join(SHIFT_KINDS)}), got "
                                 f"{dict(value)!r}")
        keys = {f.name for f in attrs.fields(Shift)}
        unknown = sorted(set(value) - keys)
        if unknown:
            raise ParameterError(f"shift {value.get('kind')!r}: unknown key(s) {unknown}")
        return (Shift(**dict(value)),)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "none"):
            return ()
        out: list[Shift] = []
        for event in text.split(";"):
            kind, *pairs = [p.strip() for p in event.strip().split(":")]
            fields: dict[str, Any] = {"kind": kind}
            for pair in pairs:
                key, sep, val = pair.partition("=")
                if not sep or not key.strip() or not val.strip():
                    raise ParameterError(f"shift {event.strip()!r}: write KIND:KEY=VALUE, got "
                                         f"{pair!r}")
                fields[key.strip()] = val.strip()
            out.extend(parse_shifts(fields))
        return tuple(out)
    if isinstance(value, Sequence):
        return tuple(s for item in value for s in parse_shifts(item))
    raise ParameterError(f"shifts must be text such as 'driver_vol:every=250', a Shift or a list "
                         f"of them, got {type(value).__name__}")


def shifts_text(shifts: Sequence[Shift]) -> str:
    """Canonical text of several shifts (``none`` when there are none)."""
    return ";".join(s.text() for s in shifts) or "none"
