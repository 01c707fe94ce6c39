"""Parse spec strings without ``eval``: a restricted walk of Python's ``ast``.

Grammar::

    spec      := part ('|' part)*          five parts, or one mapping part for a benchmark
    part      := NAME | NAME '(' [kwarg (',' kwarg)*] ')'
    kwarg     := NAME '=' value
    value     := number | string | True | False | None | '[' [value (',' value)*] ']'

Anything else (names as values, calls, operators, positional arguments) is a :class:`SpecError`
that points at the offending characters.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator
from typing import Any

import attrs

from ..errors import SpecError

MAX_NESTING = 32
"""Deepest nesting of brackets, parentheses and braces a spec may use (real specs use 3 or 4)."""


@attrs.frozen
class ComponentCall:
    """One parsed part of a spec: a component name with literal keyword parameters.

    ``start``/``end`` locate the part in the spec; ``name_span`` and ``param_spans`` locate the
    name and each ``key=value`` for error messages.
    """

    name: str
    params: dict[str, Any]
    start: int
    end: int
    name_span: tuple[int, int]
    param_spans: dict[str, tuple[int, int]]


def scan(spec: str) -> Iterator[tuple[int, str, bool]]:
    """Each character of ``spec`` as ``(position, character, quoted)``: ``quoted`` is True inside
    a quoted string, its quotes included (a quote after a backslash does not close it). The one
    quote-aware walk that splitting, nesting checks and brace expansion share."""
    quote = None
    for i, ch in enumerate(spec):
        if quote:
            if ch == quote and spec[i - 1] != "\\":
                quote = None
            yield i, ch, True
        elif ch in "'\"":
            quote = ch
            yield i, ch, True
        else:
            yield i, ch, False


def split_parts(spec: str, sep: str = "|") -> list[tuple[str, int]]:
    """Split at ``sep`` outside brackets and quotes: ``[(text, offset), ...]``."""
    parts, depth, start = [], 0, 0
    for i, ch, quoted in scan(spec):
        if quoted:
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append((spec[start:i], start))
            start = i + 1
    parts.append((spec[start:], start))
    return parts


def check_nesting(spec: str, *, what: str = "spec") -> None:
    """Raise :class:`SpecError` when brackets nest deeper than :data:`MAX_NESTING` (outside
    quotes), before any recursive step (expansion, parsing) can exhaust the stack."""
    depth = 0
    for i, ch, quoted in scan(spec):
        if quoted:
            continue
        if ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                cut = max(0, i - 40)
                raise SpecError(f"brackets nested more than {MAX_NESTING} deep in the {what}; "
                                "flatten it (a spec needs a few levels at most)",
                                spec[cut: i + 40], i - cut, i - cut + 1)
        elif ch in ")]}":
            depth -= 1


def _literal(node: ast.AST, spec: str, base: int) -> Any:
    num = node.operand if isinstance(node, ast.UnaryOp) else node
    if isinstance(num, ast.Constant) and isinstance(num.value, float) \
            and not math.isfinite(num.value):
        col = getattr(node, "col_offset", 0)
        raise SpecError("a number too large for a float (it would be infinite)", spec,
                        base + col, base + (getattr(node, "end_col_offset", None) or col + 1),
                        "give a finite value")
    if isinstance(node, ast.Constant) and isinstance(
        node.value, (int, float, str, bool, type(None))
    ):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        v = node.operand.value
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, spec, base) for e in node.elts]
    col = getattr(node, "col_offset", 0)  # every expression node has one; ast.AST does not
    start = base + col
    end = base + (getattr(node, "end_col_offset", None) or col + 1)
    hint = None
    if isinstance(node, ast.Name):
        hint = f"quote text values, e.g. '{node.id}'"
    raise SpecError(
        "parameter values must be numbers, quoted strings, True/False/None or [lists] of them",
        spec, start, end, hint,
    )


def parse_call(text: str, offset: int, spec: str) -> ComponentCall:
    """Parse one part ``text`` found at ``offset`` in ``spec``."""
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    base = offset + lead
    if not stripped:
        raise SpecError("empty stage", spec, offset, offset + max(1, len(text)),
                        "write a component name, e.g. 'linear'")
    if "\n" in stripped:
        raise SpecError("a spec must be on one line", spec, base, base + len(stripped))
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        pos = base + max(0, (exc.offset or 1) - 1)
        raise SpecError(f"cannot parse {stripped!r}: {exc.msg}", spec, pos, pos + 1) from None
    node = tree.body
    if isinstance(node, ast.Name):
        return ComponentCall(node.id, {}, base, base + len(stripped),
                             (base, base + len(node.id)), {})
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise SpecError("expected a component name, optionally with (key=value, ...)",
                        spec, base, base + len(stripped))
    name = node.func.id
    if node.args:
        a = node.args[0]
        raise SpecError("parameters must be given by name", spec, base + a.col_offset,
                        base + (a.end_col_offset or a.col_offset + 1), "write key=value")
    params: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    for kw in node.keywords:
        kstart = base + kw.col_offset
        kend = base + (kw.end_col_offset or kw.col_offset + 1)
        if kw.arg is None:
            raise SpecError("'**' is not allowed in a spec", spec, kstart, kend)
        if kw.arg in params:
            raise SpecError(f"parameter {kw.arg} given twice", spec, kstart, kend,
                            f"keep one {kw.arg}=...")
        params[kw.arg] = _literal(kw.value, spec, base)
        spans[kw.arg] = (kstart, kend)
    return ComponentCall(name, params, base, base + len(stripped),
                         (base + node.func.col_offset,
                          base + (node.func.end_col_offset or node.func.col_offset + 1)), spans)


def parse_parts(spec: str) -> list[ComponentCall]:
    """Parse every ``|``-separated part of a spec (without resolving names)."""
    if not isinstance(spec, str):
        raise SpecError(f"a spec must be a string, got {type(spec).__name__}")
    if not spec.strip():
        raise SpecError("empty spec", spec, None, None,
                        "e.g. 'rccp(k=3)|linear|beta|static|hsp'")
    check_nesting(spec)
    if "{" in spec or "}" in spec:
        pos = min(i for i in (spec.find("{"), spec.find("}")) if i >= 0)
        raise SpecError("braces give alternatives; expand the spec first (expand_spec) or use "
                        "the ablation runner", spec, pos, pos + 1)
    return [parse_call(text, off, spec) for text, off in split_parts(spec)]


def parse_keywords(text: str) -> dict[str, Any]:
    """``"a=1, b='x'"`` -> ``{"a": 1, "b": "x"}`` with the spec's literal values only.

    For parameters that hold keyword arguments as text (the ``sklearn`` model's ``options``).
    Raises :class:`SpecError` (positions relative to ``text``) for anything that is not
    ``key=literal`` pairs: calls, names, operators, ``**``, positional or repeated keys.
    """
    if not isinstance(text, str):
        raise SpecError(f"expected key=value text, got {type(text).__name__}")
    if not text.strip():
        return {}
    if "\n" in text:
        raise SpecError("key=value pairs must be on one line", text, 0, len(text))
    wrapped = f"f({text})"
    try:
        node = ast.parse(wrapped, mode="eval").body
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        msg = getattr(exc, "msg", None) or type(exc).__name__
        raise SpecError(f"cannot parse {text!r}: {msg}", text, 0, len(text)) from None
    if not isinstance(node, ast.Call) or node.args:
        raise SpecError("expected key=value pairs", text, 0, len(text), "write key=value")
    out: dict[str, Any] = {}
    for kw in node.keywords:
        start, end = kw.col_offset - 2, (kw.end_col_offset or kw.col_offset + 1) - 2
        if kw.arg is None:
            raise SpecError("'**' is not allowed", text, start, end)
        if kw.arg in out:
            raise SpecError(f"{kw.arg!r} is given twice", text, start, end)
        out[kw.arg] = _literal(kw.value, text, -2)
    return out
