"""The tidy results table of an ablation and the marginal effect of each choice."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from ..backtest.metrics import METRICS
from ..pipeline import parse_spec
from ..registry import Registry
from ..spec import format_value
from ..stages import STAGES
from .grid import Combination

STATUS_COLUMNS = ("status", "error", "seconds", "stage_computed", "stage_reused")
OVERALL = "mean_minus_overall"
"""Column of the per-choice table: the level's mean minus the mean over all pipeline rows
(called ``effect`` in folders written before it was renamed; *effect* now means only the evidence
summary's choice-minus-the-other-choices difference)."""


def _plain(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return format_value(list(v))
    if isinstance(v, np.generic):
        return v.item()
    return v


@functools.lru_cache(maxsize=4096)
def _params_of(spec: str, benchmark: bool, registry: Registry | None = None
               ) -> tuple[tuple[str, Any], ...]:
    """``(stage.param, value)`` for every parameter of every component of a canonical spec."""
    comps = parse_spec(spec, registry).components
    stages = ("mapping",) if benchmark else STAGES
    return tuple((f"{s}.{f.name}", _plain(getattr(comp, f.name)))
                 for s, comp in zip(stages, comps, strict=True)
                 for f in attrs.fields(type(comp)))


def _uniform(values: list[Any]) -> Any:
    """Keep native values when the non-null ones share one type, else strings."""
    kinds = {type(v) for v in values if v is not None}
    if kinds == {int}:
        return pd.array(values, dtype="Int64")
    if kinds <= {int, float} or len(kinds) <= 1:
        return values
    return [None if v is None else str(v) for v in values]


def results_table(combos: Sequence[Combination], records: Mapping[str, Mapping[str, Any]],
                  axes: Sequence[str], registry: Registry | None = None) -> pd.DataFrame:
    """One row per finished combination, in grid order.

    Columns: ``id``, ``label``, ``spec``, ``benchmark``, one column per stage (its component spec),
    ``<stage>.<param>`` for every component parameter that varies across the grid, the settings
    axes, ``status``, ``error``, every metric of :data:`~causalfolio.backtest.METRICS`,
    ``seconds`` and the stage counts ``stage_computed`` / ``stage_reused`` (stages 1-4).
    ``registry`` parses the specs (default: the process-wide one; give the grid's).
    """
    rows: list[dict[str, Any]] = []
    params: list[dict[str, Any]] = []
    for c in combos:
        rec = records.get(c.id)
        if rec is None:
            continue
        row: dict[str, Any] = {"id": c.id, "label": c.label, "spec": c.spec,
                               "benchmark": c.benchmark}
        row.update(c.stages)
        params.append(dict(_params_of(c.spec, c.benchmark, registry)))
        for a in axes:
            v = c.value(a)  # per-asset bounds (sorted pairs) read as a table
            row[a] = str(dict(v)) if isinstance(v, tuple) else v
        row["status"] = rec["status"]
        row["error"] = rec.get("error")
        metrics = rec.get("metrics") or {}
        for m in METRICS:
            row[m] = float(metrics[m]) if m in metrics and metrics[m] is not None else np.nan
        row["seconds"] = float(rec.get("seconds", np.nan))
        counts = rec.get("counts") or {}
        row["stage_computed"] = sum(v for k, v in counts.items()
                                    if k.endswith(".computed") and not k.startswith("other"))
        row["stage_reused"] = sum(v for k, v in counts.items()
                                  if k.endswith(".reused") and not k.startswith("other"))
        rows.append(row)
    if not rows:
        cols = ["id", "label", "spec", "benchmark", *STAGES, *axes, "status", "error", *METRICS,
                "seconds", "stage_computed", "stage_reused"]
        return pd.DataFrame(columns=cols)
    table = pd.DataFrame(rows)
    for a in axes:  # a number and a file (or table) on one axis: one type, text
        if table[a].dtype == object:
            table[a] = _uniform(list(table[a]))
    keys = list(dict.fromkeys(k for p in params for k in p))
    varying = {}
    for k in keys:
        vals = [p.get(k) for p in params]
        distinct = {repr(v) for v in vals if v is not None}
        if len(distinct) > 1:
            varying[k] = _uniform(vals)
    pos = table.columns.get_loc("mapping") + 1
    for i, (k, vals) in enumerate(varying.items()):
        table.insert(pos + i, k, vals)
    return table


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # list-like values are never missing
        return False


def _same_partition(a: pd.Series, b: pd.Series) -> bool:
    a, b = a.astype(str), b.astype(str)
    n = pd.DataFrame({"a": a, "b": b}).drop_duplicates().shape[0]
    return n == a.nunique() == b.nunique()


def factors(table: pd.DataFrame, axes: Sequence[str]) -> list[str]:
    """The columns whose levels vary among the pipeline rows: stages, parameters, axes.

    A parameter column is left out when it splits the rows exactly like its stage column or like
    the component names of its stage (then it only restates which component was used, e.g. a
    default that differs between two selectors).
    """
    pipes = table[~table["benchmark"].astype(bool)]
    out: list[str] = []
    for s in STAGES:
        if s not in pipes or pipes[s].isna().all():
            continue
        if pipes[s].nunique(dropna=False) > 1:
            out.append(s)
        names = pipes[s].astype(str).str.split("(", n=1).str[0]
        for col in table.columns:
            if not col.startswith(f"{s}.") or pipes[col].astype(str).nunique() < 2:
                continue
            if _same_partition(pipes[col], pipes[s]) or _same_partition(pipes[col], names):
                continue
            out.append(col)
    out += [a for a in axes if a in pipes and pipes[a].nunique() > 1]
    return out


def summarize(table: pd.DataFrame, axes: Sequence[str],
              metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean and spread of each metric per level of each factor (long, tidy format).

    Uses the successful pipeline rows (benchmarks and failures excluded). Columns: ``factor``,
    ``level`` (text), ``metric``, ``n``, ``mean``, ``std`` (sample, ddof=1; NaN for one row),
    ``min``, ``max``, ``mean_minus_overall`` (the level's mean minus the mean over all rows;
    weighted by ``n`` these sum to zero over a factor's levels).

    ``mean_minus_overall`` is not the *effect* of a choice: that word is kept for the evidence
    summary's ``effect`` (:func:`causalfolio.ablation.evidence.analyse_study`: the choice minus
    the other choices of the factor, paired within cells, with an interval).
    """
    cols = ["factor", "level", "metric", "n", "mean", "std", "min", "max", OVERALL]
    if table.empty:
        return pd.DataFrame(columns=cols)
    ok = table[(table["status"] == "ok") & ~table["benchmark"].astype(bool)]
    out: list[dict[str, Any]] = []
    if ok.empty:
        return pd.DataFrame(columns=cols)
    for f in factors(ok, axes):
        levels = ok[f].astype(object).map(lambda v: "" if _missing(v) else str(v))
        for m in metrics:
            overall = ok[m].mean()
            for level, vals in ok[m].groupby(levels, sort=False):
                out.append({"factor": f, "level": level, "metric": m, "n": int(vals.count()),
                            "mean": vals.mean(), "std": vals.std(ddof=1), "min": vals.min(),
                            "max": vals.max(), OVERALL: vals.mean() - overall})
    return pd.DataFrame(out, columns=cols)


def format_summary(summary: pd.DataFrame, metric: str = "sharpe") -> str:
    """A compact text view of one metric of the per-choice table (for the console)."""
    if summary.empty:
        return "(no factor varies among the successful combinations)"
    s = summary[summary["metric"] == metric][["factor", "level", "n", "mean", "std", OVERALL]]
    return s.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def format_effects(summary: pd.DataFrame, metric: str = "sharpe") -> str:
    """A compact text view of the evidence summary's effects of one metric (for the console):
    ``effect`` (the choice minus the other choices of the factor), its 95% interval and the
    Holm-adjusted p-value."""
    s = summary[summary["metric"] == metric] if "metric" in summary else summary.iloc[:0]
    if s.empty or "effect" not in s:
        return "(no factor varies among the successful combinations)"
    s = s[["factor", "choice", "effect", "ci_low", "ci_high", "p_holm"]]
    return s.to_string(index=False, float_format=lambda v: f"{v:.3f}")
