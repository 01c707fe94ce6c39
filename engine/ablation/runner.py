"""Run an ablation grid: common dates, shared stage cache, executors, resumable result folder.

Result folder layout::

    OUT/
      study.json            grid, markets, reference, common dates, data fingerprints, counts
      results.parquet/.csv  one row per (market, combination) (see summary.results_table)
      summary.parquet/.csv  the evidence summary (causalfolio.ablation.evidence)
      choices.parquet/.csv  mean and spread of every metric per level of every factor
      comparisons.*, evidence.json   differences to the reference, multiple-testing results
      nav.parquet           daily NAV of every successful combination (columns: ids, or
                            (market, id) with several markets)
      rows/<id>.json        one finished combination (written atomically as it completes);
                            rows/<market>-<hash>/<id>.json with several markets
      rows/<id>.nav.parquet, rows/<id>.weights.parquet   its NAV and target weights
      stage-cache/          on-disk stage cache (safe to delete)

Re-running into the same folder skips combinations whose ``rows/<id>.json`` exists (failed ones too,
unless ``retry_failed``), so an interrupted study resumes where it stopped.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import uuid
import warnings
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
from ..data.folders import (
    STAMP_KEY,
    clean_stale,
    folder_lock,
    read_stamp,
    remove_owned,
    resolve_out,
    stamp,
)
from ..data.io import atomic_write_bytes, atomic_write_frame
from ..errors import (
    CacheIntegrityWarning,
    CausalfolioError,
    CausalfolioWarning,
    CollinearDriversWarning,
    ConfigError,
    ConstantSensitivitiesWarning,
    DataError,
)
from ..stages import fingerprint
from .cache import StageCache, check_cache_dir
from .executors import (
    EXECUTORS,
    Task,
    WorkerLost,
    check_scheduler,
    default_workers,
    execute,
    plan_tasks,
)
from .grid import Combination, Grid
from .identical import identical_to
from .markets import MarketGrid, as_markets, check_study_size
from .summary import factors, results_table, summarize

STUDY_FORMAT = 2
EVIDENCE_FILES = ("comparisons.parquet", "comparisons.csv", "evidence.json")
"""The statistics' files: written only when every combination of the study has finished."""

