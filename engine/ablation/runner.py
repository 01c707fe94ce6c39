"""Run an ablation grid: common dates, shared stage cache, executors, resumable result folder.

Result folder layout::

    OUT/
      study.json            grid, common dates, data fingerprint, counts, completion
      results.parquet/.csv  one row per combination (see summary.results_table)
      summary.parquet/.csv  mean and spread of every metric per level of every factor
      nav.parquet           daily NAV of every successful combination (columns: ids)
      rows/<id>.json        one finished combination (written atomically as it completes)
      rows/<id>.nav.parquet its NAV
      stage-cache/          on-disk stage cache (safe to delete)

Re-running into the same folder skips combinations whose ``rows/<id>.json`` exists (failed ones too,
unless ``retry_failed``), so an interrupted study resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pandas as pd

from ..backtest.config import BacktestConfig
from ..backtest.runfolder import to_jsonable
from ..backtest.runner import plan_dates
from ..backtest.schedule import rebalance_dates
from ..data.io import atomic_write_bytes
from ..errors import ConfigError, DataError
from ..pipeline import Windows
from ..stages import fingerprint
from .cache import StageCache
from .executors import EXECUTORS, Task, WorkerLost, default_workers, execute, plan_tasks
from .grid import Combination, Grid
from .summary import results_table, summarize

STUDY_FORMAT = 1
Progress = Callable[[dict[str, Any]], None]


@attrs.frozen(kw_only=True)
class AblationResult:
    """The outcome of :func:`run_ablation`.

    Attributes
    ----------
    table
        One row per finished combination (stage choices, varying parameters, settings, status,
        metrics, timings, stage counts).
    summary
        Mean/spread/effect of each metric per level of each factor.
    nav
        Daily NAV of each successful combination (columns: combination ids).
    dates
        The common rebalance dates.
    counts
        Stage-cache counts of the combinations run now, ``{"stage.event": n}``.
    ran, skipped, remaining
        Combinations computed now, found finished in the folder, and not run (interrupted).
    out
        The result folder, or ``None`` for an in-memory study.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    nav: pd.DataFrame
    dates: pd.DatetimeIndex
    counts: dict[str, int]
    ran: int
    skipped: int
    remaining: int
    out: Path | None = None

    def _summary(self) -> str:
        from ..display import date_span

        where = f", out={str(self.out)!r}" if self.out is not None else ""
        return (f"{len(self.table)} combinations: {self.ran} ran, {self.skipped} skipped, "
                f"{self.remaining} remaining; {len(self.dates)} rebalances "
                f"{date_span(self.dates)}{where}")

    def _top(self) -> pd.DataFrame:
        """Combinations by Sharpe ratio (best first), labels as the index."""
        from ..backtest.metrics import METRICS

        cols = [c for c in ("status", *METRICS) if c in self.table.columns]
        top = self.table.set_index("label")[cols] if "label" in self.table.columns \
            else self.table[cols]
        return top.sort_values("sharpe", ascending=False) if "sharpe" in cols else top

    def __repr__(self) -> str:
        from ..display import text_table

        cols = [c for c in ("status", "sharpe", "annual_return", "max_drawdown")
                if c in self._top().columns]
        return f"AblationResult({self._summary()})\n" + text_table(self._top()[cols], 10)

    def _repr_html_(self) -> str:
        """Notebook view: the run's counts and the best combinations by Sharpe ratio."""
        from .. import display

        return display.html_block("AblationResult", [self._summary()],
                                  display.html_table(self._top()))

    def stage_computations(self) -> int:
        """Stage outputs (stages 1-4) computed by the combinations run now."""
        return sum(v for k, v in self.counts.items()
                   if k.endswith(".computed") and not k.startswith("other"))


# --- helpers -----------------------------------------------------------------------------------


def common_dates(market: Any, grid: Grid, combos: list[Combination]) -> pd.DatetimeIndex:
    """Rebalance dates every combination has the history for (identical across the grid)."""
    pipes = grid.pipelines()
    by_windows: dict[Any, list[Any]] = {}
    for c in combos:
        windows = Windows(drivers=c.value("driver_window"), train=c.value("train_window"),
                          cov=c.value("cov_window"))
        by_windows.setdefault(windows, []).append(pipes[c.spec])
    dates = rebalance_dates(market.dates, grid.fixed["schedule"], start=grid.fixed["start"],
                            end=grid.fixed["end"])
    for windows, ps in by_windows.items():
        cfg = BacktestConfig(start=grid.fixed["start"], end=grid.fixed["end"],
                             schedule=grid.fixed["schedule"], windows=windows)
        dates = dates.intersection(plan_dates(market, ps, cfg))
    if len(dates) == 0:
        raise DataError("no rebalance date has enough history for every combination; shorten "
                        "the windows or give more data")
    return dates



