"""Run folders: a backtest written in open formats (JSON, CSV, Parquet), atomically.

Layout::

    RUN/
      run.json              settings, strategies (label -> slug), data summary, versions
      metrics.csv           strategies x metrics (also metrics.json)
      nav.csv, nav.parquet  daily NAV of every strategy
      weights/<slug>.csv    target weights at each rebalance (dates x assets)
      rebalances/<slug>.json  per rebalance: drivers and their evidence, sensitivities, distance
                              matrix, forecast facts, weights, the mapping's diagnostics,
                              the Table 1 risk diagnostics ("risk"), timings

The folder is first written under a temporary name next to the destination and renamed into place
at the end, so an interrupted or failed run leaves nothing half-written.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..data.io import atomic_folder
from ..errors import DataError
from ..stages import fingerprint
from .runner import BacktestResult

FORMAT_VERSION = 1
RUN_MARKER = "run.json"
"""The file that makes a folder a run folder (the only kind ``backtest``/``demo`` replace)."""


def slug(label: str) -> str:
    """A file-name-safe, unique name for a strategy label."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")[:60]
    return f"{base}-{fingerprint(label)[:6]}"


def to_jsonable(obj: Any) -> Any:
    """Convert numpy/pandas values to plain JSON types (NaN and inf become null)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, pd.DataFrame):
        return {str(i): to_jsonable(row) for i, row in obj.to_dict(orient="index").items()}
    if isinstance(obj, pd.Series):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (pd.Timestamp,)):
        return str(obj.date()) if obj == obj.normalize() else obj.isoformat()
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def _rebalance_record(res) -> dict[str, Any]:
    rec: dict[str, Any] = {"date": res.date, "weights": res.weights, "timings": res.timings}
    if res.selection is not None:
        sel = res.selection
        rec["drivers"] = {"names": list(sel.names), "specific_to": sel.specific_to,
                          "objective": sel.objective, "info": sel.info, "key": sel.key,
                          "scores": sel.scores.loc[list(sel.names)] if sel.scores is not None
                          else None}
    if res.sensitivities is not None:
        s = res.sensitivities
        rec["sensitivities"] = {"inputs": list(s.inputs), "aggregate": s.aggregate_frame(),
                                "distance": s.distance.tolist(), "metric": s.metric,
                                "info": s.info, "key": s.key}
    if res.forecast is not None:
        f = res.forecast
        rec["forecast"] = {"horizon": f.horizon, "distance": f.distance.tolist(),
                           "info": f.info, "key": f.key}
    if res.allocation is not None:
        rec["diagnostics"] = res.allocation.diagnostics
    if res.risk:
        rec["risk"] = res.risk
    return to_jsonable(rec)


def write_run(result: BacktestResult, out: str | os.PathLike, *, overwrite: bool = False,
              extra: dict[str, Any] | None = None) -> Path:
    """Write a backtest into the folder ``out`` (see module docstring); returns its path.

    ``out`` must not exist (or be an empty folder); with ``overwrite`` it may also be a run
    folder (one holding ``run.json``), which is replaced. Anything else (a file, a folder
    causalfolio did not write) raises :class:`~causalfolio.errors.ConfigError` whatever
    ``overwrite`` says. ``out`` is locked while it is written (a concurrent writer gets
    ``ConfigError`` "in use"); written atomically.
    """
    out = Path(out)
    with atomic_folder(out, marker=RUN_MARKER, overwrite=overwrite) as tmp:
        _write_contents(result, tmp, extra)
    return out


def _write_contents(result: BacktestResult, tmp: Path, extra: dict[str, Any] | None) -> None:
    slugs = {label: slug(label) for label in result.strategies}
    meta = {"format_version": FORMAT_VERSION, "causalfolio_version": __version__,
            "config": result.config.to_json(), "strategies": slugs,
            "rebalance_dates": [str(d.date()) for d in result.dates]}
    if extra:
        meta.update(to_jsonable(extra))
    (tmp / "run.json").write_text(json.dumps(meta, indent=2))
    table = result.metrics_table()
    table.index.name = "strategy"
    table.to_csv(tmp / "metrics.csv", float_format="%.8g")
    (tmp / "metrics.json").write_text(json.dumps(to_jsonable(table.T.to_dict()), indent=2))
    nav = result.nav_table()
    nav.index.name = "date"
    nav.to_csv(tmp / "nav.csv", float_format="%.8g")
    nav.to_parquet(tmp / "nav.parquet")
    (tmp / "weights").mkdir()
    (tmp / "rebalances").mkdir()
    for label, strat in result.strategies.items():
        w = strat.weights.copy()
        w.index.name = "date"
        w["turnover"] = strat.turnover
        w.to_csv(tmp / "weights" / f"{slugs[label]}.csv", float_format="%.10g")
        recs = [_rebalance_record(r) for r in strat.rebalances]
        (tmp / "rebalances" / f"{slugs[label]}.json").write_text(
            json.dumps({"label": label, "rebalances": recs}))


def load_run(path: str | os.PathLike) -> dict[str, Any]:
    """Read a run folder back: ``run`` (run.json), ``metrics``, ``nav`` frames and ``weights``
    (label -> frame)."""
    p = Path(path)
    if not (p / "run.json").is_file():
        raise DataError(f"{p} is not a causalfolio run folder (no run.json)")
    meta = json.loads((p / "run.json").read_text())
    metrics = pd.read_csv(p / "metrics.csv", index_col="strategy")
    nav = pd.read_parquet(p / "nav.parquet")
    weights = {label: pd.read_csv(p / "weights" / f"{s}.csv", index_col="date",
                                  parse_dates=["date"])
               for label, s in meta["strategies"].items()}
    return {"run": meta, "metrics": metrics, "nav": nav, "weights": weights}