Progress = Callable[[dict[str, Any]], None]


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class AblationResult:
    """The outcome of :func:`run_ablation`.

    Attributes
    ----------
    table
        One row per finished combination (stage choices, varying parameters, settings, status,
        metrics, timings, stage counts).
    summary
        The evidence summary (``factor, choice, metric, effect, ci_low, ci_high, p_value,
        p_holm, n_markets``); the per-choice mean/spread (``choices``) when the statistics were
        not computed (interrupted study).
    nav
        Daily NAV of each successful combination (columns: combination ids; with several
        markets, columns ``(market, id)``).
    dates
        The common rebalance dates of the first market (``market_dates``: of each).
    choices
        Mean/spread/effect of each metric per level of each factor, over all markets
        (:func:`~causalfolio.ablation.summarize`).
    reference
        Label of the combination the others are compared with.
    evidence
        The study's statistics (:class:`~causalfolio.ablation.evidence.StudyEvidence`), or
        ``None``.
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
    choices: pd.DataFrame | None = None
    market_dates: dict[str, pd.DatetimeIndex] = attrs.field(factory=dict)
    reference: str | None = None
    evidence: Any = None

    @property
    def markets(self) -> list[str]:
        """The market ids, in grid order."""
        return list(self.market_dates)

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
        windows = tuple((w, c.value(w)) for w in ("driver_window", "train_window", "cov_window"))
        by_windows.setdefault(windows, []).append(pipes[c.spec])
    dates = rebalance_dates(market.dates, grid.fixed["schedule"], start=grid.fixed["start"],
                            end=grid.fixed["end"])
    for windows, ps in by_windows.items():
        cfg = BacktestConfig(start=grid.fixed["start"], end=grid.fixed["end"],
                             schedule=grid.fixed["schedule"], **dict(windows))
        dates = dates.intersection(plan_dates(market, ps, cfg))
    if len(dates) == 0:
        raise DataError("no rebalance date has enough history for every combination; shorten "
                        "the windows or give more data")
    return dates



def check_settings(grid: Grid, combos: list[Combination], markets: Mapping[str, Any],
                   dates_of: Mapping[str, pd.DatetimeIndex]) -> None:
    """Check every distinct set of backtest settings of the grid as :func:`run_backtest` would,
    before the study starts: settings no backtest accepts (bounds the wrong way round, a NaN
    cost), a risk-free series that does not cover a market's dates, or per-asset files naming
    assets a market lacks raise :class:`ConfigError`/:class:`DataError` once, instead of
    failing every combination."""
    from ..backtest.inputs import daily_risk_free
    from ..backtest.runner import _per_asset, check_investable

    for mid, m in markets.items():  # no asset priced on a rebalance date: none is investable
        priced = m.assets.reindex(dates_of[mid]).notna().sum(axis=1)
        if (priced == 0).any():
            day = priced.index[(priced == 0).to_numpy()][0]
            try:
                check_investable(0, day)
            except DataError as exc:
                raise DataError(f"market {mid}: {exc}" if len(markets) > 1 else str(exc)
                                ) from None
    checked: dict[Any, None] = {}
    for c in combos:
        if c.settings in checked:
            continue
        checked[c.settings] = None
        where = " ".join(f"{k}={v}" for k, v in c.settings if len(dict(grid.axes)[k]) > 1)
        try:
            cfg = c.config(grid.fixed)
            for mid, m in markets.items():
                _per_asset(cfg, m)
                if cfg.risk_free_series is not None:
                    end = grid.fixed["end"] if grid.fixed["end"] is not None else m.dates[-1]
                    days = m.dates[(m.dates >= dates_of[mid][0]) & (m.dates <= end)]
                    daily_risk_free(cfg.risk_free_series, days, source=str(cfg.risk_free))
        except (ConfigError, DataError) as exc:
            if not where:
                raise
            raise type(exc)(f"settings {where}: {exc}") from None


def _slug(mid: str) -> str:
    """A folder name for a market id: readable part plus a short hash (ids may hold any text)."""
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", mid)[:40]
    return f"{safe}-{fingerprint(mid)[:8]}"


class _Store:
    """The rows/ folder: one JSON per finished combination, NAV and weights first, JSON last.

    One market: ``rows/<id>.json``; several: ``rows/<market>-<hash>/<id>.json``.
    """

    def __init__(self, out: Path | None, mid: str = "", *, nested: bool = False) -> None:
        self.out = out
        self.market = mid
        self.rows = (None if out is None else
                     out / "rows" / _slug(mid) if nested else out / "rows")
        self.mem: dict[str, dict[str, Any]] = {}
        self.navs: dict[str, pd.Series] = {}
        self.weights: dict[str, pd.DataFrame] = {}

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
                try:
                    self.navs[cid] = pd.read_parquet(self.rows / f"{cid}.nav.parquet")["nav"]
                    self.weights[cid] = pd.read_parquet(self.rows / f"{cid}.weights.parquet")
                except Exception:  # noqa: BLE001 - missing or damaged NAV: recompute the row
                    self.navs.pop(cid, None)
                    continue
            self.mem[cid] = rec

    def save(self, combo: Combination, rec: dict[str, Any]) -> None:
        nav = rec.pop("nav", None)
        weights = rec.pop("weights", None)
        rec = {**rec, "label": combo.label, "spec": combo.spec, "benchmark": combo.benchmark,
               "settings": dict(combo.settings), "market": self.market}
        if self.rows is not None:  # files first (JSON last): memory never holds an unsaved row
            self.rows.mkdir(parents=True, exist_ok=True)
            if nav is not None:
                atomic_write_frame(pd.DataFrame({"nav": nav}),
                                   self.rows / f"{combo.id}.nav.parquet", index=True)
            if weights is not None:
                w = weights.copy()
                w.columns = [str(c) for c in w.columns]
                atomic_write_frame(w, self.rows / f"{combo.id}.weights.parquet", index=True)
            atomic_write_bytes(self.rows / f"{combo.id}.json",
                               json.dumps(to_jsonable(rec), indent=1).encode())
        if nav is not None:
            self.navs[combo.id] = nav
        if weights is not None:
            self.weights[combo.id] = weights
        self.mem[combo.id] = rec


STUDY_MARKER = "study.json"
"""The file that makes a folder an ablation folder (the only kind ``ablate`` writes into)."""
_ID = "[0-9a-f]" * 16  # a combination id
_ROW_FILES = tuple(f"rows/{where}{_ID}{ext}" for where in ("", "*-" + "[0-9a-f]" * 8 + "/")
                   for ext in (".json", ".nav.parquet", ".weights.parquet"))
STUDY_FILES = ("study.json", "results.parquet", "results.csv", "summary.parquet",
               "summary.csv", "choices.parquet", "choices.csv", "nav.parquet", "report.html",
               *EVIDENCE_FILES, *_ROW_FILES, "stage-cache/v*/*.npz", "stage-cache/secret.key")
"""What an ablation folder's stamp owns (``*`` patterns; rows are written as the study runs)."""


