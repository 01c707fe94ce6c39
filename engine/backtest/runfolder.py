"""Run folders: a backtest written in open formats (JSON, CSV, Parquet), atomically.

Layout::

    RUN/
      run.json              settings, strategies (label -> slug), data summary, versions
      metrics.csv           strategies x metrics (also metrics.json)
      nav.csv, nav.parquet  daily NAV of every strategy
      weights/<slug>.csv    target weights at each rebalance (dates x assets)
      rebalances/<slug>.json  per rebalance: drivers and their evidence, sensitivities, distance
                              matrix, forecast facts, weights, the mapping's diagnostics,
                              the Table 1 risk diagnostics ("risk"), timings, and the universe
                              ("universe": investable assets and pool candidates, entries and
                              exits, bounds used and whether they were relaxed, cash)
      oos/<slug>.csv        per rebalance: predicted vs realised volatility over the holding
                              period (bias, log-ratio), turnover, the cluster tree's adjusted
                              Rand index against the previous rebalance, and on synthetic
                              markets the sensitivity error against the truth

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
    with atomic_folder(out, marker=RUN_MARKER, overwrite=overwrite,
                       extra_owned=("report.html",)) as tmp:
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
        for rec, uni in zip(recs, strat.universe, strict=False):
            rec["universe"] = to_jsonable(uni)
        (tmp / "rebalances" / f"{slugs[label]}.json").write_text(
            json.dumps({"label": label, "rebalances": recs}))
        if strat.oos is not None:
            (tmp / "oos").mkdir(exist_ok=True)
            strat.oos.to_csv(tmp / "oos" / f"{slugs[label]}.csv", float_format="%.8g")


def damaged(folder: Path, name: str, why: Any, *, command: str = "the backtest") -> DataError:
    """The error for an unreadable or altered file ``name`` of a result folder."""
    if isinstance(why, BaseException):
        why = f"{type(why).__name__}: {why}"
    why = " ".join(str(why).split())[:200]
    return DataError(f"{folder}: {name} is damaged ({why}); rerun {command} to rewrite the "
                     "folder")


def read_json(folder: Path, name: str, *, command: str = "the backtest") -> Any:
    """``folder/name`` parsed as JSON; a missing or malformed file is a :class:`DataError`
    naming it."""
    f = folder / name
    if not f.is_file():
        raise DataError(f"{folder}: {name} is missing; the folder is incomplete, rerun "
                        f"{command} to rewrite it")
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise damaged(folder, name, exc, command=command) from None


def read_frame(folder: Path, name: str, reader: Any, *, command: str = "the backtest",
               **kwargs: Any) -> pd.DataFrame:
    """``reader(folder/name, **kwargs)`` (a pandas reader); missing or unreadable is a
    :class:`DataError` naming the file."""
    f = folder / name
    if not f.is_file():
        raise DataError(f"{folder}: {name} is missing; the folder is incomplete, rerun "
                        f"{command} to rewrite it")
    try:
        return reader(f, **kwargs)
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow raise many types for bad files
        raise damaged(folder, name, exc, command=command) from None


def _check_meta(p: Path, meta: Any) -> None:
    if not isinstance(meta, dict):
        raise damaged(p, "run.json", "not a JSON object")
    strategies = meta.get("strategies")
    if not (isinstance(strategies, dict) and strategies
            and all(isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[\w.-]+", v)
                    for k, v in strategies.items())):
        raise damaged(p, "run.json", "'strategies' must map labels to file names")
    dates = meta.get("rebalance_dates")
    if not (isinstance(dates, list) and dates and all(isinstance(d, str) for d in dates)):
        raise damaged(p, "run.json", "'rebalance_dates' must be a non-empty list of dates")
    if not isinstance(meta.get("config", {}), dict):
        raise damaged(p, "run.json", "'config' must be an object")


def _numeric(p: Path, name: str, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        return frame.apply(pd.to_numeric)
    except (ValueError, TypeError) as exc:
        raise damaged(p, name, exc) from None


def load_run(path: str | os.PathLike) -> dict[str, Any]:
    """Read a run folder back: ``run`` (run.json), ``metrics``, ``nav`` frames and ``weights``
    (label -> frame).

    Raises :class:`DataError` naming the file when one is missing or damaged.
    """
    p = Path(path)
    if not (p / "run.json").is_file():
        raise DataError(f"{p} is not a causalfolio run folder (no run.json)")
    meta = read_json(p, "run.json")
    _check_meta(p, meta)
    metrics = _numeric(p, "metrics.csv",
                       read_frame(p, "metrics.csv", pd.read_csv, index_col="strategy"))
    nav = _numeric(p, "nav.parquet", read_frame(p, "nav.parquet", pd.read_parquet))
    missing = [k for k in meta["strategies"] if k not in metrics.index or k not in nav.columns]
    if missing:
        raise damaged(p, "metrics.csv" if missing[0] not in metrics.index else "nav.parquet",
                      f"no row for strategy {missing[0]!r}")
    weights = {}
    for label, s in meta["strategies"].items():
        name = f"weights/{s}.csv"
        w = read_frame(p, name, pd.read_csv, index_col="date", parse_dates=["date"])
        if not isinstance(w.index, pd.DatetimeIndex):
            raise damaged(p, name, "the date column does not hold dates")
        weights[label] = _numeric(p, name, w)
    return {"run": meta, "metrics": metrics, "nav": nav, "weights": weights}
