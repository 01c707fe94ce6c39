"""Brace alternatives: ``{rccp,greedy}|linear|beta|static|{hsp,hrp}`` -> four concrete specs.

A spec is parsed once into a tree (text pieces and groups of alternatives) without recursion, the
number of specs it describes is computed from the tree (:func:`count_spec`) before anything is
expanded, and the expansion is refused above a limit. Expansion and de-duplication take time
linear in the size of the output.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from ..errors import ConfigError, SpecError
from .parser import check_nesting, scan

MAX_COMBINATIONS = 10_000
"""Default limit on the combinations a spec or grid may describe (``max_combinations``)."""



class _Group:
    """``{alt,alt,...}``: each alternative a sequence of text pieces and groups (indices)."""

    __slots__ = ("alts", "count", "end", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = -1
        self.alts: list[list[str | int]] = [[]]
        self.count = 0


class _Tree:
    """A spec parsed into the top-level sequence and its groups, in the order they close (so a
    group's sub-groups always come before it)."""

    def __init__(self, spec: str) -> None:
        if not isinstance(spec, str):
            raise SpecError(f"a spec must be a string, got {type(spec).__name__}")
        check_nesting(spec)
        self.spec = spec
        self.groups: list[_Group] = []
        self.root: list[str | int] = []
        self._parse()

    def _parse(self) -> None:
        spec = self.spec
        # frames: [group or None (the top level), current sequence, bracket depth, its count]
        stack: list[list] = [[None, self.root, 0, 1]]
        alt_counts: list[list[int]] = []  # per open group: the counts of its closed alternatives
        buf: list[str] = []

        def flush() -> None:
            if buf:
                stack[-1][1].append("".join(buf))
                buf.clear()

        for i, ch, quoted in scan(spec):
            frame = stack[-1]
            if quoted:
                buf.append(ch)
            elif ch == "{":
                flush()
                group = _Group(i)
                stack.append([group, group.alts[0], 0, 1])
                alt_counts.append([])
            elif ch == "}":
                if frame[0] is None:
                    raise SpecError("unmatched '}'", spec, i, i + 1)
                flush()
                group = frame[0]
                group.end = i
                alt_counts[-1].append(frame[3])
                self._check_alternatives(group)
                group.count = sum(alt_counts.pop())
                stack.pop()
                self.groups.append(group)
                parent = stack[-1]
                parent[1].append(len(self.groups) - 1)
                parent[3] *= group.count
            elif ch == "," and frame[0] is not None and frame[2] == 0:
                flush()
                alt_counts[-1].append(frame[3])
                seq: list[str | int] = []
                frame[0].alts.append(seq)
                frame[1], frame[3] = seq, 1
            else:
                if ch in "([":
                    frame[2] += 1
                elif ch in ")]":
                    frame[2] -= 1
                buf.append(ch)
        flush()
        if len(stack) > 1:
            start = stack[1][0].start
            raise SpecError("unmatched '{'", spec, start, start + 1)
        self.count = stack[0][3]

    def _check_alternatives(self, group: _Group) -> None:
        for alt in group.alts:
            # strip the alternative's surrounding white space (its first and last text pieces)
            while alt and isinstance(alt[0], str) and not alt[0].strip():
                alt.pop(0)
            while alt and isinstance(alt[-1], str) and not alt[-1].strip():
                alt.pop()
            if not alt:
                raise SpecError("empty alternative in braces", self.spec, group.start,
                                group.end + 1)
            if isinstance(alt[0], str):
                alt[0] = alt[0].lstrip()
            if isinstance(alt[-1], str):
                alt[-1] = alt[-1].rstrip()

    def expand(self) -> list[str]:
        """Every concrete spec, leftmost group varying slowest, each once (first appearance)."""
        done: list[list[str]] = []
        for group in self.groups:  # sub-groups close (and are expanded) before their parents
            out: dict[str, None] = {}
            for alt in group.alts:
                out.update(dict.fromkeys(_product(alt, done)))
            done.append(list(out))
        return list(dict.fromkeys(_product(self.root, done)))


def _product(seq: list[str | int], done: list[list[str]]) -> Iterable[str]:
    choices = [[x] if isinstance(x, str) else done[x] for x in seq]
    return ("".join(p) for p in itertools.product(*choices))


def resolve_limit(max_combinations: int | None) -> int:
    """The limit itself: ``None`` is the default :data:`MAX_COMBINATIONS`; else an integer >= 1."""
    if max_combinations is None:
        return MAX_COMBINATIONS
    if isinstance(max_combinations, bool) or not isinstance(max_combinations, int) \
            or max_combinations < 1:
        raise ConfigError(f"max_combinations must be an integer >= 1, got {max_combinations!r}")
    return max_combinations


def check_limit(count: int, max_combinations: int | None, what: str, detail: str = "") -> None:
    """Raise :class:`ConfigError` when ``count`` exceeds ``max_combinations`` (``None``: the
    default :data:`MAX_COMBINATIONS`); ``what`` and ``detail`` go into the message."""
    limit = resolve_limit(max_combinations)
    if count > limit:
        raise ConfigError(
            f"{what} describes {count:,} combinations{detail}, more than max_combinations="
            f"{limit:,}; remove alternatives or values, or raise the limit "
            "(--max-combinations, max_combinations=)")


def count_spec(spec: str) -> int:
    """How many concrete specs the brace alternatives of ``spec`` describe (before removing
    duplicates), computed from its parse tree without expanding anything."""
    return _Tree(spec).count


def expand_spec(spec: str, *, max_combinations: int | None = None) -> list[str]:
    """All concrete specs described by brace alternatives, leftmost group varying slowest.

    Groups may appear anywhere (whole stages or parameter values, e.g. ``rccp(k={5,10})``) and may
    nest. Duplicates are kept in order of first appearance only once. More than
    ``max_combinations`` specs (counted before expanding; default :data:`MAX_COMBINATIONS`)
    raise :class:`~causalfolio.errors.ConfigError`.
    """
    tree = _Tree(spec)
    if not tree.groups:
        return [spec]
    check_limit(tree.count, max_combinations, "the spec")
    return tree.expand()
