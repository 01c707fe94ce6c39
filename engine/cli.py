"""The ``causalfolio`` command line.

Commands: ``plugins``, ``spec``, ``backtest``, ``demo``, ``datasets synthetic``. Errors print one
line on stderr and exit with status 2 (``--debug`` shows the traceback). Ctrl-C exits with 130 and
SIGTERM with 143, both after saving what an ablation finished (re-run to resume).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .cli_common import (
    BACKTEST_WINDOWS_AND_BOUNDS,
    WINDOW_DEFAULTS,
    WINDOW_HELP,
    add_constraint_options,
    add_data_options,
    backtest_progress,
    market_from_args,
)
from .errors import CausalfolioError, Terminated, shorten

DEMO_SPEC = "rccp(k=6)|linear(lags=[0,1])|beta|static|hsp"
"""The recommended pipeline: best mean Sharpe on the claims study's development seeds, in
stationary and shifted worlds (``examples/claims.py --only choose``, docs/claims.md), never tuned on
the demo's market (tests/examples/test_claims.py keeps the two equal)."""
DEMO_BENCHMARKS = ("equal", "hrp")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(2, f"causalfolio: error: {message} (see '{self.prog} --help')\n")


def _format_table(table) -> str:
    pct = ("total_return", "annual_return", "annual_volatility", "max_drawdown", "turnover")
    out = table.copy()
    for c in out.columns:
        if c in pct:
            out[c] = out[c].map(lambda v: f"{100 * v:.2f}%" if v == v else "n/a")
        else:
            out[c] = out[c].map(lambda v: f"{v:.3f}" if v == v else "n/a")
    out.index.name = "strategy"
    return out.to_string()


def _sharpe_vs_benchmark(result, benchmark: str, *, n_boot: int = 999, seed: int = 0) -> str:
    """Each strategy's Sharpe difference to the first benchmark, with interval and p-value."""
    import pandas as pd

    from .evidence import format_p, sharpe_diff, volatility_diff
    from .pipeline import parse_spec

    ref = parse_spec(benchmark).spec
    base = result.strategies[ref].returns
    lines = [f"Sharpe ratio minus that of {ref} (Ledoit-Wolf 2008 block-bootstrap test, 95% "
             f"interval, {n_boot} replicates, seed {seed}):"]
    risk = [f"annualised volatility minus that of {ref} (equally-weighted-cosine fixed-b test "
            "on log variances, 95% interval):"]
    notes: set[str] = set()
    width = max(len(k) for k in result.strategies)
    for label, strat in result.strategies.items():
        if label == ref:
            continue
        ruined = [s for s in (strat, result.strategies[ref])
                  if getattr(s, "ruined_on", None) is not None]
        if ruined:
            lines.append(f"  {label:<{width}}  n/a ({ruined[0].label} lost everything on "
                         f"{ruined[0].ruined_on.date()})")
            continue
        both = pd.concat([strat.returns, base], axis=1, join="inner").dropna()
        if len(both) < 10:
            lines.append(f"  {label:<{width}}  n/a (fewer than 10 common days)")
            continue
        res = sharpe_diff(both.iloc[:, 0], both.iloc[:, 1], n_boot=n_boot, seed=seed)
        if res.estimate != res.estimate:
            lines.append(f"  {label:<{width}}  n/a ({res.info.get('note', 'undefined')})")
            continue
        b = res.info.get("block_size")
        block = "" if b is None else f"  (block {b} day{'s' if b != 1 else ''})"
        lines.append(f"  {label:<{width}}  {res.estimate:+.3f}  [{res.ci_low:+.3f}, "
                     f"{res.ci_high:+.3f}]  p={format_p(res.p_value)}{block}")
        v = volatility_diff(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()).info
        notes.update([v["note"]] if v.get("note") else [])
        risk.append(f"  {label:<{width}}  {100 * v['vol_diff']:+.2f} pp  "
                    f"[{100 * v['vol_ci_low']:+.2f}, {100 * v['vol_ci_high']:+.2f}]  "
                    f"p={format_p(v['vol_p_value'])}")
    risk += [f"  note: {n}" for n in sorted(notes)]
    return "\n".join(lines + (risk if len(risk) > 1 else []))


def _requires_note(cls: Any) -> str:
    """`` (requires torch)``, or with the install command when it is missing; empty if none."""
    if not cls.requires:
        return ""
    absent = cls.missing_requirements()
    if not absent:
        return f" (requires {', '.join(cls.requires)})"
    from .optional import install_hint

    return f" (requires {', '.join(cls.requires)}: not installed, {install_hint(absent)})"


