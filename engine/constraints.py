"""Weight constraints: per-asset bounds and linear (group) constraints, as one value object.

:class:`Constraints` is built once from the settings (``min_weight``, ``max_weight``, ``groups``,
``linear_constraints``, ``bounds_policy``: the same names in :class:`BacktestConfig`, the command
line, ablation grids, :meth:`Pipeline.run` and the scikit-learn estimators). At each rebalance,
:meth:`Constraints.resolve` turns it into a :class:`DateConstraints` for the assets investable
on that date (assets that are not investable drop out of every constraint), checks that some
long-only fully invested portfolio satisfies it, and hands it to the risk mapping through
:class:`~causalfolio.stages.MappingInputs`.

Linear constraints are strings in the spirit of skfolio's ``linear_constraints``, parsed without
``eval`` by a tiny grammar: names (assets or groups), numbers, ``+ - *`` and one of
``<= >= =``, e.g. ``"Tech <= 0.3"``, ``"Energy + Utilities >= 0.1"``, ``"Tech <= 2 * Bonds"``.
A group name stands for the sum of the weights of its investable members.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._lazy import np
from .errors import ConfigError, DataError, NumericalError

TOL = 1e-9
"""Slack of the feasibility checks (sums of bounds, linear rows)."""
BOUNDS_POLICIES: tuple[str, ...] = ("error", "relax")


class InfeasibleConstraintsError(ConfigError):
    """No long-only fully invested portfolio satisfies the constraints at a date (the message
    names the date and the constraint or group at fault)."""


# --- linear constraints: a tiny grammar -------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op><=|>=|==|=|\+|-|\*)
  | (?P<name>[A-Za-z_^][\w.^:/&$#@]*)
  | '(?P<q1>[^']+)' | "(?P<q2>[^"]+)"
)""", re.VERBOSE)


@attrs.frozen
class LinearConstraint:
    """``sum coef * x(name) <= rhs`` (or ``==`` when ``equality``), from ``text``.

    ``x(name)`` is an asset's weight, or the sum of a group's members' weights.
    """

    text: str
    terms: tuple[tuple[str, float], ...]
    rhs: float
    equality: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.terms)


