"""Benchmark of a multi-market evidence study: wall time and the statistics' share of it.

Run by hand (not collected by pytest)::

    .venv/bin/python tests/benchmarks/bench_evidence_study.py [--markets 20] [--workers 2]

The study of issue 12: ``--markets`` synthetic markets (seeds 0..M-1, the default
``synthetic_market``) x 6 ``linear|beta`` pipelines
(``rccp(k=6)|linear(lags=[0,1])|beta|{static,vasicek}|{hsp,hsp(psd=True),hrp}``) + 2 benchmarks
(``equal``, ``hrp``), the ``processes`` executor with one pool for all markets, memory caches.
Targets: the whole study <= 90 s on a 2-core machine, the statistics <= 10% of it.

Printed, each against a baseline measured in the same run:

1. the study's wall time (markets generated, combinations run, tables and identical arms), and the
   time per market against a one-market study run first (``per-market ratio``: how much the
   shared pool saves over starting one study per market; < 1 is a gain);
2. the statistics (:func:`causalfolio.ablation.evidence.analyse_study` on the study's table and
   returns, ``n_boot`` bootstrap draws) and their share of the study's total.

Timings are wall-clock on whatever machine runs it; on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import time
import warnings

from causalfolio.ablation import Grid, MarketGrid, run_ablation
from causalfolio.ablation.runner import _evidence

SPEC = "rccp(k=6)|linear(lags=[0,1])|beta|{static,vasicek}|{hsp,hsp(psd=True),hrp}"
BENCHMARKS = ["equal", "hrp"]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    grid = Grid.from_specs(SPEC, benchmarks=BENCHMARKS)
    n_comb = len(grid.combinations())
    print(f"grid: {len(grid.specs)} pipelines + {len(grid.benchmarks)} benchmarks = {n_comb} "
          f"combinations; executor processes, {args.workers} workers")

    # warm-up: start the fork server once (its one-off start-up is not what is measured)
    run_ablation(MarketGrid.from_options(synthetic="0", synthetic_param=["n_days=200"]),
                 Grid.from_specs(benchmarks=["equal"]), None, workers=args.workers,
                 evidence=False)

    one = MarketGrid.from_options(synthetic="0")
    _, t_one = _timed(lambda: run_ablation(one, grid, None, workers=args.workers,
                                           evidence=False))
    print(f"1 market : {t_one:7.1f} s  (baseline)")

    mg = MarketGrid.from_options(synthetic=f"0:{args.markets}")
    res, t_run = _timed(lambda: run_ablation(mg, grid, None, workers=args.workers,
                                             evidence=False))
    ok = int((res.table["status"] == "ok").sum())
    print(f"{args.markets} markets: {t_run:7.1f} s  ({ok}/{len(res.table)} rows ok; "
          f"{t_run / args.markets:.1f} s per market, per-market ratio "
          f"{t_run / args.markets / t_one:.2f} vs the 1-market study)")

    returns = {}
    for mid in res.markets:
        nav = res.nav[mid]
        returns[mid] = nav.pct_change().iloc[1:]
    axes = [a for a, _ in grid.axes]
    ev, t_stat = _timed(lambda: _evidence(
        res.table, returns, res.reference or "equal", axes,
        {"block_days": None, "n_boot": args.n_boot, "seed": 0}))
    total = t_run + t_stat
    print(f"statistics: {t_stat:7.1f} s  ({100 * t_stat / total:.1f}% of the study's "
          f"{total:.1f} s; target <= 10%)")
    print(f"study total: {total:.1f} s (target <= 90 s on 2 cores) -> "
          f"{'met' if total <= 90 else 'NOT met'}; statistics share "
          f"{'met' if t_stat <= 0.1 * total else 'NOT met'}")
    if ev is None:
        print("(no statistics: causalfolio.ablation.evidence is not available)")


if __name__ == "__main__":
    main()