def cmd_plugins(args: argparse.Namespace) -> int:
    from .registry import STAGE_LABELS, build_registry
    from .stages import STAGES

    # lenient: a clash or an invalid component is listed (with its provider) instead of
    # stopping the listing that helps to resolve it
    reg = build_registry(strict=False)
    stages = [args.stage] if args.stage else list(STAGES)
    if args.json:
        data: dict[str, Any] = {s: [
            {"name": e.name, "provider": e.provider,
             "distribution": (reg.distributions.get(e.provider) or ("", ""))[0],
             "version": (reg.distributions.get(e.provider) or ("", ""))[1],
             "summary": e.cls.summary(),
             "requires": list(e.cls.requires), "missing": list(e.cls.missing_requirements()),
             "parameters": [{"name": p.name, "type": p.type, "default": p.default,
                             "required": p.required, "doc": p.doc}
                            for p in e.cls.parameters()]}
            for e in reg.entries(s)] for s in stages}
        if not args.stage:
            data["estimators"] = [{"name": e.name, "provider": e.provider,
                                   "defaults": dict(e.defaults)}
                                  for e in reg.estimator_entries()]
        data["failures"] = [{"name": f.name, "error": f.error} for f in reg.failures]
        from .backtest.runfolder import to_jsonable

        print(json.dumps(to_jsonable(data), indent=2))
        return 0
    for s in stages:
        print(f"{s} ({STAGE_LABELS[s]}s)")
        for e in reg.entries(s):
            print(f"  {e.name:<14} {e.cls.summary()}  [{reg.source(e.provider)}]"
                  f"{_requires_note(e.cls)}")
            for p in e.cls.parameters():
                default = "required" if p.required else f"default {p.default!r}"
                print(f"      {p.name} ({p.type}, {default}): {p.doc}")
    if not args.stage:
        print("estimators (for sklearn(estimator=...); also scikit-learn regressors by class "
              "name or public path)")
        for est in reg.estimator_entries():
            print(f"  {est.name:<18} [{reg.source(est.provider)}]")
    for f in reg.failures:
        print(f"failed plugin {f.name}: {f.error}")
    return 0


def cmd_spec(args: argparse.Namespace) -> int:
    from .pipeline import parse_spec
    from .spec import expand_spec

    for s in expand_spec(args.spec, max_combinations=args.max_combinations):
        print(parse_spec(s).spec)
    return 0


def _date_list(text: str) -> list[str]:
    from .errors import ConfigError

    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise ConfigError(f"--reselect-dates: empty date in {text!r}; write YYYY-MM-DD,YYYY-MM-DD")
    return items


def _config(args: argparse.Namespace):
    from .backtest import BacktestConfig

    # the options are spelled as the BacktestConfig fields they set (--driver-window ->
    # driver_window, --min-weight -> min_weight), as in ablation grids
    return BacktestConfig(
        start=args.start, end=args.end, schedule=args.schedule,
        reselect_every=args.reselect_every,
        reselect_dates=(None if not args.reselect_dates
                        else tuple(_date_list(args.reselect_dates))),
        **{name: getattr(args, name) for name in BACKTEST_WINDOWS_AND_BOUNDS},
        groups=args.groups, linear_constraints=args.linear_constraints,
        bounds_policy=args.bounds_policy,
        cost_bps=args.cost_bps, fixed_cost=args.fixed_cost, band=args.band,
        turnover_cap=args.turnover_cap, drift_threshold=args.drift_threshold,
        risk_free=args.risk_free, delisting_returns=args.delisting_returns,
        drift=not args.no_drift, seed=args.seed,
    )


def _run(market, args: argparse.Namespace, out: Path, overwrite: bool, extra: dict,
         config=None) -> int:
    from .backtest import run_backtest, write_run
    from .backtest.runfolder import RUN_MARKER
    from .data.folders import claim_folder

    specs = args.spec if isinstance(args.spec, list) else [args.spec]
    config = config if config is not None else _config(args)
    progress = None if args.quiet else backtest_progress()
    # lock and check --out before computing: a folder we may not replace, or one another run is
    # writing, is refused at once
    with claim_folder(out, marker=RUN_MARKER, overwrite=overwrite):
        t0 = time.perf_counter()
        result = run_backtest(market, specs, config, benchmarks=args.benchmark,
                              progress=progress)
        elapsed = time.perf_counter() - t0
        write_run(result, out, overwrite=overwrite, extra=extra)
    d = result.dates
    print(f"{len(d)} rebalances from {d[0].date()} to {d[-1].date()}, "
          f"{len(result.strategies)} strategies, {elapsed:.1f}s")
    print(_format_table(result.metrics_table()))
    if args.benchmark:
        print(_sharpe_vs_benchmark(result, args.benchmark[0]))
    print(f"run folder: {out}")
    if getattr(args, "report", False):
        from .report.cli import report_after_run

        report_after_run(out, market, result)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from .checks import check_out_path

    # settings and the destination first: a bad one fails before the data is read
    config = _config(args)
    # `--out ""` is refused (exit 2), not read as "no --out"
    out = check_out_path(args.out if args.out is not None
                         else f"runs/backtest-{time.strftime('%Y%m%d-%H%M%S')}")
    market = market_from_args(args)
    return _run(market, args, out, args.force,
                {"data": {"assets": str(args.assets), "drivers": str(args.drivers),
                          "kind": args.kind}}, config)