def parse_linear(text: str) -> LinearConstraint:
    """Parse one linear constraint such as ``"Tech <= 0.3"`` or ``"2*A - B >= 0"`` (no eval).

    Each side is a sum of terms ``number``, ``name``, ``number * name`` or ``name * number``
    (names may be quoted: ``'BRK-B'``); the operator is ``<=``, ``>=`` or ``=``.

    Raises :class:`ConfigError` saying where the text stops making sense.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"a linear constraint is a string like 'Tech <= 0.3', got {text!r}")
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConfigError(f"linear constraint {text!r}: cannot read {text[pos:].strip()!r} "
                              f"(at position {pos}); write names, numbers, + - * and one of "
                              "<= >= =")
        group = str(m.lastgroup)
        value = m.group(group)
        kind = "name" if group in ("q1", "q2") else group
        tokens.append((kind, value, m.start(group)))
        pos = m.end()
    ops = [t for t in tokens if t[0] == "op" and t[1] in ("<=", ">=", "=", "==")]
    if len(ops) != 1:
        raise ConfigError(f"linear constraint {text!r}: needs exactly one of <=, >=, = "
                          f"(found {len(ops)})")
    split = tokens.index(ops[0])
    left = _side(tokens[:split], text)
    right = _side(tokens[split + 1:], text)
    coefs: dict[str, float] = {}
    const = 0.0
    for sign, (side_terms, c) in ((1.0, left), (-1.0, right)):
        const += sign * c
        for name, coef in side_terms:
            coefs[name] = coefs.get(name, 0.0) + sign * coef
    op = ops[0][1]
    flip = -1.0 if op == ">=" else 1.0
    terms = tuple((k, flip * v) for k, v in coefs.items() if v != 0.0)
    if not terms:
        raise ConfigError(f"linear constraint {text!r} names no asset or group")
    const *= flip
    # sum terms + const (<= or ==) 0  ->  sum terms (<= or ==) -const
    return LinearConstraint(text=text.strip(), terms=terms, rhs=-const + 0.0,
                            equality=op in ("=", "=="))


def _side(tokens: list[tuple[str, Any, int]], text: str
          ) -> tuple[list[tuple[str, float]], float]:
    """Terms and constant of one side: [+|-] term (+|- term)*, term = num | name | num*name..."""
    if not tokens:
        raise ConfigError(f"linear constraint {text!r}: a side of the inequality is empty")
    terms: list[tuple[str, float]] = []
    const = 0.0
    i, n = 0, len(tokens)

    def fail(at: int, what: str) -> ConfigError:
        where = tokens[at][2] if at < n else len(text)
        return ConfigError(f"linear constraint {text!r}: {what} at position {where}")

    while i < n:
        sign = 1.0
        if tokens[i][0] == "op" and tokens[i][1] in "+-":
            sign = -1.0 if tokens[i][1] == "-" else 1.0
            i += 1
        elif i:  # a term after the first needs its sign
            raise fail(i, "expected + or -")
        if i >= n:
            raise fail(i, "expected a number or a name")
        kind, value, _ = tokens[i]
        if kind == "num":
            coef = sign * float(value)
            if i + 1 < n and tokens[i + 1][:2] == ("op", "*"):
                if i + 2 >= n or tokens[i + 2][0] != "name":
                    raise fail(i + 2, "expected a name after *")
                terms.append((tokens[i + 2][1], coef))
                i += 3
            else:
                const += coef
                i += 1
        elif kind == "name":
            coef = sign
            if i + 1 < n and tokens[i + 1][:2] == ("op", "*"):
                if i + 2 >= n or tokens[i + 2][0] != "num":
                    raise fail(i + 2, "expected a number after *")
                coef *= float(tokens[i + 2][1])
                i += 3
            else:
                i += 1
            terms.append((value, coef))
        else:
            raise fail(i, "expected a number or a name")
    return terms, const


# --- reading the settings -----------------------------------------------------------------------


def _bound_value(value: Any, name: str) -> float | dict[str, float]:
    """A bound setting: a number (or numeric text), a mapping asset -> number, or a CSV file
    with the columns ``asset`` and ``name`` (e.g. ``asset,max_weight``)."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} takes a number, a mapping asset -> number or a file, got "
                          f"{value!r}")
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            out[str(k)] = _number(v, f"{name} of asset {k!r}")
        return out
    if isinstance(value, (tuple, list)) and all(isinstance(p, (tuple, list)) and len(p) == 2
                                                for p in value):
        return _bound_value(dict(value), name)  # pairs (as ablation grids hold a mapping)
    if isinstance(value, (str, os.PathLike)):
        text = str(value).strip()
        try:
            return _number(float(text), name)
        except ValueError:
            pass
        from .backtest.inputs import asset_values

        return {k: _number(v, f"{name} of asset {k!r}")
                for k, (v, _) in asset_values(text, what=name, column=name).items()}
    return _number(value, name)


def _number(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, a mapping asset -> number or a file, got "
                          f"{value!r}") from None
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise ConfigError(f"{name} must be a weight in [0, 1] (long-only), got {value!r}")
    return v


