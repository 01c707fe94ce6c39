"""Brace alternatives: ``{rccp,greedy}|linear|beta|static|{hsp,hrp}`` -> four concrete specs."""

from __future__ import annotations

from ..errors import SpecError
from .parser import check_nesting, split_parts


def _find_group(spec: str) -> tuple[int, int] | None:
    """Offsets of the first top-level ``{...}`` outside quotes, or None."""
    quote, start, depth = None, -1, 0
    for i, ch in enumerate(spec):
        if quote:
            if ch == quote and spec[i - 1] != "\\":
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise SpecError("unmatched '}'", spec, i, i + 1)
            if depth == 0:
                return start, i
    if depth > 0:
        raise SpecError("unmatched '{'", spec, start, start + 1)
    return None


def expand_spec(spec: str) -> list[str]:
    """All concrete specs described by brace alternatives, leftmost group varying slowest.

    Groups may appear anywhere (whole stages or parameter values, e.g. ``rccp(k={5,10})``) and may
    nest. Duplicates are kept in order of first appearance only once.
    """
    if not isinstance(spec, str):
        raise SpecError(f"a spec must be a string, got {type(spec).__name__}")
    check_nesting(spec)
    return _expand(spec)


def _expand(spec: str) -> list[str]:
    group = _find_group(spec)
    if group is None:
        return [spec]
    start, end = group
    alts = [text for text, _ in split_parts(spec[start + 1:end], sep=",")]
    if any(not a.strip() for a in alts):
        raise SpecError("empty alternative in braces", spec, start, end + 1)
    out: list[str] = []
    for alt in alts:
        for s in _expand(spec[:start] + alt.strip() + spec[end + 1:]):
            if s not in out:
                out.append(s)
    return out