def cmd_demo(args: argparse.Namespace) -> int:
    from .checks import check_out_path, check_seed
    from .data import synthetic_market

    config = _config(args)
    out = check_out_path(args.out)
    market = synthetic_market(seed=check_seed(args.data_seed, "--data-seed"))
    print(f"synthetic market: {market.assets.shape[1]} assets, {market.candidates.shape[1]} "
          f"candidate drivers, {len(market.dates)} days (true common drivers: "
          f"{', '.join(market.truth.common)})")
    return _run(market, args, out, True, {"data": {"synthetic": market.truth.params}}, config)


def cmd_datasets(args: argparse.Namespace) -> int:
    from .checks import check_out_path, check_seed
    from .data import prices_from_returns, synthetic_market, write_table
    from .data.io import atomic_folder

    check_out_path(args.out)
    market = synthetic_market(seed=check_seed(args.seed, "--seed"), n_assets=args.n_assets,
                              n_days=args.n_days, n_noise=args.n_noise)
    with atomic_folder(Path(args.out), marker="truth.json", overwrite=args.force,
                       what="dataset") as tmp:
        write_table(prices_from_returns(market.assets), tmp / "assets.csv")
        write_table(prices_from_returns(market.candidates), tmp / "drivers.csv")
        (tmp / "truth.json").write_text(json.dumps(market.truth.to_json(), indent=2))
    print(f"wrote {args.out}/assets.csv ({market.assets.shape[1]} assets), drivers.csv "
          f"({market.candidates.shape[1]} candidates), truth.json")
    return 0