def _groups_value(value: Any) -> dict[str, tuple[str, ...]]:
    """``groups``: a mapping asset -> group or list of groups, or a CSV file ``asset,group``
    (an asset in several groups has several rows)."""
    if value is None:
        return {}
    if isinstance(value, (str, os.PathLike)):
        from .backtest.inputs import _read_csv

        frame = _read_csv(str(value), what="groups")
        cols = {str(c).lower(): c for c in frame.columns}
        if "asset" not in cols or "group" not in cols:
            raise DataError(f"{value}: a groups file has the columns asset,group (one row per "
                            f"asset and group); got {list(frame.columns)}")
        out: dict[str, list[str]] = {}
        for a, g in zip(frame[cols["asset"]], frame[cols["group"]], strict=True):
            if not isinstance(g, str) or not g.strip():
                raise DataError(f"{value}: asset {a!r} has an empty group")
            out.setdefault(str(a), []).append(g.strip())
        return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}
    if isinstance(value, (tuple, list)) and all(isinstance(p, (tuple, list)) and len(p) == 2
                                                for p in value):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ConfigError(f"groups takes a mapping asset -> group(s) or a file asset,group, got "
                          f"{value!r}")
    out2 = {}
    for k, v in value.items():
        items = [v] if isinstance(v, str) else list(v) if isinstance(v, (tuple, list)) else None
        if not items or not all(isinstance(g, str) and g.strip() for g in items):
            raise ConfigError(f"groups: asset {k!r} needs a group name or a list of them, got "
                              f"{v!r}")
        out2[str(k)] = tuple(dict.fromkeys(g.strip() for g in items))
    return out2


