"""Ablation benchmark on the synthetic market: shared-stage caching and parallel speed-up.

Run by hand (not collected by pytest)::

    .venv/bin/python tests/benchmarks/bench_ablation.py [--workers 2] [--grid light|neural|all]

Two grids of 24 combinations (x cov_window {42, 63}) sharing upstream stages at every rebalance:
``light`` = ``rccp(k={4,8})|linear(lags={[0],[0,1]})|beta|static|{hsp,hrp,equal}`` (2 distinct
selections, 4 distinct dynamics/sensitivities/forecasts per date) and ``neural`` = a small ``fnn``
or ``linear`` dynamics with ``fd`` sensitivities and static/vasicek forecasts on the last 6
monthly rebalances. Reports, each against a baseline measured in the same run:

1. stage computations and wall time, independent runs (a fresh cache per combination) vs the
   shared cache (serial executor, in memory) -- target: >= 3x fewer stage computations;
2. wall time of the ``processes`` executor with 1 vs ``--workers`` workers (memory caches; a tiny
   warm-up run starts the fork server first so that its one-off start-up is not counted);
3. (light grid) a repeated study on a warm on-disk stage cache (new result folder) and a resumed
   one (same folder: every combination already done), against the first run.

Timings are wall-clock on whatever machine runs it; on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from causalfolio.ablation import Grid, StageCache, run_ablation, run_combination
from causalfolio.data import synthetic_market

GRIDS = {
    # every upstream stage cheap (linear models): what caching saves is bounded by the
    # per-rebalance work that is not a stage output (mapping, design matrices, simulation)
    "light": ("rccp(k={4,8})|linear(lags={[0],[0,1]})|beta|static|{hsp,hrp,equal}", None),
    # a neural dynamics model in half the grid: the expensive stage is shared 12 ways
    "neural": ("rccp(k=4)|{linear,fnn(hidden=[[4]],lag_sets=[[0]],windows=None,epochs=30,"
               "min_epochs=5,patience=5)}|fd|{static,vasicek}|{hsp,hrp,equal}", 6),
}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _grid(market, name: str) -> Grid:
    spec, last = GRIDS[name]
    settings: dict = {"cov_window": [42, 63]}
    if last:  # only the last `last` monthly rebalances (keeps the independent baseline short)
        months = market.dates.to_period("M").unique()
        settings["start"] = str(months[-last - 1].start_time.date())
    return Grid.from_specs(spec, settings=settings)


def bench_grid(market, name: str, workers: int) -> None:
    grid = _grid(market, name)
    combos = grid.combinations()
    print(f"\n=== grid '{name}': {len(combos)} combinations: {GRIDS[name][0]} x cov_window "
          "{42,63}")
    # 1. shared cache vs independent runs (both serial, in-process)
    shared, t_shared = _timed(lambda: run_ablation(market, grid, executor="serial",
                                                   cache_dir=None))
    dates = shared.dates

    def independent():
        n = 0
        for c in combos:
            rec = run_combination(market, c, dates, grid.fixed, StageCache())
            assert rec["status"] == "ok", rec["error"]
            n += sum(v for k, v in rec["counts"].items() if k.endswith(".computed"))
        return n

    n_indep, t_indep = _timed(independent)
    n_shared = shared.stage_computations()
    print(f"1. stage computations over {len(dates)} rebalances: independent {n_indep}, "
          f"shared cache {n_shared} -> {n_indep / n_shared:.2f}x fewer")
    print(f"   wall time: independent {t_indep:.2f}s, shared cache {t_shared:.2f}s -> "
          f"{t_indep / t_shared:.2f}x faster")
    # 2. processes executor: 1 vs N workers (the fork server was warmed up in main)
    one, t1 = _timed(lambda: run_ablation(market, grid, executor="processes", workers=1,
                                          cache_dir=None))
    many, tn = _timed(lambda: run_ablation(market, grid, executor="processes",
                                           workers=workers, cache_dir=None))
    key = ["id", "sharpe", "total_return"]
    assert one.table[key].equals(many.table[key]) and one.table[key].equals(shared.table[key])
    print(f"2. processes executor: 1 worker {t1:.2f}s ({one.stage_computations()} stage "
          f"outputs), {workers} workers {tn:.2f}s ({many.stage_computations()} stage "
          f"outputs) -> speed-up {t1 / tn:.2f}x (results identical to serial)")


def bench_disk(market) -> None:
    grid = _grid(market, "light")
    tmp = Path(tempfile.mkdtemp(prefix="bench-ablation-"))
    try:
        cache = tmp / "cache"
        _, t_cold = _timed(lambda: run_ablation(market, grid, tmp / "a", executor="serial",
                                                cache_dir=cache))
        warm, t_warm = _timed(lambda: run_ablation(market, grid, tmp / "b", executor="serial",
                                                   cache_dir=cache))
        resumed, t_res = _timed(lambda: run_ablation(market, grid, tmp / "a",
                                                     executor="serial", cache_dir=cache))
        disk_hits = sum(v for k, v in warm.counts.items() if k.endswith(".disk_hit"))
        print("\n=== on-disk cache and resume (grid 'light', serial)")
        print(f"3. first run with a disk cache {t_cold:.2f}s; repeated study in a new folder "
              f"{t_warm:.2f}s ({warm.stage_computations()} stage outputs computed, {disk_hits} "
              f"read from disk) -> {t_cold / t_warm:.2f}x faster")
        print(f"   resumed run in the same folder {t_res:.2f}s ({resumed.ran} combinations run, "
              f"{resumed.skipped} already done) -> {t_cold / t_res:.1f}x faster")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--grid", choices=[*GRIDS, "all"], default="all")
    args = ap.parse_args()
    market = synthetic_market(seed=0)
    print(f"market: {market.assets.shape[1]} assets, {market.candidates.shape[1]} candidates, "
          f"{len(market.dates)} days; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} (a speed-up needs idle cores)")
    # warm-up: imports, plugin registry and the fork server, so no measured run pays for them
    tiny = Grid.from_specs("rccp(k=4)|linear|beta|static|{hsp,hrp}",
                           settings={"start": str(market.dates[-30].date())})
    run_ablation(market, tiny, executor="serial", cache_dir=None)
    run_ablation(market, tiny, executor="processes", workers=args.workers, cache_dir=None)
    for name in (GRIDS if args.grid == "all" else [args.grid]):
        bench_grid(market, name, args.workers)
    if args.grid in ("all", "light"):
        bench_disk(market)
    print(f"\n(timings are wall-clock; load average now {os.getloadavg()[0]:.1f}; on a shared "
          "machine they are noisy)")


if __name__ == "__main__":
    main()
