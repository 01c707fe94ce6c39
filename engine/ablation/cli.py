"""The ``causalfolio ablate`` sub-command."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..cli_common import (
    CONSTRAINT_SETTINGS,
    WINDOW_HELP,
    ablation_progress,
    add_constraint_options,
    add_data_options,
    market_from_args,
)
from ..defaults import DEFAULT_REPLICAS, EXECUTORS, RESAMPLERS
from ..errors import ConfigError

_AXIS_HELP = {
    **{name: text.replace(" window,", " window(s),") for name, text in WINDOW_HELP.items()},
    "reselect_every": "re-select drivers every n rebalances (default 1)",
    "min_weight": "minimum weight(s) per asset, or CSV file(s) asset,min_weight (default 0)",
    "max_weight": "maximum weight(s) per asset, or CSV file(s) asset,max_weight (default 1)",
    "cost_bps": "transaction cost(s), bps of traded value (default 0)",
    "fixed_cost": "cost(s) per asset traded, NAV units (the NAV starts at 100; default 0)",
    "band": "no-trade band(s): skip trades smaller than this weight (default 0)",
    "turnover_cap": "largest one-way turnover per rebalance, or none (default none)",
    "risk_free": "risk-free rate(s): annual rate or a daily file (default 0)",
    "bounds_policy": "infeasible bounds at a date: error or relax (default error)",
    "delisting_returns": "CSV asset,return[,date] of delisting returns (default: none, sold "
                         "at the last price)",
    "drift": "let weights drift between rebalances: true, false or true,false (default true)",
    "seed": "base seed(s) (default 0)",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def cmd_ablate(args: argparse.Namespace) -> int:
    """Run an ablation from the command line; returns the exit status."""
    from ..checks import check_out_path
    from .evidence import replica_zero
    from .executors import check_scheduler
    from .grid import AXES, Grid, parse_values
    from .markets import (
        MarketGrid,
        check_replicas,
        check_study_size,
        count_markets,
        market_options_from_toml,
        parse_seeds,
    )
    from .runner import check_settings, resolve_reference, run_ablation
    from .summary import format_effects, format_summary

    # cheap checks first: a bad option fails before the grid is expanded or anything is created
    check_scheduler(args.scheduler, args.executor)
    if args.synthetic is not None:
        parse_seeds(args.synthetic)
    if args.out is not None and not args.dry_run:
        check_out_path(args.out)
    settings: dict[str, Any] = {}
    for name in AXES:
        text = getattr(args, name)
        if text is not None:
            vals = parse_values(name, text)
            settings[name] = vals if len(vals) > 1 else vals[0]
    for name in ("start", "end", "schedule", *CONSTRAINT_SETTINGS):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    if args.grid:
        grid = Grid.from_toml(args.grid, specs=args.spec or (), benchmarks=args.benchmark or (),
                              settings=settings, max_combinations=args.max_combinations)
        mopts = market_options_from_toml(args.grid)
    else:
        if not args.spec:
            raise ConfigError("give --spec (braces allowed) or --grid FILE")
        grid = Grid.from_specs(args.spec, benchmarks=args.benchmark or (), settings=settings,
                               max_combinations=args.max_combinations)
        mopts = {}
    for name in ("synthetic", "resample", "replicas", "block_days"):
        if getattr(args, name) is not None:
            mopts[name] = getattr(args, name)
    if args.allow_few_replicas:
        mopts["allow_few_replicas"] = True
    if args.synthetic_param:
        mopts["synthetic_param"] = args.synthetic_param
    if mopts.get("synthetic") is not None and args.assets:
        raise ConfigError("give either --assets/--drivers or --synthetic, not both")
    if mopts.get("synthetic") is not None and mopts.get("resample") is not None:
        raise ConfigError("--resample replicates real data (--assets/--drivers); with "
                          "--synthetic give more seeds instead (e.g. --synthetic 0:20)")
    for name in ("replicas", "block_days"):
        v = mopts.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ConfigError(f"--{name.replace('_', '-')} must be an integer >= 1, got {v!r}")
    if mopts.get("resample") is not None:  # before the data files are read
        check_replicas(mopts.get("replicas"), bool(mopts.get("allow_few_replicas")))
    # backtests = markets x combinations, counted before any market is built or data read
    n_markets = count_markets(**mopts)
    n_backtests = check_study_size(n_markets, grid.size(), grid.max_combinations)
    data = None
    if mopts.get("synthetic") is None:
        if not (args.assets and args.drivers):
            raise ConfigError("give the data: --assets FILE --drivers FILE, or --synthetic "
                              "SEEDS")
        data = market_from_args(args)
    market = MarketGrid.from_options(data=data, **mopts)
    resolve_reference(grid.combinations(), args.reference)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be an integer >= 1, got {args.workers}")
    combos = grid.combinations()
    check_settings(grid, combos, {}, {})  # every combination's settings, before a dry run too
    out = Path(args.out or f"runs/ablation-{time.strftime('%Y%m%d-%H%M%S')}")
    if args.dry_run:
        for c in combos:
            print(c.label)
        print(f"{n_markets} market{'s' if n_markets != 1 else ''} x {len(combos)} "
              f"combinations = {n_backtests} backtests")
        return 0
    if not args.quiet:
        print(f"{len(combos)} combinations ({len(grid.specs)} pipelines, "
              f"{len(grid.benchmarks)} benchmarks, {len(grid.axes)} settings), executor "
              f"{args.executor}", file=sys.stderr)
    cache_dir: Any = None if args.no_disk_cache else (args.cache_dir or True)
    t0 = time.perf_counter()
    res = run_ablation(
        market, grid, out, executor=args.executor, workers=args.workers,
        scheduler=args.scheduler, cache_dir=cache_dir, retry_failed=args.retry_failed,
        force=args.force, progress=None if args.quiet else ablation_progress(),
        reference=args.reference,
    )
    elapsed = time.perf_counter() - t0
    table = res.table
    failed = table[table["status"] == "failed"] if len(table) else table
    n_m = len(res.market_dates)
    where = f" on each of {n_m} markets" if n_m > 1 else ""
    print(f"{len(res.dates)} rebalances from {res.dates[0].date()} to {res.dates[-1].date()}"
          f"{where}; {res.ran} combinations run, {res.skipped} already done, {len(failed)} "
          f"failed; {res.stage_computations()} stage outputs computed; {elapsed:.1f}s")
    for _, row in failed.head(5).iterrows():
        print(f"  failed: {row['label']}: {row['error']}")
    ok = table[table["status"] == "ok"] if len(table) else table
    cols = ["sharpe", "total_return", "annual_volatility", "max_drawdown"]
    zero = replica_zero(ok) if len(ok) and n_m > 1 else None
    if zero is not None:  # replicas of one path: the numbers of the backtests on the data
        on_data = ok[ok["market"] == zero]
        best = on_data.sort_values("sharpe", ascending=False).head(args.top)
        print(f"top {len(best)} by Sharpe on the data (replica 0; the other {n_m - 1} markets "
              "are its bootstrap replicas). A ranking without intervals is not evidence: the "
              "differences with their intervals follow:")
        print(best[["label", *cols]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    elif len(ok) and n_m > 1:
        mean = ok.groupby("label", sort=False)[cols].mean()
        mean.insert(0, "markets", ok.groupby("label", sort=False).size())
        best = mean.sort_values("sharpe", ascending=False).head(args.top).reset_index()
        print(f"top {len(best)} by mean Sharpe over the {n_m} markets (a ranking without "
              "intervals is not evidence: the differences with their intervals follow):")
        print(best.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    elif len(ok):
        best = ok.sort_values("sharpe", ascending=False).head(args.top)
        print(f"top {len(best)} by Sharpe:")
        print(best[["label", *cols]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("Sharpe ratio by choice (mean over the combinations with it; mean_minus_overall = "
          "that mean - the mean over all pipeline combinations):")
    print(format_summary(res.choices if res.choices is not None else res.summary, "sharpe"))
    if res.evidence is not None and not res.evidence.summary.empty:
        print("effect of each choice on the Sharpe ratio (the choice minus the other choices of "
              "its factor, paired; 95% interval; Holm p) - summary.csv:")
        print(format_effects(res.evidence.summary, "sharpe"))
    same = table[table["identical_to"].notna()] if "identical_to" in table else table.iloc[:0]
    if len(same):
        pairs = same.groupby(["label", "identical_to"], sort=False).size()
        where = "" if n_m == 1 else " (on k of the markets)"
        print(f"identical arms: same weights at every rebalance, counted once{where}: "
              + "; ".join(f"{a} = {b}" + (f" ({k}/{n_m})" if n_m > 1 else "")
                          for (a, b), k in list(pairs.items())[:8]))
    if res.evidence is not None:
        print(format_comparisons(res.evidence.comparisons, res.reference))
        print(f"results: {out}/results.csv (.parquet), summary: {out}/summary.csv, "
              f"comparisons: {out}/comparisons.csv, evidence: {out}/evidence.json")
    else:
        print(f"results: {out}/results.csv (.parquet), summary: {out}/summary.csv")
    return 0


def format_comparisons(comparisons: Any, reference: str | None, metric: str = "sharpe") -> str:
    """The console table of differences to the reference (one metric): diff, 95% interval,
    p-value and the multiple-testing adjusted p-value."""
    c = comparisons[comparisons["metric"] == metric]
    cols = [k for k in ("label", "diff", "ci_low", "ci_high", "p_value", "p_adjusted",
                        "identical_to") if k in c.columns]
    from ..evidence.result import format_p

    head = f"{metric} difference to the reference {reference} (95% interval, adjusted p):"
    if c.empty:
        return head + "\n(no comparison)"
    c = c[cols].copy()
    for k in ("p_value", "p_adjusted"):
        if k in c:
            c[k] = c[k].map(format_p)
    if "identical_to" in c:
        c["identical_to"] = c["identical_to"].where(c["identical_to"].notna(), "")
    return head + "\n" + c.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def add_ablate_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``ablate`` sub-command to the CLI's sub-parsers (``parser_class`` is the CLI's)."""
    p = sub.add_parser(
        "ablate", help="backtest a grid of pipelines and settings on identical dates",
        description="Backtest every combination of a grid (brace alternatives in --spec, or a "
                    "TOML --grid file) on identical dates, with shared-stage caching; writes "
                    "results and a per-choice summary as CSV and Parquet. Settings options take "
                    "comma-separated lists: each list is a grid axis, e.g. --cov-window 42,63.")
    g = p.add_argument_group("grid")
    g.add_argument("--spec", action="append",
                   help="pipeline spec with brace alternatives (repeatable), e.g. "
                        "'rccp(k={4,6})|linear(lags={[0],[0,1]})|beta|static|{hsp,hrp}'")
    g.add_argument("--grid", help="TOML grid file (specs, stages, benchmarks, backtest)")
    g.add_argument("--benchmark", action="append",
                   help="benchmark spec (repeatable), e.g. equal, hrp")
    g.add_argument("--dry-run", action="store_true",
                   help="list the combinations and exit")
    g.add_argument("--max-combinations", type=_positive_int, metavar="N",
                   help="refuse a grid of more than N combinations, counted before expanding "
                        "(default: the grid file's max_combinations, else 10000)")
    d = p.add_argument_group("data")
    add_data_options(d, required=False)
    d.add_argument("--synthetic", metavar="SEEDS",
                   help="use the built-in synthetic market with these seeds instead of files: "
                        "5, a list 0,3,7 or a range 0:20 (seeds 0..19); each seed is a market")
    d.add_argument("--synthetic-param", action="append", metavar="NAME=V[,V...]",
                   help="a synthetic_market setting (repeatable), each list a market axis, "
                        "e.g. n_assets=14,60")
    d.add_argument("--resample", choices=list(RESAMPLERS),
                   help="replicate the data by the stationary bootstrap (assets and candidates "
                        "jointly, same days; replica 0 is the data)")
    d.add_argument("--replicas", type=int, metavar="R",
                   help=f"replicas with --resample, including the data (default "
                        f"{DEFAULT_REPLICAS})")
    d.add_argument("--allow-few-replicas", action="store_true",
                   help="accept --replicas below 20 (their spread is every interval's standard "
                        "error; fewer are too noisy); recorded in study.json")
    d.add_argument("--block-days", type=int, metavar="L",
                   help="mean block length of --resample, trading days (default: automatic, "
                        "Politis-White)")
    b = p.add_argument_group("backtest settings (comma-separated lists are grid axes)")
    b.add_argument("--start", help="first rebalance date considered (YYYY-MM-DD)")
    b.add_argument("--end", help="last date (YYYY-MM-DD)")
    b.add_argument("--schedule", choices=["monthly", "quarterly", "weekly"])
    for name, text in _AXIS_HELP.items():
        b.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="V[,V...]", help=text)
    add_constraint_options(b)
    s = p.add_argument_group("evidence")
    s.add_argument("--reference", metavar="NAME",
                   help="the combination every other is compared with: a benchmark, a label or "
                        "a spec of the grid (default: the first benchmark)")
    e = p.add_argument_group("execution")
    e.add_argument("--executor", default="processes", choices=list(EXECUTORS),
                   help="serial (in-process), processes (local, default) or dask")
    e.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    e.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786); default with "
                                       "--executor dask: a local cluster")
    e.add_argument("--cache-dir", help="on-disk stage cache (default OUT/stage-cache)")
    e.add_argument("--no-disk-cache", action="store_true", help="keep stage outputs in memory")
    e.add_argument("--out", help="result folder (default runs/ablation-<time>); re-running into "
                                 "it resumes")
    e.add_argument("--retry-failed", action="store_true",
                   help="re-run combinations recorded as failed")
    e.add_argument("--force", action="store_true",
                   help="discard results in --out that belong to another study")
    e.add_argument("--top", type=_positive_int, default=10,
                   help="rows of the top list (default 10)")
    e.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_ablate)
    return p