def _stamped(study: dict[str, Any]) -> dict[str, Any]:
    return {**study, STAMP_KEY: stamp("study", STUDY_FILES)}


def _prepare_out(out: Path, context: dict[str, Any], force: bool, grid: Grid,
                 n_combinations: int) -> None:
    # re-entrant: run_ablation holds the lock of `out` for the whole study
    with folder_lock(out) as since:
        clean_stale(out, since, STUDY_MARKER)
        study = out / STUDY_MARKER
        if (out.exists() or out.is_symlink()) and not out.is_dir():
            raise ConfigError(f"--out {out} is a file, not a folder; causalfolio never replaces "
                              "a file it did not write: choose another --out")
        fresh = True
        if study.is_file():
            if read_stamp(out, STUDY_MARKER) is None:
                try:
                    json.loads(study.read_text())
                except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise ConfigError(
                        f"--out {out} holds a damaged {STUDY_MARKER} (unreadable: "
                        f"{type(exc).__name__}), so causalfolio cannot prove the folder is its "
                        "own and never writes into it, whatever the flags: delete it by hand "
                        "if it is an old study, or choose another --out") from None
                raise ConfigError(f"--out {out} is not an ablation folder written by causalfolio "
                                  f"(its {STUDY_MARKER} lacks causalfolio's folder stamp) and "
                                  "causalfolio never writes into a folder it did not make, "
                                  "whatever the flags: choose another --out")
            # read_stamp has just parsed it as a JSON object (under the lock)
            fresh = json.loads(study.read_bytes()).get("context") != context
            if fresh:
                if not force:
                    raise ConfigError(
                        f"--out {out} holds a study on other data, dates or fixed settings; "
                        "choose another --out, or pass --force to discard its results")
                # only our rows go: anything else in rows/ is the user's and stays
                remove_owned(out / "rows", [f[len("rows/"):] for f in STUDY_FILES
                                            if f.startswith("rows/")], keep_root=True)
        elif out.is_dir() and any(p.name not in ("rows", "stage-cache")
                                  or (p.name == "rows" and (not p.is_dir() or any(p.iterdir())))
                                  for p in out.iterdir()):
            # rows are written only after study.json: rows without it are not provably ours
            raise ConfigError(f"--out {out} is not an ablation folder (no {STUDY_MARKER}) and "
                              "causalfolio never writes into a folder it did not make, whatever "
                              "the flags: choose another --out")
        (out / "rows").mkdir(parents=True, exist_ok=True)
        if fresh:  # the marker from the start, so that an interrupted study is recognised
            started = {"context": context, "grid": grid.to_json(),
                       "combinations": n_combinations, "finished": 0, "failed": 0,
                       "remaining": n_combinations, "counts_last_run": {}}
            atomic_write_bytes(study, json.dumps(to_jsonable(_stamped(started)),
                                                 indent=2).encode())