def _linear_value(value: Any) -> tuple[LinearConstraint, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or isinstance(items, Mapping):
        raise ConfigError(f"linear_constraints takes a list of strings like 'Tech <= 0.3', got "
                          f"{value!r}")
    return tuple(parse_linear(t) for t in items)


def _pairs(value: float | dict[str, float]) -> tuple[tuple[str, float], ...] | float:
    return value if isinstance(value, float) else tuple(sorted(value.items()))


# --- the value object ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Constraints:
    """Per-asset bounds and linear (group) constraints, as given in the settings.

    Build it with :meth:`from_settings`; resolve it at a date with :meth:`resolve`.

    Attributes
    ----------
    min_weight, max_weight
        A weight in [0, 1] for every asset, or ``(asset, weight)`` pairs: assets not listed get
        0 and 1 (as skfolio's ``min_weights`` / ``max_weights`` mappings).
    groups
        ``(asset, groups)`` pairs: the groups each asset belongs to.
    linear
        Parsed linear constraints.
    bounds_policy
        ``error`` or ``relax`` when the per-asset bounds cannot hold for the investable assets
        at a date (relax: every minimum lowered to at most 1/n, every maximum raised to at least
        1/n). Linear constraints are never relaxed.
    """

    min_weight: float | tuple[tuple[str, float], ...] = 0.0
    max_weight: float | tuple[tuple[str, float], ...] = 1.0
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    linear: tuple[LinearConstraint, ...] = ()
    bounds_policy: str = "error"
    _memo: dict = attrs.field(factory=dict, init=False, eq=False, repr=False, hash=False)

    @classmethod
    def from_settings(cls, min_weight: Any = 0.0, max_weight: Any = 1.0, groups: Any = None,
                      linear_constraints: Any = None, bounds_policy: str = "error"
                      ) -> Constraints:
        """Check and build the constraints from the settings' spellings (numbers, mappings,
        files, strings); files are read here, once."""
        lo = _bound_value(min_weight, "min_weight")
        hi = _bound_value(max_weight, "max_weight")
        if isinstance(lo, float) and isinstance(hi, float) and lo > hi:
            raise ConfigError(f"bounds must satisfy 0 <= min_weight <= max_weight <= 1, got "
                              f"({lo}, {hi})")
        lo_of = (lambda a: lo) if isinstance(lo, float) else (lambda a: lo.get(a, 0.0))
        hi_of = (lambda a: hi) if isinstance(hi, float) else (lambda a: hi.get(a, 1.0))
        for a in sorted({*(lo if isinstance(lo, dict) else ()), *(hi if isinstance(hi, dict)
                                                                  else ())}):
            if lo_of(a) > hi_of(a):
                raise ConfigError(f"asset {a!r} has min_weight {lo_of(a):g} > max_weight "
                                  f"{hi_of(a):g}")
        if bounds_policy not in BOUNDS_POLICIES:
            raise ConfigError(f"unknown bounds_policy {bounds_policy!r}; use 'error' or "
                              "'relax'")
        grp = _groups_value(groups)
        linear = _linear_value(linear_constraints)
        names = {g for gs in grp.values() for g in gs}
        clash = sorted(names & set(grp))
        if clash:
            raise ConfigError(f"groups: {clash[0]!r} is both an asset and a group; rename the "
                              "group")
        return cls(min_weight=_pairs(lo), max_weight=_pairs(hi),
                   groups=tuple(sorted(grp.items())), linear=linear,
                   bounds_policy=bounds_policy)

    # -- facts ----------------------------------------------------------------------------------
    @property
    def scalar(self) -> bool:
        """True when every asset has the same bounds and there are no linear constraints."""
        return (isinstance(self.min_weight, float) and isinstance(self.max_weight, float)
                and not self.linear)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(sorted({g for _, gs in self.groups for g in gs}))

    def members(self, group: str) -> tuple[str, ...]:
        """The assets of ``group`` (all of them, investable or not)."""
        return tuple(a for a, gs in self.groups if group in gs)

    def check_assets(self, assets: Sequence[str], owner: str = "the data") -> None:
        """Raise :class:`ConfigError` for an asset named in the constraints that is not among
        ``assets`` (all the assets of the data, investable or not): a typo, not a delisting."""
        known = set(map(str, assets))
        groups = set(self.group_names)
        clash = sorted(known & groups)
        if clash:
            raise ConfigError(f"groups: {clash[0]!r} is both an asset of {owner} and a group; "
                              "rename the group")
        named: list[tuple[str, str]] = []
        for what, value in (("min_weight", self.min_weight), ("max_weight", self.max_weight)):
            if not isinstance(value, float):
                named += [(what, a) for a, _ in value]
        named += [("groups", a) for a, _ in self.groups]
        for lc in self.linear:
            named += [(f"linear constraint {lc.text!r}", n) for n in lc.names if n not in groups]
        for what, name in named:
            if name not in known:
                import difflib

                close = difflib.get_close_matches(name, sorted(known | groups), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{what} names {name!r}, which is neither an asset of "
                                  f"{owner} nor a group{hint}")

    # -- one date ---------------------------------------------------------------------------------
    def resolve(self, assets: Sequence[str], date: Any = None) -> DateConstraints:
        """The constraints on the investable ``assets`` at ``date``, checked for feasibility.

        Raises :class:`InfeasibleConstraintsError` naming the date and the constraint (or group)
        at fault when no long-only fully invested portfolio satisfies them.
        """
        key = tuple(map(str, assets))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        out = self._resolve(key, date)
        if len(self._memo) > 4096:
            self._memo.clear()
        self._memo[key] = out
        return out

    def _where(self, date: Any) -> str:
        import pandas as pd

        return "" if date is None else f"on {pd.Timestamp(date).date()}: "

    def _resolve(self, assets: tuple[str, ...], date: Any) -> DateConstraints:
        from .weights import check_bounds

        n = len(assets)
        if n == 0:
            raise DataError(f"{self._where(date)}no investable asset")
        lo = self._array(self.min_weight, assets, 0.0)
        hi = self._array(self.max_weight, assets, 1.0)
        relaxed = False
        if lo.sum() > 1.0 + TOL or hi.sum() < 1.0 - TOL:
            if self.bounds_policy == "relax":
                lo, hi = np.minimum(lo, 1.0 / n), np.maximum(hi, 1.0 / n)
                relaxed = True
            elif isinstance(self.min_weight, float) and isinstance(self.max_weight, float):
                try:
                    check_bounds(n, self.min_weight, self.max_weight)
                except ConfigError as exc:
                    raise InfeasibleConstraintsError(
                        f"{self._where(date)}{exc} (or pass --bounds-policy relax)") from None
            else:
                raise InfeasibleConstraintsError(
                    f"{self._where(date)}infeasible per-asset bounds for the {n} investable "
                    f"assets: the minimum weights sum to {lo.sum():.6g} and the maximum "
                    f"weights to {hi.sum():.6g}, need sum(min) <= 1 <= sum(max); widen them "
                    "(or pass --bounds-policy relax)")
        index = {a: i for i, a in enumerate(assets)}
        member_idx = {g: [index[a] for a in self.members(g) if a in index]
                      for g in self.group_names}
        rows_ub: list[Any] = []
        rows_eq: list[Any] = []
        b_ub: list[float] = []
        b_eq: list[float] = []
        lab_ub: list[str] = []
        lab_eq: list[str] = []
        for lc in self.linear:
            row = np.zeros(n)
            for name, coef in lc.terms:
                if name in member_idx:
                    row[member_idx[name]] += coef
                elif name in index:
                    row[index[name]] += coef
                # else: an asset not investable at this date: its weight is 0
            if not np.any(row):
                ok = abs(lc.rhs) <= TOL if lc.equality else lc.rhs >= -TOL
                if not ok:
                    raise InfeasibleConstraintsError(
                        f"{self._where(date)}the constraint {lc.text!r} cannot hold: "
                        f"{self._absent(lc, member_idx)} no investable asset (its left side is "
                        "0 on this date)")
                continue
            (rows_eq if lc.equality else rows_ub).append(row)
            (b_eq if lc.equality else b_ub).append(lc.rhs)
            (lab_eq if lc.equality else lab_ub).append(lc.text)
        out = DateConstraints(
            assets=assets, lo=lo, hi=hi,
            a_ub=np.array(rows_ub).reshape(len(rows_ub), n), b_ub=np.array(b_ub, dtype=float),
            a_eq=np.array(rows_eq).reshape(len(rows_eq), n), b_eq=np.array(b_eq, dtype=float),
            labels_ub=tuple(lab_ub), labels_eq=tuple(lab_eq), relaxed=relaxed)
        if out.has_linear:
            self._check_feasible(out, member_idx, date)
        return out

    def _absent(self, lc: LinearConstraint, member_idx: dict[str, list[int]]) -> str:
        groups = [nm for nm in lc.names if nm in member_idx]
        if groups:
            return "group " + ", ".join(repr(g) for g in groups) + " has"
        return "it names"

    @staticmethod
    def _array(value: float | tuple[tuple[str, float], ...], assets: tuple[str, ...],
               default: float) -> np.ndarray:
        if isinstance(value, float):
            return np.full(len(assets), value)
        table = dict(value)
        return np.array([table.get(a, default) for a in assets], dtype=float)

    def _check_feasible(self, dc: DateConstraints, member_idx: dict[str, list[int]],
                        date: Any) -> None:
        if dc.feasible():
            return
        where = self._where(date)
        # name the first constraint that cannot hold on its own with the per-asset bounds
        for i, text in enumerate(dc.labels_ub):
            alone = attrs.evolve(dc, a_ub=dc.a_ub[i:i + 1], b_ub=dc.b_ub[i:i + 1],
                                 a_eq=dc.a_eq[:0], b_eq=dc.b_eq[:0], labels_ub=(text,),
                                 labels_eq=())
            if not alone.feasible():
                raise InfeasibleConstraintsError(
                    f"{where}the constraint {text!r}{self._describe(text, member_idx, dc)} "
                    "cannot hold with the per-asset bounds for the "
                    f"{len(dc.assets)} investable assets; loosen it or the bounds")
        for i, text in enumerate(dc.labels_eq):
            alone = attrs.evolve(dc, a_ub=dc.a_ub[:0], b_ub=dc.b_ub[:0],
                                 a_eq=dc.a_eq[i:i + 1], b_eq=dc.b_eq[i:i + 1], labels_ub=(),
                                 labels_eq=(text,))
            if not alone.feasible():
                raise InfeasibleConstraintsError(
                    f"{where}the constraint {text!r}{self._describe(text, member_idx, dc)} "
                    "cannot hold with the per-asset bounds; loosen it or the bounds")
        raise InfeasibleConstraintsError(
            f"{where}the linear constraints {', '.join(repr(t) for t in dc.labels)} cannot "
            "hold together with the per-asset bounds (each holds alone); loosen one of them")

    def _describe(self, text: str, member_idx: dict[str, list[int]], dc: DateConstraints
                  ) -> str:
        lc = next(c for c in self.linear if c.text == text)
        parts = []
        for g in lc.names:
            if g in member_idx:
                inv = [dc.assets[i] for i in member_idx[g]]
                parts.append(f"group {g!r}: {len(inv)} investable of {len(self.members(g))}"
                             f" ({', '.join(inv[:6])}{'...' if len(inv) > 6 else ''})")
        return f" ({'; '.join(parts)})" if parts else ""


def _empty_rows() -> np.ndarray:
    return np.zeros((0, 0))


@attrs.frozen(kw_only=True, eq=False)  # holds arrays
class DateConstraints:
    """The constraints on the assets investable at one date, in the order of ``assets``.

    Weights ``w`` (N,) are feasible when ``sum w = 1``, ``lo <= w <= hi``,
    ``a_ub @ w <= b_ub`` and ``a_eq @ w = b_eq``.
    """

    assets: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    a_ub: np.ndarray = attrs.field(factory=_empty_rows)
    b_ub: np.ndarray = attrs.field(factory=_empty_rows)
    a_eq: np.ndarray = attrs.field(factory=_empty_rows)
    b_eq: np.ndarray = attrs.field(factory=_empty_rows)
    labels_ub: tuple[str, ...] = ()
    labels_eq: tuple[str, ...] = ()
    relaxed: bool = False

    def __attrs_post_init__(self) -> None:
        n = len(self.assets)
        for a, b in (("a_ub", "b_ub"), ("a_eq", "b_eq")):
            if np.size(getattr(self, a)) == 0:  # no rows: shapes (0, N) and (0,)
                object.__setattr__(self, a, np.zeros((0, n)))
                object.__setattr__(self, b, np.zeros(0))

    @classmethod
    def uniform(cls, assets: Sequence[str], lo: float, hi: float) -> DateConstraints:
        """The same bounds ``[lo, hi]`` for every asset and nothing else."""
        n = len(assets)
        return cls(assets=tuple(assets), lo=np.full(n, float(lo)), hi=np.full(n, float(hi)),
                   a_ub=np.zeros((0, n)), b_ub=np.zeros(0), a_eq=np.zeros((0, n)),
                   b_eq=np.zeros(0))

    @property
    def n(self) -> int:
        return len(self.assets)

    @property
    def has_linear(self) -> bool:
        """True when there are linear (group) constraints besides the per-asset bounds."""
        return bool(self.labels_ub or self.labels_eq)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.labels_ub + self.labels_eq

    @property
    def bounds(self) -> tuple[float, float]:
        """``(min, max)`` when every asset has the same bounds; otherwise the envelope (the
        smallest minimum, the largest maximum): use ``lo`` / ``hi`` for the per-asset ones."""
        if self.n == 0:
            return (0.0, 1.0)
        return (float(self.lo.min()), float(self.hi.max()))

    @property
    def uniform_bounds(self) -> bool:
        """True when every asset has the same bounds (linear constraints aside)."""
        return bool(self.n == 0 or (np.all(self.lo == self.lo[0])
                                    and np.all(self.hi == self.hi[0])))

    def key(self) -> Any:
        """What identifies these constraints in a cache key (the pair for uniform bounds)."""
        if self.uniform_bounds and not self.has_linear:
            return self.bounds
        return [self.lo, self.hi, self.a_ub, self.b_ub, self.a_eq, self.b_eq]

    def subset(self, idx: Any) -> DateConstraints:
        """The constraints on ``assets[idx]`` (a permutation, or a subset without linear
        constraints)."""
        idx = np.asarray(idx, dtype=int)
        if self.has_linear and len(set(idx.tolist())) != self.n:
            raise ConfigError("cannot drop assets from linear constraints")
        return attrs.evolve(self, assets=tuple(self.assets[i] for i in idx), lo=self.lo[idx],
                            hi=self.hi[idx], a_ub=self.a_ub[:, idx], a_eq=self.a_eq[:, idx])

    def contains(self, w: Any, tol: float = 1e-8) -> bool:
        """True when ``w`` (N,) is finite, sums to 1 and meets every constraint up to ``tol``."""
        w = np.asarray(w, dtype=float)
        return bool(
            w.shape == (self.n,) and np.all(np.isfinite(w)) and abs(w.sum() - 1.0) <= tol
            and np.all(w >= self.lo - tol) and np.all(w <= self.hi + tol)
            and np.all(self.a_ub @ w <= self.b_ub + tol)
            and np.all(np.abs(self.a_eq @ w - self.b_eq) <= tol))

    def feasible(self) -> bool:
        """True when some weights meet every constraint (a linear program; HiGHS)."""
        if self.lo.sum() > 1.0 + TOL or self.hi.sum() < 1.0 - TOL:
            return False
        if not self.has_linear:
            return True
        from scipy.optimize import linprog

        res = linprog(np.zeros(self.n), A_ub=self.a_ub if len(self.b_ub) else None,
                      b_ub=(self.b_ub + TOL) if len(self.b_ub) else None,
                      A_eq=np.vstack([np.ones(self.n), self.a_eq]),
                      b_eq=np.concatenate([[1.0], self.b_eq]),
                      bounds=list(zip(self.lo, self.hi, strict=True)), method="highs")
        return bool(res.status == 0)

    def return_range(self, mu: Any) -> tuple[float, float]:
        """Smallest and largest ``mu' w`` over the feasible weights (exact: a greedy fill for
        bounds only, a linear program with linear constraints)."""
        mu = np.asarray(mu, dtype=float)
        if not self.has_linear:
            def best(order: np.ndarray) -> float:
                w = self.lo.copy()
                left = 1.0 - w.sum()
                for i in order:
                    add = min(self.hi[i] - self.lo[i], left)
                    w[i] += add
                    left -= add
                return float(mu @ w)

            return best(np.argsort(mu)), best(np.argsort(-mu))
        from scipy.optimize import linprog

        out = []
        for sign in (1.0, -1.0):
            res = linprog(sign * mu, A_ub=self.a_ub if len(self.b_ub) else None,
                          b_ub=self.b_ub if len(self.b_ub) else None,
                          A_eq=np.vstack([np.ones(self.n), self.a_eq]),
                          b_eq=np.concatenate([[1.0], self.b_eq]),
                          bounds=list(zip(self.lo, self.hi, strict=True)), method="highs")
            if res.status != 0:
                raise NumericalError(f"the return range over the constraints failed: "
                                     f"{res.message}")
            out.append(float(mu @ res.x))
        return out[0], out[1]

    def cvxpy(self, w: Any, scale: Any = 1.0) -> list:
        """cvxpy constraints on a weight variable ``w``: ``sum w = scale``, ``lo scale <= w <=
        hi scale`` and the linear rows with right-hand sides times ``scale`` (``scale`` is a
        variable in homogenised problems such as the maximum-Sharpe one)."""
        import cvxpy as cp

        cons = [cp.sum(w) == scale, w >= self.lo * scale, w <= self.hi * scale]
        if len(self.b_ub):
            cons.append(self.a_ub @ w <= self.b_ub * scale)
        if len(self.b_eq):
            cons.append(self.a_eq @ w == self.b_eq * scale)
        return cons

    def scipy(self) -> tuple[list[tuple[float, float]], list[dict[str, Any]]]:
        """Bounds and constraints for ``scipy.optimize.minimize(method='SLSQP')``."""
        cons: list[dict[str, Any]] = [{"type": "eq", "fun": lambda w: w.sum() - 1.0,
                                       "jac": lambda w: np.ones_like(w)}]
        if len(self.b_ub):
            a, b = self.a_ub, self.b_ub
            cons.append({"type": "ineq", "fun": lambda w: b - a @ w, "jac": lambda w: -a})
        if len(self.b_eq):
            ae, be = self.a_eq, self.b_eq
            cons.append({"type": "eq", "fun": lambda w: ae @ w - be, "jac": lambda w: ae})
        return list(zip(self.lo.tolist(), self.hi.tolist(), strict=True)), cons

    def project(self, w: Any) -> np.ndarray:
        """The closest weights (Euclidean) to ``w`` that meet the constraints.

        Bounds only: exact, by bisection on the budget's multiplier
        (:func:`causalfolio.weights.project_to_bounds`). With linear constraints: the quadratic
        program, solved by cvxpy (Clarabel), accurate to about 1e-9.
        """
        from .weights import project_to_bounds

        w = np.asarray(w, dtype=float)
        if not self.has_linear:
            if self.uniform_bounds and self.n:
                return project_to_bounds(w, float(self.lo[0]), float(self.hi[0]))
            return project_to_bounds(w, self.lo, self.hi)
        if self.contains(w, tol=1e-12):
            return w.copy()
        if not np.all(np.isfinite(w)):
            raise NumericalError("cannot project non-finite weights onto the constraints")
        import cvxpy as cp

        x = cp.Variable(self.n)
        prob = cp.Problem(cp.Minimize(cp.sum_squares(x - w)), self.cvxpy(x))
        for solver in ("CLARABEL", "OSQP", "SCS"):
            if solver not in cp.installed_solvers():
                continue
            try:
                prob.solve(solver=solver)
            except cp.error.SolverError:
                continue
            if prob.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and x.value is not None:
                out = np.clip(np.asarray(x.value, dtype=float), self.lo, self.hi)
                free = np.flatnonzero((out > self.lo + 1e-12) & (out < self.hi - 1e-12))
                if free.size:
                    out[free] += (1.0 - out.sum()) / free.size
                return out
            if prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
                raise InfeasibleConstraintsError(
                    f"the constraints {', '.join(map(repr, self.labels))} cannot hold")
        raise NumericalError("projecting the weights onto the constraints failed (no cvxpy "
                             "solver succeeded)")

    def check_bounds(self, owner: str = "") -> None:
        """Raise :class:`ConfigError` unless the per-asset bounds admit a fully invested
        portfolio (for inputs built by hand; the pipeline's are checked when resolved)."""
        from .weights import check_bounds

        if self.uniform_bounds:
            check_bounds(self.n, *self.bounds)
        elif self.lo.sum() > 1.0 + TOL or self.hi.sum() < 1.0 - TOL:
            raise ConfigError(f"{owner + ': ' if owner else ''}infeasible per-asset bounds: "
                              f"the minimums sum to {self.lo.sum():g} and the maximums to "
                              f"{self.hi.sum():g}; need sum(min) <= 1 <= sum(max)")

    def refuse_linear(self, owner: str) -> None:
        """Raise :class:`ConfigError` when there are linear constraints: for mappings that can
        honour per-asset bounds only (the hierarchical ones)."""
        if self.has_linear:
            raise ConfigError(refusal(owner, self.labels))


def refusal(owner: str, labels: Sequence[str]) -> str:
    """Why the hierarchical mapping ``owner`` cannot take the linear constraints ``labels``."""
    return (f"{owner} cannot enforce group or linear constraints "
            f"({', '.join(map(repr, labels))}): a recursive bisection splits the budget along "
            "its tree, not along your groups; use an optimisation mapping (mvo, cvar, "
            "closed_form, ...) or drop the groups / linear_constraints")
