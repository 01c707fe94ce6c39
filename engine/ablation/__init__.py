"""Ablation studies: grids of pipelines backtested on identical dates, with shared-stage caching.

>>> from causalfolio.ablation import Grid, run_ablation
>>> grid = Grid.from_specs("rccp(k={4,6})|linear|beta|static|{hsp,hrp}", benchmarks=["equal"],
...                        settings={"cov_window": [42, 63]})
>>> result = run_ablation(market, grid, "runs/ablation")          # doctest: +SKIP
>>> result.summary                                                  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

# Names and the submodule that defines each: loaded on first use, so that the command line can
# build the ``ablate`` parser (causalfolio.ablation.cli) without importing pandas and the stages.
_LAZY = {
    "DiskCache": "cache", "StageCache": "cache", "decode": "cache", "encode": "cache",
    "EXECUTORS": "executors", "WorkerLost": "executors", "plan_tasks": "executors",
    "run_combination": "executors",
    "AXES": "grid", "FIXED": "grid", "Combination": "grid", "Grid": "grid",
    "identical_to": "identical",
    "MarketGrid": "markets", "parse_seeds": "markets", "parse_synthetic_params": "markets",
    "AblationResult": "runner", "common_dates": "runner", "resolve_reference": "runner",
    "run_ablation": "runner",
    "format_summary": "summary", "results_table": "summary", "summarize": "summary",
}

__all__ = ["AXES", "EXECUTORS", "FIXED", "AblationResult", "Combination", "DiskCache", "Grid",
           "MarketGrid", "StageCache", "WorkerLost", "common_dates", "decode", "encode",
           "format_summary", "identical_to", "parse_seeds", "parse_synthetic_params",
           "plan_tasks", "resolve_reference", "results_table", "run_ablation",
           "run_combination", "summarize"]

if TYPE_CHECKING:
    from .cache import DiskCache, StageCache, decode, encode
    from .executors import EXECUTORS, WorkerLost, plan_tasks, run_combination
    from .grid import AXES, FIXED, Combination, Grid
    from .identical import identical_to
    from .markets import MarketGrid, parse_seeds, parse_synthetic_params
    from .runner import AblationResult, common_dates, resolve_reference, run_ablation
    from .summary import format_summary, results_table, summarize


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
