"""Ablation of the HSP variants of the monograph (SPEC §6) on real public data.

The choices §9.1-§9.4 vary, crossed on identical rebalance dates: driver-selection window 6m or
12m, lags 0, 1 or both, OPT or SELECT, in- or out-of-sample sensitivities, and static or
path-dependent HSP (Vasicek, Hull-White, cumulative path distance); benchmarks 1/N and HRP. The
US portfolio and candidate pool of ``us_portfolio.py``, monthly, weights within 3%-10%. Writes
an ablation folder and its HTML report (results, Sharpe per combination, per-choice effects).

Usage::

    python examples/us_ablation.py --period short --out runs/us-ablation      # 56 combinations
    python examples/us_ablation.py --period short --quick --out runs/us-abl-q  # CI size

Sensitivities come from a nonlinear model (``sklearn`` kernel ridge, finite differences), so
in/out-of-sample and static/path-dependent differ; with ``--dynamics linear`` (constant betas)
they would coincide. Data: ``pip install 'causalfolio[data]'``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from causalfolio.ablation import Grid, format_summary, run_ablation
from causalfolio.data.real import PERIODS, real_market
from causalfolio.report.ablation import write_ablation_report

MODELS = {"kernel": ("sklearn(estimator='kernel_ridge',lags={lags})", "fd"),
          "linear": ("linear(lags={lags})", "beta")}


def grid_specs(k: int, dynamics: str, quick: bool) -> list[str]:
    """The HSP grid as brace specs: OPT (two windows) and SELECT, crossed with the rest."""
    model, sens = MODELS[dynamics]
    lags = "{[0],[1],[0,1]}" if not quick else "{[0],[1]}"
    dyn = model.format(lags=lags)
    fc = ("{static,vasicek(aggregate='cumulative'),hull_white(aggregate='cumulative')}"
          if not quick else "{static,vasicek(aggregate='cumulative')}")
    samples = "{'in','out'}" if not quick else "'in'"
    windows = "{126,252}" if not quick else "126"
    return [
        f"rccp(k={k},window={windows})|{dyn}|{sens}(sample={samples})|{fc}|hsp",
        f"rccp(k={k},window=126,max_asset_corr=0.9,max_r2=0.8)|{dyn}|{sens}(sample={samples})"
        f"|{fc}|hsp",
    ]


def run(period: str, out: str, *, quick: bool = False, dynamics: str = "kernel",
        executor: str = "processes", workers: int | None = None, quiet: bool = False) -> dict:
    """Run the ablation into ``out`` and write ``out/report.html``; returns the results."""
    t0 = time.perf_counter()
    p = PERIODS[period]
    start = p.start if not quick else str((pd.Timestamp(p.end) - pd.DateOffset(months=3)).date())
    market, facts = real_market(period, start=start, end=p.end)
    k = max(3, len(facts["candidates"]) // 2)
    grid = Grid.from_specs(grid_specs(k, dynamics, quick), benchmarks=["equal", "hrp"],
                           settings={"start": start, "end": p.end, "min_weight": 0.03,
                                     "max_weight": 0.10})
    res = run_ablation(market, grid, out, executor=executor, workers=workers,
                       cache_dir=False)
    report = write_ablation_report(out, title=f"HSP ablation, US portfolio, {p.note}")
    if not quiet:
        ok = res.table[res.table["status"] == "ok"]
        print(f"{period}: {len(res.table)} combinations ({len(ok)} ok) on {len(res.dates)} "
              f"rebalances from {res.dates[0].date()}, k={k}, {dynamics} dynamics; "
              f"{time.perf_counter() - t0:.0f}s")
        print(ok.sort_values("sharpe", ascending=False)[
            ["label", "total_return", "annual_volatility", "sharpe"]].head(10).to_string(
                index=False, float_format=lambda v: f"{v:.3f}"))
        print("Sharpe ratio by choice (mean_minus_overall = mean with the choice - overall mean):")
        print(format_summary(res.choices, "sharpe"))
        print(f"report: {report}")
    return {"result": res, "report": report, "facts": facts, "k": k}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--period", default="short", choices=list(PERIODS))
    ap.add_argument("--dynamics", default="kernel", choices=list(MODELS))
    ap.add_argument("--quick", action="store_true", help="CI size: 3 months, 10 combinations")
    ap.add_argument("--out", required=True, help="ablation folder (resumes when rerun)")
    ap.add_argument("--executor", default="processes", choices=["serial", "processes", "dask"])
    ap.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    args = ap.parse_args(argv)
    run(args.period, args.out, quick=args.quick, dynamics=args.dynamics,
        executor=args.executor, workers=args.workers)
    return 0


if __name__ == "__main__":
    from causalfolio.errors import CausalfolioError

    try:
        sys.exit(main())
    except CausalfolioError as exc:  # one line, like the causalfolio command
        print(f"{Path(__file__).name}: error: {exc}", file=sys.stderr)
        sys.exit(2)