def _atomic_frame(frame: pd.DataFrame, path: Path, *, index: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=index)
        else:
            frame.to_csv(tmp, index=index, float_format="%.10g")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Store:
    """The rows/ folder: one JSON per finished combination, NAV first, JSON last."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.rows = out / "rows" if out is not None else None
        self.mem: dict[str, dict[str, Any]] = {}
        self.navs: dict[str, pd.Series] = {}

    def load(self, ids: set[str]) -> None:
        if self.rows is None or not self.rows.is_dir():
            return
        for p in self.rows.glob("*.json"):
            cid = p.stem
            if cid not in ids:
                continue
            try:
                rec = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # unreadable: recomputed
            if rec.get("status") == "ok":
                navp = self.rows / f"{cid}.nav.parquet"
                try:
                    self.navs[cid] = pd.read_parquet(navp)["nav"]
                except Exception:  # noqa: BLE001 - missing or damaged NAV: recompute the row
                    continue
            self.mem[cid] = rec

    def save(self, combo: Combination, rec: dict[str, Any]) -> None:
        nav = rec.pop("nav", None)
        rec = {**rec, "label": combo.label, "spec": combo.spec, "benchmark": combo.benchmark,
               "settings": dict(combo.settings)}
        if nav is not None:
            self.navs[combo.id] = nav
        self.mem[combo.id] = rec
        if self.rows is None:
            return
        if nav is not None:
            _atomic_frame(pd.DataFrame({"nav": nav}), self.rows / f"{combo.id}.nav.parquet",
                          index=True)
        atomic_write_bytes(self.rows / f"{combo.id}.json",
                      json.dumps(to_jsonable(rec), indent=1).encode())


def _prepare_out(out: Path, context: dict[str, Any], force: bool) -> None:
    study = out / "study.json"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder; choose another --out")
    if study.is_file():
        try:
            old = json.loads(study.read_text()).get("context")
        except (OSError, json.JSONDecodeError):
            old = None
        if old != context:
            if not force:
                raise ConfigError(
                    f"{out} holds a study on other data, dates or fixed settings; choose "
                    "another --out, or pass --force to discard its results")
            shutil.rmtree(out / "rows", ignore_errors=True)
    elif out.is_dir() and any(p.name not in ("rows", "stage-cache") for p in out.iterdir()):
        if not force:
            raise ConfigError(f"{out} exists and is not an ablation folder; choose another "
                              "--out or pass --force")
    (out / "rows").mkdir(parents=True, exist_ok=True)


# --- the entry point -----------------------------------------------------------------------------


def run_ablation(
    market: Any,
    grid: Grid,
    out: str | os.PathLike | None = None,
    *,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    cache_dir: str | os.PathLike | None | bool = True,
    retry_failed: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    dask_processes: bool = True,
    per_combination: bool = False,
    connect_timeout: float = 20.0,
) -> AblationResult:
    """Backtest every combination of ``grid`` on identical dates and summarise.

    Parameters
    ----------
    market
        Asset and candidate returns (:class:`causalfolio.data.Market`).
    grid
        The combinations (:class:`~causalfolio.ablation.Grid`).
    out
        Result folder (see the module docstring); ``None`` keeps everything in memory (no
        resume, no disk cache unless ``cache_dir`` is a path).
    executor
        ``serial`` (in-process), ``processes`` (local processes, default) or ``dask``.
    workers
        Worker processes for ``processes`` and a local Dask cluster (default: all cores).
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); ``None`` starts a local
        cluster of ``workers`` workers.
    cache_dir
        On-disk stage cache: ``True`` for ``OUT/stage-cache`` (none when ``out`` is None), a
        path, or ``None``/``False`` for memory only.
    retry_failed
        Re-run combinations recorded as failed in ``out``.
    force
        Discard results in ``out`` that belong to another study (other data, dates or fixed
        settings) instead of raising :class:`ConfigError`.
    progress
        Called after each finished task with ``done``, ``failed``, ``remaining``, ``total``,
        ``elapsed`` and ``eta`` (seconds).
    dask_processes
        Local Dask cluster with worker processes (True) or threads in this process (False).
    per_combination
        One task per combination instead of tasks grouped by shared upstream stages (finer
        resume and load balance, less sharing between processes).
    connect_timeout
        Seconds to wait for the Dask scheduler at ``scheduler``.

    Returns
    -------
    AblationResult; tables are also written to ``out``. Failed combinations are rows with
    ``status == "failed"`` and their ``error``. Raises :class:`WorkerLost` (after saving what
    finished) when a worker process dies, and re-raises ``KeyboardInterrupt`` likewise.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")
    n_workers = workers or default_workers()
    combos = grid.combinations()
    dates = common_dates(market, grid, combos)
    axes = [a for a, _ in grid.axes]
    context = {"format": STUDY_FORMAT,
               "data": fingerprint(market.assets, market.candidates),
               "fixed": grid.to_json()["fixed"],
               "dates": [str(d.date()) for d in dates]}
    out_p = Path(out) if out is not None else None
    if out_p is not None:
        _prepare_out(out_p, context, force)
    if cache_dir is True:
        cdir = str(out_p / "stage-cache") if out_p is not None else None
    elif cache_dir in (None, False):
        cdir = None
    else:
        cdir = str(cache_dir)
    store = _Store(out_p)
    store.load({c.id for c in combos})
    if retry_failed:
        store.mem = {k: v for k, v in store.mem.items() if v.get("status") == "ok"}
    todo = [c for c in combos if c.id not in store.mem]
    skipped = len(combos) - len(todo)
    by_id = {c.id: c for c in combos}
    token = uuid.uuid4().hex
    groups = plan_tasks(todo, 1 if executor == "serial" else n_workers,
                        per_combination=per_combination or executor == "serial")
    tasks = [Task(combos=g, dates=dates, fixed=grid.fixed, token=token, cache_dir=cdir)
             for g in groups]
    shared = StageCache(cdir)
    counts: Counter = Counter()
    state = {"done": 0, "failed": 0, "total": len(todo), "t0": time.perf_counter()}
    ran = 0
    stream = execute(market, tasks, executor=executor, workers=n_workers, cache=shared,
                     scheduler=scheduler, dask_processes=dask_processes,
                     connect_timeout=connect_timeout)
    try:
        for recs in stream:
            for rec in recs:
                counts.update(rec.get("counts") or {})
                store.save(by_id[rec["id"]], rec)
                ran += 1
                state["done"] += 1
                state["failed"] += rec["status"] != "ok"
            if progress is not None:
                elapsed = time.perf_counter() - state["t0"]
                left = state["total"] - state["done"]
                progress({"done": state["done"], "failed": state["failed"], "remaining": left,
                          "total": state["total"], "elapsed": elapsed,
                          "eta": elapsed / max(state["done"], 1) * left})
    except (KeyboardInterrupt, WorkerLost):
        _finish(grid, combos, store, dates, axes, counts, out_p, context,
                remaining=len(todo) - ran)
        raise
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return _finish(grid, combos, store, dates, axes, counts, out_p, context, ran=ran,
                   skipped=skipped, remaining=len(todo) - ran)