def _holding_out_lock(fn: Callable[..., AblationResult]) -> Callable[..., AblationResult]:
    """Hold the write lock of ``out`` for the whole study (a second ``ablate`` into the same
    folder gets ConfigError "in use" instead of interleaving its rows)."""

    @functools.wraps(fn)
    def run(market: Any, grid: Grid, out: str | os.PathLike | None = None, *args: Any,
            **kwargs: Any) -> AblationResult:
        if out is None:
            return fn(market, grid, out, *args, **kwargs)
        with folder_lock(Path(out)):
            return fn(market, grid, out, *args, **kwargs)

    return run


# --- the entry point -----------------------------------------------------------------------------


@_holding_out_lock
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
    reference: str | None = None,
    evidence: bool = True,
    stat_block_days: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> AblationResult:
    """Backtest every combination of ``grid`` on identical dates of every market, and summarise.

    Parameters
    ----------
    market
        Asset and candidate returns: a :class:`causalfolio.data.Market`, a mapping market id ->
        Market, or a :class:`~causalfolio.ablation.MarketGrid` (synthetic seeds and settings, or
        stationary-bootstrap replicas of real data). Markets are a grid axis: every combination
        runs on every market, on that market's common dates.
    grid
        The combinations (:class:`~causalfolio.ablation.Grid`).
    out
        Result folder (see the module docstring); ``None`` keeps everything in memory (no
        resume, no disk cache unless ``cache_dir`` is a path).
    executor
        ``serial`` (in-process), ``processes`` (local processes, default) or ``dask``; one pool
        of workers serves all markets.
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
        settings) instead of raising :class:`ConfigError`. A file, or a non-empty folder
        without ``study.json`` (except the ``rows/`` of an interrupted study), is refused with
        :class:`ConfigError` whatever ``force`` says; ``out`` is locked for the whole study (a
        concurrent study into it gets ``ConfigError`` "in use").
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
    reference
        The combination every other is compared with: a benchmark spec, a combination label or
        a pipeline spec of the grid (default: the first benchmark, else the first combination).
    evidence
        Compute the study's statistics (:func:`causalfolio.ablation.evidence.analyse_study`)
        when every combination has run.
    stat_block_days, n_boot, seed
        Block length (trading days; default automatic), bootstrap draws and seed of the
        statistics (not of the markets: see :class:`~causalfolio.ablation.MarketGrid`).

    Returns
    -------
    AblationResult; tables are also written to ``out``. Failed combinations are rows with
    ``status == "failed"`` and their ``error``. Raises :class:`WorkerLost` (after saving what
    finished) when a worker process dies, and re-raises ``KeyboardInterrupt`` likewise.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    check_scheduler(scheduler, executor)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")
    n_workers = workers or default_workers()
    if executor != "serial" and grid.registry is not None:
        grid.registry.check_portable()  # PluginError before anything starts, not a dead worker
    combos = grid.combinations()
    ref_label = resolve_reference(combos, reference, grid.registry)
    # backtests = markets x combinations, bounded before any market is built
    n_markets = (market.size() if isinstance(market, MarketGrid)
                 else len(market) if isinstance(market, Mapping) else 1)
    check_study_size(n_markets, len(combos), grid.max_combinations)
    markets, mparams, mjson = as_markets(market)
    dates_of: dict[str, pd.DatetimeIndex] = {}
    for mid, m in markets.items():
        try:
            dates_of[mid] = common_dates(m, grid, combos)
        except DataError as exc:
            if len(markets) == 1:
                raise
            raise DataError(f"market {mid}: {exc}") from None
    check_settings(grid, combos, markets, dates_of)
    axes = [a for a, _ in grid.axes]
    first = next(iter(markets))
    if len(markets) == 1:
        context = {"format": STUDY_FORMAT,
                   "data": fingerprint(markets[first].assets, markets[first].candidates),
                   "fixed": grid.to_json()["fixed"],
                   "dates": [str(d.date()) for d in dates_of[first]]}
    else:
        context = {"format": STUDY_FORMAT, "fixed": grid.to_json()["fixed"],
                   "markets": {mid: {"data": fingerprint(m.assets, m.candidates),
                                     "params": mparams[mid],
                                     "dates": [str(d.date()) for d in dates_of[mid]]}
                               for mid, m in markets.items()}}
    out_p = resolve_out(out) if out is not None else None
    if cache_dir is True:
        cdir = str(out_p / "stage-cache") if out_p is not None else None
    elif cache_dir is None or cache_dir is False:
        cdir = None
    else:
        cdir = str(check_cache_dir(cache_dir))
    # a folder made (or filled from empty) by this call is removed again when the study stops
    # before any combination finished (a scheduler that cannot be reached, Ctrl-C at once)
    existed = out_p is not None and out_p.exists()
    made = out_p is not None and (not existed or (out_p.is_dir() and not any(out_p.iterdir())))
    if out_p is not None:
        _prepare_out(out_p, context, force, grid, len(combos))
    try:
        return _run_study(grid, combos, markets, mparams, mjson, dates_of, axes, first, context,
                          out_p, cdir, ref_label, executor=executor, n_workers=n_workers,
                          scheduler=scheduler, retry_failed=retry_failed, progress=progress,
                          dask_processes=dask_processes, per_combination=per_combination,
                          connect_timeout=connect_timeout, evidence=evidence,
                          stat_block_days=stat_block_days, n_boot=n_boot, seed=seed)
    except BaseException:
        if out_p is not None:
            if made and not any((out_p / "rows").rglob("*.json")):
                # nothing finished: leave nothing behind (an empty folder given by the user stays)
                remove_owned(out_p, STUDY_FILES, keep_root=existed)
            else:
                # a signal (Ctrl-C, SIGTERM) can land between a temporary file's creation and the
                # `try` that removes it on error: we hold the lock, so every temporary file of
                # ours in the folder is a leftover of this process (issue #23, the SIGTERM test)
                clean_stale(out_p, float("inf"), STUDY_MARKER)
        raise


def _run_study(grid: Grid, combos: list[Combination], markets: dict[str, Any],
               mparams: Mapping[str, Mapping[str, Any]], mjson: Mapping[str, Any],
               dates_of: dict[str, pd.DatetimeIndex], axes: list[str], first: str,
               context: dict[str, Any], out_p: Path | None, cdir: str | None, ref_label: str,
               *, executor: str, n_workers: int, scheduler: str | None, retry_failed: bool,
               progress: Progress | None, dask_processes: bool, per_combination: bool,
               connect_timeout: float, evidence: bool, stat_block_days: int | None,
               n_boot: int, seed: int) -> AblationResult:
    """The study itself, once ``out_p`` is prepared (see :func:`run_ablation`)."""
    nested = len(markets) > 1
    stores = {mid: _Store(out_p, mid, nested=nested) for mid in markets}
    ids = {c.id for c in combos}
    todo: dict[str, list[Combination]] = {}
    for mid, st in stores.items():
        st.load(ids)
        if retry_failed:
            st.mem = {k: v for k, v in st.mem.items() if v.get("status") == "ok"}
        todo[mid] = [c for c in combos if c.id not in st.mem]
    n_todo = sum(len(v) for v in todo.values())
    skipped = len(combos) * len(markets) - n_todo
    by_id = {c.id: c for c in combos}
    token = uuid.uuid4().hex
    tasks = []
    for mid in markets:  # market after market: a worker's memory cache serves one at a time
        groups = plan_tasks(todo[mid], 1 if executor == "serial" else n_workers,
                            per_combination=per_combination or executor == "serial")
        tasks += [Task(combos=g, dates=dates_of[mid], fixed=grid.fixed, token=token,
                       cache_dir=cdir, market=mid, registry=grid.registry) for g in groups]
    shared = StageCache(cdir)
    counts: Counter = Counter()
    seen_warnings: dict[tuple[str, str], None] = {}
    state = {"done": 0, "failed": 0, "total": n_todo, "t0": time.perf_counter()}
    ran = 0
    payload = markets if nested else markets[first]
    stream = execute(payload, tasks, executor=executor, workers=n_workers, cache=shared,
                     scheduler=scheduler, dask_processes=dask_processes,
                     connect_timeout=connect_timeout) if tasks else iter(())
    finish = functools.partial(
        _finish, grid, combos, stores, mparams, dates_of, axes, out_p, context,
        reference=ref_label, markets_json=mjson,
        stats=dict(block_days=stat_block_days, n_boot=n_boot, seed=seed) if evidence else None)
    try:
        for recs in stream:
            for rec in recs:
                counts.update(rec.get("counts") or {})
                for w in rec.get("warnings") or ():
                    key = (str(w[0]), str(w[1]))
                    if key not in seen_warnings:
                        seen_warnings[key] = None
                        _reemit(*key)
                stores[rec.get("market") or first].save(by_id[rec["id"]], rec)
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
        # the tables say what is on disk: a row written just before the interrupt reached
        # memory is read back, and `remaining` is counted from the rows, not from `ran`
        for mid, st in stores.items():
            st.load({c.id for c in todo[mid] if c.id not in st.mem})
        finish(counts, remaining=sum(c.id not in stores[mid].mem
                                     for mid in markets for c in todo[mid]))
        raise
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return finish(counts, ran=ran, skipped=skipped, remaining=n_todo - ran)


_CATEGORIES: dict[str, type[Warning]] = {
    c.__name__: c for c in (UserWarning, RuntimeWarning, FutureWarning, DeprecationWarning,
                            CausalfolioWarning, ConstantSensitivitiesWarning,
                            CacheIntegrityWarning, CollinearDriversWarning)}


def _reemit(category: str, message: str) -> None:
    """Show a warning raised in a worker once per study (its category when known)."""
    warnings.warn(message, _CATEGORIES.get(category, UserWarning), stacklevel=3)


def resolve_reference(combos: list[Combination], reference: str | None,
                      registry: Any = None) -> str:
    """The label of the reference combination.

    ``reference`` is a combination label, or a spec (canonicalised) matching exactly one
    combination; ``None`` picks the first benchmark, else the first combination. Anything else is
    a :class:`ConfigError` listing the choices. ``registry`` parses a spec (default: the
    process-wide one; give the grid's).
    """
    if not combos:
        raise ConfigError("the grid has no combination")
    if reference is None:
        bench = [c for c in combos if c.benchmark]
        return (bench or combos)[0].label
    ref = str(reference).strip()
    labels = [c.label for c in combos]
    if ref in labels:
        return ref
    try:
        from ..pipeline import parse_spec

        canon = parse_spec(ref, registry).spec
    except CausalfolioError:
        canon = None
    hits = [c.label for c in combos if c.spec in (ref, canon)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ConfigError(f"--reference {ref!r} matches {len(hits)} combinations (the settings "
                          f"axes vary); give one label: {'; '.join(hits[:6])}")
    shown = "; ".join(labels[:12]) + (f"; ... ({len(labels)} in all)" if len(labels) > 12
                                      else "")
    raise ConfigError(f"--reference {ref!r} is not in the grid; choose a benchmark or a "
                      f"combination: {shown}")


def _market_columns(table: pd.DataFrame, mid: str, params: Mapping[str, Any],
                    names: list[str]) -> pd.DataFrame:
    table = table.copy()
    table.insert(0, "market", mid)
    for k, name in enumerate(names):
        table.insert(1 + k, f"market.{name}", params.get(name))
    return table


def _finish(grid: Grid, combos: list[Combination], stores: Mapping[str, _Store],
            mparams: Mapping[str, Mapping[str, Any]], dates_of: Mapping[str, pd.DatetimeIndex],
            axes: list[str], out: Path | None, context: dict[str, Any],
            counts: Mapping[str, int], *, reference: str, markets_json: Mapping[str, Any],
            stats: Mapping[str, Any] | None, ran: int = 0, skipped: int = 0,
            remaining: int = 0) -> AblationResult:
    names = list(dict.fromkeys(k for p in mparams.values() for k in p))
    parts, navs, returns = [], {}, {}
    for mid, st in stores.items():
        t = results_table(combos, st.mem, axes, registry=grid.registry)
        same = identical_to(combos, st.weights)
        pos = t.columns.get_loc("status")
        t.insert(pos + 1, "identical_to", [same.get(i) for i in t["id"]])
        parts.append(_market_columns(t, mid, mparams[mid], names))
        ids = [c.id for c in combos if c.id in st.navs]
        if ids:
            nav = pd.DataFrame({i: st.navs[i] for i in ids})
            navs[mid] = nav
            returns[mid] = nav.pct_change().iloc[1:]
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    choices = summarize(table, axes)
    first = next(iter(stores))
    if len(navs) > 1:
        nav = pd.concat(navs, axis=1)
    else:
        nav = navs.get(first, pd.DataFrame())
    counts = {k: int(v) for k, v in sorted(counts.items())}
    if out is not None:  # the results first: they stay on disk whatever the statistics do
        for name, frame in (("results", table), ("choices", choices)):
            atomic_write_frame(frame, out / f"{name}.parquet", index=False)
            atomic_write_frame(frame, out / f"{name}.csv", index=False)
        if not nav.empty:
            nav.index.name = "date"
            atomic_write_frame(nav, out / "nav.parquet", index=True)
        study = {"context": context, "grid": grid.to_json(), "markets": markets_json,
                 "reference": reference, "combinations": len(combos) * len(stores),
                 "finished": int(len(table)), "failed": int((table["status"] == "failed").sum())
                 if len(table) else 0, "remaining": remaining, "counts_last_run": counts}
        atomic_write_bytes(out / "study.json",
                           json.dumps(to_jsonable(_stamped(study)), indent=2).encode())
    ev = None
    if stats is not None and remaining == 0 and returns:
        ev = _evidence(table, returns, reference, axes, stats)
        if ev is not None:
            ev.evidence["market_settings"] = dict(markets_json)
    summary = ev.summary if ev is not None else choices
    if out is not None:
        if ev is not None:
            ev.write(out)  # summary, comparisons, evidence.json
        else:
            atomic_write_frame(summary, out / "summary.parquet", index=False)
            atomic_write_frame(summary, out / "summary.csv", index=False)
            # an earlier, finished run's statistics no longer describe this folder's study
            # (ours: the folder carries study.json, and we hold its lock)
            for stale in EVIDENCE_FILES:
                (out / stale).unlink(missing_ok=True)
    return AblationResult(table=table, summary=summary, nav=nav, dates=dates_of[first],
                          counts=counts, ran=ran, skipped=skipped, remaining=remaining, out=out,
                          choices=choices, market_dates=dict(dates_of), reference=reference,
                          evidence=ev)


def _evidence(table: pd.DataFrame, returns: Mapping[str, pd.DataFrame], reference: str,
              axes: list[str], stats: Mapping[str, Any]) -> Any:
    """The study's statistics (``causalfolio.ablation.evidence``), or ``None`` when the reference
    did not run successfully anywhere."""
    ok = table[(table["status"] == "ok") & (table["label"] == reference)]
    if ok.empty:
        warnings.warn(f"the reference {reference!r} failed on every market; no comparisons "
                      "written", CausalfolioWarning, stacklevel=3)
        return None
    from .evidence import analyse_study

    pipes = table[~table["benchmark"].astype(bool)]
    fcts = factors(pipes, axes) if len(pipes) else []
    return analyse_study(table, returns, reference=reference, factors=fcts,
                         block_days=stats["block_days"], n_boot=stats["n_boot"],
                         seed=stats["seed"])
