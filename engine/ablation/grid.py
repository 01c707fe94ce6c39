"""Ablation grids: pipelines (brace-expanded specs or per-stage alternatives) crossed with backtest
settings, each combination with a canonical label and a deterministic id."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pandas as pd

from ..backtest.config import BacktestConfig
from ..checks import parse_date
from ..defaults import COV_WINDOW, DRIVER_WINDOW, MAX_WEIGHT, MIN_WEIGHT, TRAIN_WINDOW
from ..errors import ConfigError, SpecError
from ..pipeline import Pipeline, parse_spec
from ..registry import Registry
from ..spec import count_spec, expand_spec
from ..spec.expand import check_limit, resolve_limit
from ..stages import STAGES, fingerprint

# Backtest settings that may vary across a grid (axes), with their type and default.
AXES: dict[str, tuple[type | str, Any]] = {  # a type, or the name of a special parser
    "driver_window": (int, DRIVER_WINDOW),
    "train_window": (int, TRAIN_WINDOW),
    "cov_window": (int, COV_WINDOW),
    "reselect_every": (int, 1),
    "min_weight": ("bound", MIN_WEIGHT),
    "max_weight": ("bound", MAX_WEIGHT),
    "cost_bps": (float, 0.0),
    "fixed_cost": (float, 0.0),
    "band": (float, 0.0),
    "turnover_cap": ("cap", None),
    "risk_free": ("number_or_file", 0.0),
    "bounds_policy": ("choice", "error"),
    "delisting_returns": ("file", None),
    "drift": (bool, True),
    "seed": (int, 0),
}
"""Settings that can be grid axes: name -> (type, default)."""

FIXED: dict[str, Any] = {"start": None, "end": None, "schedule": "monthly", "groups": None,
                         "linear_constraints": None}
"""Settings shared by the whole grid (all combinations run on identical dates and under the same
group constraints: a list of ``linear_constraints`` is one set, not an axis)."""

UPSTREAM_AXES = ("driver_window", "train_window", "reselect_every", "seed")
"""Axes that change the inputs of stages 1-4 (the others only touch mapping and simulation)."""


def _number_or_text(value: str) -> float | str:
    """A number given as text, else the text (a file name)."""
    try:
        return float(value)
    except ValueError:
        return value


def _coerce_axis(name: str, value: Any) -> Any:
    tp = AXES[name][0]
    if tp == "bound":  # a number, a file asset,<name>, or a mapping asset -> weight
        if isinstance(value, Mapping):
            from ..constraints import _bound_value

            table = _bound_value(value, name)
            return tuple(sorted(table.items())) if isinstance(table, dict) else table
        if isinstance(value, str):
            return _number_or_text(value)
        tp = float
    if tp == "choice":
        from ..backtest.config import BOUNDS_POLICIES

        if value not in BOUNDS_POLICIES:
            raise ConfigError(f"setting {name!r} takes one of {', '.join(BOUNDS_POLICIES)}, got "
                              f"{value!r}")
        return value
    if tp == "file":
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            return None
        if not isinstance(value, str):
            raise ConfigError(f"setting {name!r} takes a file name, got {value!r}")
        return value
    if tp == "number_or_file":
        if isinstance(value, str):
            return _number_or_text(value)
        tp = float
    if tp == "cap":
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            return None
        tp = float
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"setting {name!r} takes true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"setting {name!r} takes integers, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name!r} takes integers, got {value!r}") from None
        if f != int(f):
            raise ConfigError(f"setting {name!r} takes integers, got {value!r}")
        return int(f)
    if isinstance(value, bool):
        raise ConfigError(f"setting {name!r} takes numbers, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r} takes numbers, got {value!r}") from None


@attrs.frozen(kw_only=True)
class Combination:
    """One cell of an ablation grid: a pipeline and the values of the settings axes.

    Attributes
    ----------
    spec
        Canonical spec of the pipeline (``parse_spec(spec).spec == spec``).
    settings
        ``(axis, value)`` pairs for every axis of the grid, in grid order.
    benchmark
        True for a mapping-only benchmark (``equal``, ``hrp``, ...).
    shown
        Axes named in the label (those with several values); ``None``: all.
    """

    spec: str
    settings: tuple[tuple[str, Any], ...] = ()
    benchmark: bool = False
    shown: tuple[str, ...] | None = attrs.field(default=None, eq=False)

    @property
    def id(self) -> str:
        """Deterministic 16-hex-digit id: a function of the spec and the axis values only."""
        return fingerprint(self.spec, [list(kv) for kv in self.settings])

    @property
    def label(self) -> str:
        """Readable name: the spec, then ``@ axis=value`` for every axis that varies."""
        items = [(k, v) for k, v in self.settings if self.shown is None or k in self.shown]
        if not items:
            return self.spec
        return self.spec + " @ " + " ".join(
            f"{k}={dict(v) if isinstance(v, tuple) else v}" for k, v in items)  # tables as dicts

    @property
    def stages(self) -> dict[str, str | None]:
        """Component spec of each stage (``None`` for the stages a benchmark lacks)."""
        if self.benchmark:
            return {**dict.fromkeys(STAGES[:-1]), "mapping": self.spec}
        from ..spec import split_parts

        return dict(zip(STAGES, (t.strip() for t, _ in split_parts(self.spec)), strict=True))

    def value(self, axis: str) -> Any:
        """The value of a settings axis (its default when the grid does not vary it)."""
        return dict(self.settings).get(axis, AXES[axis][1])

    def config(self, fixed: Mapping[str, Any], dates: pd.DatetimeIndex | None = None
               ) -> BacktestConfig:
        """The backtest settings of this combination (``dates``: the grid's common dates)."""
        # every axis is spelled as the BacktestConfig field it sets (and as the CLI option)
        values = {axis: self.value(axis) for axis in AXES}
        for axis in ("min_weight", "max_weight"):  # a mapping is held as sorted pairs
            if isinstance(values[axis], tuple):
                values[axis] = dict(values[axis])
        return BacktestConfig(
            start=fixed.get("start"), end=fixed.get("end"),
            schedule=tuple(dates) if dates is not None else fixed.get("schedule", "monthly"),
            groups=fixed.get("groups"), linear_constraints=fixed.get("linear_constraints"),
            **values,
        )

    def upstream_key(self, level: int) -> str:
        """Key shared by combinations that share stages 1..``level`` and the settings they read.

        Combinations with equal keys reuse each other's cached stage outputs; executors group them
        into one task. Benchmarks share one key (they have no upstream stages).
        """
        if self.benchmark:
            return "benchmarks"
        st = self.stages
        parts = [st[s] for s in STAGES[:level]]
        return fingerprint(parts, [self.value(a) for a in UPSTREAM_AXES])


@attrs.frozen(kw_only=True)
class Grid:
    """An ablation grid: specs x settings axes, plus benchmarks, on shared fixed settings.

    Build it with :meth:`from_specs` or :meth:`from_toml`.

    Attributes
    ----------
    specs
        Canonical full-pipeline specs (after brace expansion), deduplicated, in order.
    benchmarks
        Canonical benchmark specs, each crossed with the settings axes too.
    axes
        ``(axis, values)`` for every settings axis (see :data:`AXES`).
    fixed
        ``start``, ``end``, ``schedule`` shared by all combinations.
    max_combinations
        Most combinations :meth:`combinations` may produce (``None``: the default 10,000).
    """

    specs: tuple[str, ...]
    benchmarks: tuple[str, ...] = ()
    axes: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    fixed: Mapping[str, Any] = attrs.field(factory=lambda: dict(FIXED))
    registry: Registry | None = attrs.field(default=None, eq=False, repr=False)
    """The registry the specs were parsed with; :func:`run_ablation` runs and summarises every
    combination with it (``None``: the process-wide one)."""
    max_combinations: int | None = attrs.field(default=None, eq=False)

    @classmethod
    def from_specs(
        cls,
        specs: str | Iterable[str] = (),
        *,
        stages: Mapping[str, str | Sequence[str]] | None = None,
        benchmarks: Iterable[str] = (),
        settings: Mapping[str, Any] | None = None,
        registry: Registry | None = None,
        max_combinations: int | None = None,
    ) -> Grid:
        """Build a grid.

        Parameters
        ----------
        specs
            Spec strings with optional brace alternatives, e.g.
            ``rccp(k={4,6})|linear(lags={[0],[0,1]})|beta|static|{hsp,hrp}``.
        stages
            Alternatives per stage (``drivers``, ``dynamics``, ``sensitivities``, ``forecasting``,
            ``mapping``), each a spec or list of specs (braces allowed); all five stages are
            needed and their alternatives are crossed.
        benchmarks
            Mapping-only specs (``equal``, ``hrp``); braces allowed.
        settings
            Backtest settings: an axis (see :data:`AXES`) given a list varies across the grid, a
            scalar is fixed; ``start``, ``end`` and ``schedule`` are fixed for the whole grid.
        max_combinations
            Refuse (:class:`ConfigError`, with the count) a grid of more combinations than this
            (default 10,000). The count (brace alternatives x stage alternatives x settings
            values, before removing duplicates) is computed before anything is expanded.
        """
        if isinstance(specs, str):
            specs = [specs]
        raw = list(specs)
        if stages:
            unknown = set(stages) - set(STAGES)
            if unknown:
                raise ConfigError(f"unknown stage(s) {sorted(unknown)} in the grid; stages are "
                                  f"{', '.join(STAGES)}")
            missing = [s for s in STAGES if s not in stages]
            if missing:
                raise ConfigError(f"the grid's stages lack {', '.join(missing)}; give "
                                  "alternatives for all five stages")
        stage_items: list[list[str]] = []
        if stages:
            for s in STAGES:
                v = stages[s]
                items = [v] if isinstance(v, str) else list(v)
                if not items or not all(isinstance(i, str) and i.strip() for i in items):
                    raise ConfigError(f"stage {s!r} in the grid needs one or more spec strings, "
                                      f"got {v!r}")
                stage_items.append(items)
        benchmarks = list(benchmarks)
        for s in [*raw, *benchmarks]:
            if not isinstance(s, str):
                raise ConfigError(f"specs and benchmarks must be spec strings, got {s!r}")
        limit = resolve_limit(max_combinations)
        # the size of the grid, from the parse trees, before expanding anything
        n_stages = math.prod(sum(count_spec(i) for i in items) for items in stage_items) \
            if stage_items else 0
        n_specs = sum(count_spec(s) for s in raw) + n_stages + sum(count_spec(b)
                                                                    for b in benchmarks)
        n_cells = math.prod(len(v) if isinstance(v, (list, tuple)) else 1
                            for k, v in (settings or {}).items() if k in AXES)
        check_limit(n_specs * n_cells, limit, "the grid",
                    f" ({n_specs:,} pipelines and benchmarks x {n_cells:,} settings cells)")
        if stage_items:
            alts = [[x for i in items for x in expand_spec(i, max_combinations=limit)]
                    for items in stage_items]
            raw.extend("|".join(c) for c in itertools.product(*alts))
        canon: dict[str, None] = {}  # insertion-ordered set: linear-time de-duplication
        for s in raw:
            for concrete in expand_spec(s, max_combinations=limit):
                p = parse_spec(concrete, registry)
                if p.is_benchmark:
                    raise SpecError(
                        f"{concrete!r} is a benchmark (one mapping); list it under benchmarks, "
                        "not with the pipelines", s)
                canon.setdefault(p.spec)
        bench: dict[str, None] = {}
        for b in benchmarks:
            for concrete in expand_spec(b, max_combinations=limit):
                p = parse_spec(concrete, registry)
                if not p.is_benchmark:
                    raise SpecError(f"benchmark {concrete!r} must be a single mapping "
                                    "such as equal or hrp", b)
                bench.setdefault(p.spec)
        if not canon and not bench:
            raise ConfigError("the grid has no pipeline: give --spec or a grid file with "
                              "specs or stages")
        fixed = dict(FIXED)
        axes: list[tuple[str, tuple[Any, ...]]] = []
        for name, value in (settings or {}).items():
            if name in FIXED:
                if name == "schedule" and value == "drift":
                    raise ConfigError("schedule 'drift' is not available in an ablation (every "
                                      "combination runs on the same dates); use monthly, "
                                      "quarterly or weekly")
                if name == "schedule" and not isinstance(value, str):
                    raise ConfigError("schedule must be one of monthly, quarterly, weekly for an "
                                      "ablation (it is shared by every combination)")
                fixed[name] = (value if name in ("schedule", "groups", "linear_constraints")
                               else parse_date(value, name))
                continue
            if name not in AXES:
                raise ConfigError(f"unknown backtest setting {name!r}; settings are "
                                  f"{', '.join([*AXES, *FIXED])}")
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if not values:
                raise ConfigError(f"setting {name!r} has an empty list of values")
            coerced = dict.fromkeys(_coerce_axis(name, v) for v in values)
            axes.append((name, tuple(coerced)))
        # validate the fixed settings once (bad dates/schedule are errors for the whole grid)
        BacktestConfig(start=fixed["start"], end=fixed["end"], schedule=fixed["schedule"],
                       groups=fixed["groups"], linear_constraints=fixed["linear_constraints"])
        return cls(specs=tuple(canon), benchmarks=tuple(bench), axes=tuple(axes), fixed=fixed,
                   registry=registry, max_combinations=limit)

    @classmethod
    def from_toml(cls, path: str | os.PathLike, *, specs: Iterable[str] = (),
                  benchmarks: Iterable[str] = (), settings: Mapping[str, Any] | None = None,
                  registry: Registry | None = None, max_combinations: int | None = None) -> Grid:
        """Read a grid file (TOML); ``specs``, ``benchmarks`` and ``settings`` add to / override
        it, and ``max_combinations`` (default: the file's ``max_combinations``, else 10,000)
        overrides the file's (see ``docs/ablation.md`` for the format)::

            max_combinations = 20000
            specs = ["rccp(k={4,6})|linear|beta|static|hsp"]
            benchmarks = ["equal", "hrp"]
            [stages]
            drivers = ["rccp(k=4)", "rccp(k=6)"]
            dynamics = "linear(lags={[0],[0,1]})"
            sensitivities = "beta"
            forecasting = "static"
            mapping = ["hsp", "hrp"]
            [backtest]
            cov_window = [42, 63]
            start = "2017-01-01"
        """
        from .._toml import tomllib

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"grid file not found: {p}")
        try:
            text = p.read_text()
            _check_toml_nesting(text, p)
            doc = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not a valid TOML grid file ({exc})") from None
        unknown = set(doc) - {"specs", "spec", "stages", "benchmarks", "backtest", "market",
                              "max_combinations"}
        if unknown:
            raise ConfigError(f"{p}: unknown key(s) {sorted(unknown)}; a grid file has specs, "
                              "stages, benchmarks, backtest, market and max_combinations")
        if max_combinations is None and "max_combinations" in doc:
            max_combinations = doc["max_combinations"]
            if isinstance(max_combinations, bool) or not isinstance(max_combinations, int) \
                    or max_combinations < 1:
                raise ConfigError(f"{p}: max_combinations must be an integer >= 1, got "
                                  f"{max_combinations!r}")
        file_specs = doc.get("specs", doc.get("spec", []))
        file_specs = [file_specs] if isinstance(file_specs, str) else list(file_specs)
        file_bench = doc.get("benchmarks", [])
        file_bench = [file_bench] if isinstance(file_bench, str) else list(file_bench)
        bt = doc.get("backtest", {})
        stages = doc.get("stages")
        if not isinstance(bt, dict) or (stages is not None and not isinstance(stages, dict)):
            raise ConfigError(f"{p}: [stages] and [backtest] must be tables")
        merged = {**bt, **(settings or {})}
        return cls.from_specs([*file_specs, *specs], stages=stages,
                              benchmarks=[*file_bench, *benchmarks], settings=merged,
                              registry=registry, max_combinations=max_combinations)

    # -- combinations ---------------------------------------------------------------------
    def size(self) -> int:
        """The number of combinations, computed without building them."""
        return (len(self.specs) + len(self.benchmarks)) * math.prod(len(v) for _, v in self.axes)

    def combinations(self) -> list[Combination]:
        """Every combination: pipelines x axes, then benchmarks x axes (leftmost varies slowest).

        Raises :class:`ConfigError` before building anything when there are more than
        ``max_combinations``.
        """
        check_limit(self.size(), self.max_combinations, "the grid")
        names = [a for a, _ in self.axes]
        shown = tuple(a for a, v in self.axes if len(v) > 1)
        cells = list(itertools.product(*(v for _, v in self.axes)))
        out = [Combination(spec=s, settings=tuple(zip(names, c, strict=True)), shown=shown)
               for s in self.specs for c in cells]
        out += [Combination(spec=b, settings=tuple(zip(names, c, strict=True)), benchmark=True,
                            shown=shown) for b in self.benchmarks for c in cells]
        return out

    def pipelines(self, registry: Registry | None = None) -> dict[str, Pipeline]:
        """Canonical spec -> pipeline, for every spec and benchmark (parsed with ``registry``,
        by default the grid's)."""
        reg = registry or self.registry
        return {s: parse_spec(s, reg) for s in (*self.specs, *self.benchmarks)}

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description (written to ``study.json``)."""
        return {
            "specs": list(self.specs), "benchmarks": list(self.benchmarks),
            "axes": {k: list(v) for k, v in self.axes},
            # group constraints only when given: study folders written without them resume
            "fixed": {k: (None if v is None else str(v.date()) if isinstance(v, pd.Timestamp)
                          else v) for k, v in self.fixed.items()
                      if v is not None or k not in ("groups", "linear_constraints")},
        }


MAX_TOML_NESTING = 32
"""Deepest nesting of arrays and inline tables a grid file may use (real grids use 2)."""


def _check_toml_nesting(text: str, path: Path) -> None:
    """Raise :class:`ConfigError` when arrays/inline tables nest deeper than
    :data:`MAX_TOML_NESTING` (strings and comments skipped), before ``tomllib``'s recursive
    parser can exhaust the stack."""
    depth, i, n, line = 0, 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif ch in "\"'":
            triple = text.startswith(ch * 3, i)
            close = ch * 3 if triple else ch
            j = i + len(close)
            while j < n and not text.startswith(close, j):
                if ch == '"' and text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and not triple:
                    break
                j += 1
            line += text.count("\n", i, j)
            i = j + len(close)
            continue
        elif ch in "[{":
            depth += 1
            if depth > MAX_TOML_NESTING:
                raise ConfigError(f"{path}: arrays nested more than {MAX_TOML_NESTING} deep on "
                                  f"line {line}; a grid file needs two levels at most")
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1


def parse_values(name: str, text: str) -> list[Any]:
    """Comma-separated values of a settings axis from the command line, e.g. ``42,63``."""
    items = [t.strip() for t in str(text).split(",")]
    if not all(items):
        raise ConfigError(f"--{name.replace('_', '-')}: empty value in {text!r}")
    return [_coerce_axis(name, t) for t in items]
