"""Where the combinations of an ablation run: in-process, local processes, or a Dask cluster.

Every executor runs the same function, :func:`run_task`, on tasks (lists of combinations that
share upstream stages), so results are identical whatever the executor. Each worker process keeps
one stage cache for the current study (dropped when a new study starts), so tasks landing on the
same worker share work too; with a disk cache, all workers share it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

import attrs
import pandas as pd

from ..defaults import EXECUTORS
from ..errors import CausalfolioError, CausalfolioWarning, ConfigError
from ..registry import Registry
from .cache import StageCache
from .grid import Combination

Executor = Literal["serial", "processes", "dask"]


_SCHEDULER = re.compile(r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)"
                        r"(?::(\d{1,5}))?")


def check_scheduler(address: str | None, executor: str) -> None:
    """Check a Dask scheduler address (``tcp://host:8786``, ``tls://...``, ``host:port``) before
    anything is created; only the ``dask`` executor takes one."""
    if address is None:
        return
    if executor != "dask":
        raise ConfigError(f"a scheduler address ({address!r}) needs the dask executor; add "
                          "--executor dask (executor='dask') or drop the address")
    m = _SCHEDULER.fullmatch(str(address).strip())
    if m is None or (m.group(1) is not None and not 0 < int(m.group(1)) < 65536):
        raise ConfigError(f"scheduler {address!r} is not a Dask scheduler address; write "
                          "tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786 (or omit it for a local "
                          "cluster)")


class WorkerLost(CausalfolioError):
    """A worker process died (killed, out of memory); the combinations it held were not run."""


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class Task:
    """Combinations run together on one worker, sharing its stage cache.

    Attributes
    ----------
    combos
        The combinations, run in order.
    dates
        The grid's common rebalance dates.
    fixed
        The grid's fixed settings (``start``, ``end``, ``schedule``).
    token
        Study token: a worker keeps its cache while the token stays the same.
    cache_dir
        Disk cache folder shared by the workers, or ``None``.
    registry
        The grid's registry (rebuilt from its recipe in a worker process), or ``None`` for the
        worker's process-wide one.
    market
        Id of the market the task runs on (a key of the markets given to the executor; ignored
        when it is given a single market).
    """

    combos: tuple[Combination, ...]
    dates: pd.DatetimeIndex
    fixed: Mapping[str, Any]
    token: str
    cache_dir: str | None = None
    registry: Registry | None = attrs.field(default=None, eq=False, repr=False)
    market: str = ""


# --- the work ----------------------------------------------------------------------------------


def run_combination(market: Any, combo: Combination, dates: pd.DatetimeIndex,
                    fixed: Mapping[str, Any], cache: StageCache,
                    registry: Registry | None = None) -> dict[str, Any]:
    """Backtest one combination; a failure is recorded in the returned record, never raised.

    ``registry`` parses the combination's spec (default: the process-wide registry).

    Returns
    -------
    dict with ``id``, ``status`` (``ok``/``failed``), ``metrics``, ``nav`` (a Series),
    ``weights`` (target weights, rebalance dates x assets), ``error``, ``seconds``, ``counts``
    (stage cache counts of this combination) and ``warnings`` (distinct causalfolio warnings
    raised, as ``[category name, message]``; the runner re-emits each once per study).
    """
    from ..backtest import run_backtest

    view = cache.view()
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"id": combo.id, "status": "ok", "error": None, "metrics": None,
                           "nav": None, "weights": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CausalfolioWarning)
        try:
            # only metrics and NAV are kept: skip the per-rebalance Table 1 diagnostics
            # (BacktestConfig has its own __init__ for the deprecated aliases: mypy checks evolve
            # against it, not against the fields)
            config = attrs.evolve(combo.config(fixed, dates),  # type: ignore[call-arg]
                                  diagnostics=False)
            result = run_backtest(market, combo.spec, config, cache=view,
                                  registry=registry)
            strat = next(iter(result.strategies.values()))
            rec["metrics"] = {k: float(v) for k, v in strat.metrics.items()}
            rec["nav"] = strat.nav
            rec["weights"] = strat.weights
            rec["rebalances"] = len(result.dates)
        except Exception as exc:  # noqa: BLE001 - a failing combination must not stop the grid
            rec["status"] = "failed"
            rec["error"] = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, CausalfolioError):
                rec["traceback"] = traceback.format_exc(limit=8)
    seen = dict.fromkeys((w.category.__name__, str(w.message)) for w in caught)
    rec["warnings"] = [list(k) for k in seen]
    rec["seconds"] = time.perf_counter() - t0
    rec["counts"] = view.snapshot()
    return rec


_WORKER: dict[str, Any] = {"token": None, "cache": None}
_LOCK = threading.Lock()


def _worker_cache(token: str, cache_dir: str | None) -> StageCache:
    with _LOCK:
        if _WORKER["token"] != token:
            _WORKER["token"] = token
            _WORKER["cache"] = StageCache(cache_dir)
        return _WORKER["cache"]


def _market_of(market: Any, task: Task) -> Any:
    return market[task.market] if isinstance(market, Mapping) else market


def run_task(market: Any, task: Task) -> list[dict[str, Any]]:
    """Run a task's combinations in order on this worker's cache for the study and market.

    ``market`` is a Market or a mapping market id -> Market (``task.market`` picks one). The
    worker keeps one in-memory cache per (study, market): tasks of one market share it, and a
    study over many markets holds one market's stage outputs at a time (the disk cache has all).
    """
    cache = _worker_cache(f"{task.token}:{task.market}", task.cache_dir)
    m = _market_of(market, task)
    return [{**run_combination(m, c, task.dates, task.fixed, cache, task.registry),
             "market": task.market} for c in task.combos]


# --- planning ------------------------------------------------------------------------------------


def plan_tasks(combos: Sequence[Combination], n_workers: int, *, per_combination: bool = False
               ) -> list[tuple[Combination, ...]]:
    """Split combinations into tasks that share upstream stages.

    Picks the coarsest sharing level (same driver selection; + dynamics; + sensitivities;
    + forecast) that still gives at least ``n_workers`` tasks, else the finest: an upstream output
    is then computed by one worker only, at the price of a coarser load balance. Order inside a
    task follows the grid. ``per_combination`` gives one task per combination.
    """
    if per_combination:
        return [(c,) for c in combos]
    groups: dict[str, list[Combination]] = {}
    for level in (1, 2, 3, 4):
        groups = {}
        for c in combos:
            groups.setdefault(c.upstream_key(level), []).append(c)
        if len(groups) >= n_workers:
            break
    return [tuple(g) for g in groups.values()]


# --- executors ---------------------------------------------------------------------------------

Record = dict[str, Any]


def _serial(market: Any, tasks: Sequence[Task], cache: StageCache) -> Iterator[list[Record]]:
    current = tasks[0].market if tasks else ""
    for t in tasks:
        if t.market != current:  # a new market: its keys differ, start a fresh memory cache
            current, cache = t.market, StageCache(cache.disk)
        yield [{**run_combination(_market_of(market, t), c, t.dates, t.fixed, cache,
                                 t.registry),
                "market": t.market} for c in t.combos]


_MARKET: dict[str, Any] = {}


def _init_process(market: Any, parent: int | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _MARKET["m"] = market
    if parent is not None:
        watch_parent(parent)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the pid now belongs to another user's process: ours is gone
        return False
    try:  # a zombie (killed, not yet reaped) is dead too
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:  # no /proc (not Linux)
        return True


def watch_parent(pid: int, interval: float = 0.5) -> threading.Thread:
    """Exit this (worker) process as soon as the process ``pid`` dies.

    Workers of the ``processes`` executor are children of the fork server, not of the process
    running the ablation, and hold the pipes that keep the fork server and the resource tracker
    alive: without this watchdog, SIGKILL of the main process would leave them all running.
    A daemon thread waits on a pidfd where the OS has them (Linux), else polls every
    ``interval`` seconds, then ends the process with ``os._exit(1)``.
    """

    def run() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # not Linux >= 5.3, or already gone
            fd = None
        if fd is not None:
            import select

            select.select([fd], [], [])  # readable once the process has exited
        else:
            while _process_alive(pid):
                time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=run, name="causalfolio-parent-watchdog", daemon=True)
    thread.start()
    return thread


def _process_task(task: Task) -> list[Record]:
    return run_task(_MARKET["m"], task)  # the market, or every market of the study


def _context() -> mp.context.BaseContext:
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["causalfolio.ablation._preload"])
        return ctx
    return mp.get_context("spawn")


def _processes(market: Any, tasks: Sequence[Task], workers: int) -> Iterator[list[Record]]:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context(),
                               initializer=_init_process, initargs=(market, os.getpid()))
    clean = False
    try:
        pending = {pool.submit(_process_task, t) for t in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                try:
                    recs = fut.result()
                except BrokenProcessPool:
                    raise WorkerLost("a worker process died (killed or out of memory); "
                                     "re-run the same command to complete the remaining "
                                     "combinations") from None
                yield recs
        clean = True
    finally:
        if not clean:  # interrupted or a worker died: stop the others now, not after their task
            for proc in list(getattr(pool, "_processes", {}).values()):
                if proc.is_alive():
                    proc.terminate()
        pool.shutdown(wait=clean, cancel_futures=True)


def _dask(market: Any, tasks: Sequence[Task], workers: int, scheduler: str | None,
          processes: bool, timeout: float = 20.0) -> Iterator[list[Record]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("the dask executor needs dask.distributed: pip install "
                          "'causalfolio[distributed]'") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); check "
                              "the address (tcp://host:8786) or omit it for a local "
                              "cluster") from None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                               dashboard_address=None)
        client = Client(cluster)
    futures: list[Any] = []
    try:
        [mkt] = client.scatter([market], broadcast=True)
        futures = [client.submit(run_task, mkt, t, pure=False) for t in tasks]
        for fut in as_completed(futures):
            try:
                recs = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker and the like
                if type(exc).__name__ == "KilledWorker":
                    raise WorkerLost(f"a Dask worker died running a task ({exc}); re-run the "
                                     "same command to complete the remaining combinations"
                                     ) from None
                raise
            yield recs
    finally:
        if futures:
            client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


def execute(market: Any, tasks: Sequence[Task], *, executor: str, workers: int,
            cache: StageCache, scheduler: str | None = None, dask_processes: bool = True,
            connect_timeout: float = 20.0) -> Iterator[list[Record]]:
    """Run tasks and yield each task's records as it completes (order may vary).

    ``connect_timeout``: seconds to wait for a Dask scheduler given by address.
    """
    if executor == "serial":
        return _serial(market, tasks, cache)
    for reg in {id(t.registry): t.registry for t in tasks if t.registry is not None}.values():
        reg.check_portable()  # a clear error now rather than a worker dying on unpickling
    if executor == "processes":
        return _processes(market, tasks, workers)
    if executor == "dask":
        return _dask(market, tasks, workers, scheduler, dask_processes, connect_timeout)
    raise ConfigError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")


def default_workers() -> int:
    """All cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


ProgressFn = Callable[[dict[str, Any]], None]