def _finish(grid: Grid, combos: list[Combination], store: _Store, dates: pd.DatetimeIndex,
            axes: list[str], counts: Mapping[str, int], out: Path | None,
            context: dict[str, Any], *, ran: int = 0, skipped: int = 0,
            remaining: int = 0) -> AblationResult:
    table = results_table(combos, store.mem, axes)
    summary = summarize(table, axes)
    ids = [c.id for c in combos if c.id in store.navs]
    nav = pd.DataFrame({i: store.navs[i] for i in ids}) if ids else pd.DataFrame()
    counts = {k: int(v) for k, v in sorted(counts.items())}
    if out is not None:
        for name, frame in (("results", table), ("summary", summary)):
            _atomic_frame(frame, out / f"{name}.parquet", index=False)
            _atomic_frame(frame, out / f"{name}.csv", index=False)
        if not nav.empty:
            nav.index.name = "date"
            _atomic_frame(nav, out / "nav.parquet", index=True)
        study = {"context": context, "grid": grid.to_json(), "combinations": len(combos),
                 "finished": int(len(table)), "failed": int((table["status"] == "failed").sum())
                 if len(table) else 0, "remaining": remaining, "counts_last_run": counts}
        atomic_write_bytes(out / "study.json", json.dumps(to_jsonable(study), indent=2).encode())
    return AblationResult(table=table, summary=summary, nav=nav, dates=dates, counts=counts,
                          ran=ran, skipped=skipped, remaining=remaining, out=out)