def _add_backtest_options(p: argparse.ArgumentParser, *, spec_required: bool) -> None:
    g = p.add_argument_group("strategy")
    if spec_required:
        g.add_argument("--spec", required=True, action="append",
                       help="pipeline spec (repeatable), e.g. 'rccp(k=10)|linear|beta|static|hsp'")
    else:
        g.add_argument("--spec", default=DEMO_SPEC, help=f"pipeline spec (default {DEMO_SPEC})")
    g.add_argument("--benchmark", action="append", default=None,
                   help="benchmark spec (repeatable), e.g. equal, hrp")
    b = p.add_argument_group("backtest")
    b.add_argument("--start", help="first rebalance date considered (YYYY-MM-DD)")
    b.add_argument("--end", help="last date (YYYY-MM-DD)")
    b.add_argument("--schedule", default="monthly",
                   choices=["monthly", "quarterly", "weekly", "drift"],
                   help="rebalance calendar, or drift: when a weight drifts beyond "
                        "--drift-threshold")
    b.add_argument("--drift-threshold", type=float, default=0.05,
                   help="weight drift that triggers a rebalance with --schedule drift "
                        "(default 0.05)")
    b.add_argument("--reselect-every", type=int, default=1,
                   help="re-select drivers every n rebalances (default 1)")
    b.add_argument("--reselect-dates", metavar="D[,D...]",
                   help="re-select drivers at the first rebalance on or after each date "
                        "(e.g. 2020-06-01,2021-01-01,2021-07-01) instead of every n")
    for name, text in WINDOW_HELP.items():
        b.add_argument(f"--{name.replace('_', '-')}", type=int, default=WINDOW_DEFAULTS[name],
                       help=text)
    b.add_argument("--min-weight", default="0", metavar="W|FILE",
                   help="minimum weight per asset, or a CSV asset,min_weight (default 0)")
    b.add_argument("--max-weight", default="1", metavar="W|FILE",
                   help="maximum weight per asset, or a CSV asset,max_weight (default 1; "
                        "assets a file does not list: 0 and 1)")
    add_constraint_options(b)
    b.add_argument("--bounds-policy", default="error", choices=["error", "relax"],
                   help="when the bounds cannot hold for the assets investable at a date: "
                        "error (default) or relax them just enough")
    b.add_argument("--cost-bps", default="0", metavar="BPS|FILE",
                   help="cost per unit traded, bps; or a CSV asset,bps of per-asset costs")
    b.add_argument("--fixed-cost", type=float, default=0.0,
                   help="cost per asset traded, NAV units (the NAV starts at 100)")
    b.add_argument("--band", type=float, default=0.0,
                   help="no-trade band: skip trades smaller than this weight (default 0)")
    b.add_argument("--turnover-cap", type=float, default=None,
                   help="largest one-way turnover per rebalance (default none)")
    b.add_argument("--risk-free", default="0", metavar="RATE|FILE",
                   help="return of cash: annual rate (0.02) or a CSV of daily cash returns; "
                        "Sharpe and Sortino use excess returns (default 0)")
    b.add_argument("--delisting-returns", metavar="FILE",
                   help="CSV asset,return[,date]: return of a position when its asset delists "
                        "(default: sold at the last price)")
    b.add_argument("--no-drift", action="store_true", help="hold weights constant daily")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--quiet", action="store_true", help="no progress display")
    b.add_argument("--report", action="store_true", help="also write RUN/report.html")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``causalfolio`` command."""
    parser = _Parser(prog="causalfolio", description="Causal, sensitivity-based portfolio "
                     "optimization: backtest pipelines given as spec strings.")
    parser.add_argument("--version", action="version", version=f"causalfolio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("plugins", help="list components by stage, provider and parameters")
    p.add_argument("--stage", choices=["drivers", "dynamics", "sensitivities", "forecasting",
                                       "mapping"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("spec", help="validate a spec and print its canonical form")
    p.add_argument("spec")
    p.add_argument("--max-combinations", type=int, metavar="N",
                   help="refuse braces describing more than N specs (default 10000)")
    p.set_defaults(func=cmd_spec)

    p = sub.add_parser("backtest", help="walk-forward backtest on your data")
    add_data_options(p, required=True)
    p.add_argument("--out", help="run folder (default runs/backtest-<time>)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing run folder (one holding run.json; other folders "
                        "and files are never replaced)")
    _add_backtest_options(p, spec_required=True)
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("demo", help="the whole pipeline on the built-in synthetic market")
    p.add_argument("--out", default="runs/demo",
                   help="run folder (default runs/demo); an earlier run folder there is "
                        "replaced, anything else is refused")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic market")
    _add_backtest_options(p, spec_required=False)
    p.set_defaults(func=cmd_demo, min_weight=0.03, max_weight=0.10)

    p = sub.add_parser("datasets", help="write built-in datasets")
    dsub = p.add_subparsers(dest="dataset", required=True, parser_class=_Parser)
    d = dsub.add_parser("synthetic", help="the synthetic market with known truth, as CSV")
    d.add_argument("--out", required=True, help="folder for assets.csv, drivers.csv, truth.json")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--n-assets", type=int, default=14)
    d.add_argument("--n-days", type=int, default=1260)
    d.add_argument("--n-noise", type=int, default=30)
    d.add_argument("--force", action="store_true",
                   help="replace an existing dataset folder (one holding truth.json)")
    d.set_defaults(func=cmd_datasets)

    from .report.cli import add_report_command

    add_report_command(sub)

    from .ablation.cli import add_ablate_parser

    add_ablate_parser(sub)
    return parser


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`~causalfolio.errors.Terminated` (a KeyboardInterrupt), so that it
    takes the Ctrl-C path: an ablation saves its progress, a half-written folder is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _glue_negative_values(argv: Sequence[str]) -> list[str]:
    """``--risk-free -0.01,0`` -> ``--risk-free=-0.01,0``: argparse reads a value starting with
    ``-`` as an option unless it is one plain negative number, so lists (``--band -1,0``) and
    exponents (``-1e-3``) after an option are glued to it (``--`` ends the options)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            return out + list(argv[i:])
        if (tok.startswith("--") and "=" not in tok and i + 1 < len(argv)
                and re.match(r"-\.?\d", argv[i + 1])):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 user error, 1 internal error, 130 Ctrl-C,
    143 SIGTERM; an interrupted ablation keeps what finished and resumes when re-run)."""
    parser = build_parser()
    args = parser.parse_args(_glue_negative_values(sys.argv[1:] if argv is None else argv))
    if getattr(args, "benchmark", "missing") is None:
        args.benchmark = list(DEMO_BENCHMARKS) if args.command == "demo" else []
    try:
        with _sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except Terminated:
        print("causalfolio: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except CausalfolioError as exc:
        if args.debug:
            raise
        # one line, and never megabytes of echoed input
        print(f"causalfolio: error: {shorten(' '.join(str(exc).splitlines()), 2000)}",
              file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        return 0
    except KeyboardInterrupt:
        print("causalfolio: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - never a bare traceback without --debug
        if args.debug:
            raise
        print(f"causalfolio: internal error: {type(exc).__name__}: {exc} (rerun with --debug "
              "for the traceback and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
