"""The monograph's US experiments (§9.1-§9.4) rerun in spirit on real public data.

A 14-stock US large-cap portfolio, a candidate pool built from the S&P 500 index, factor ETFs,
NASDAQ, WTI crude, the VIX and the 6 bundled S&P 500 stocks outside the portfolio (whatever covers
the window), monthly rebalancing on the first trading day, weights within 3%-10%, HSP variants
against 1/N, HRP and mean-variance benchmarks. Data: skfolio and arch (``pip install
'causalfolio[data]'``), read from files inside those packages: no download.

Usage::

    python examples/us_portfolio.py --period short            # 2020-06 .. 2021-12
    python examples/us_portfolio.py --period long --report    # 2015-06 .. 2021-12, HTML report
    python examples/us_portfolio.py --period two_decades      # 2002-12 .. 2022-12
    python examples/us_portfolio.py --period crisis           # 2007 .. 2009
    python examples/us_portfolio.py --period short --dynamics kernel  # nonlinear, by finite diff.
    python examples/us_portfolio.py --period short --dynamics fnn   # the monograph's nets (slow)
    python examples/us_portfolio.py --period short --quick    # CI size: 4 months, 2 variants
    python examples/us_portfolio.py --period two_decades --pool changing  # every series while
                                                                          # it exists

Where this differs from the monograph: its pool held about 1,200 Bloomberg series (FX, rates,
macro, credit, commodities, smart-beta and sector ETFs, crypto, implied vols) and its US
portfolio other stocks (Table 3); here the pool has 7 to 12 public series, so k is smaller, and
its results (Tables 4-8) are claims about that data, not targets for this one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from causalfolio.backtest import BacktestConfig, run_backtest, write_run
from causalfolio.data.real import PERIODS, real_market
from causalfolio.pipeline import Windows, parse_spec
from causalfolio.registry import get_registry

FNN = "fnn(hidden=[[8],[16]],windows=[60,125],epochs=150)"
KERNEL = "sklearn(estimator='kernel_ridge')"
DYNAMICS = {"linear": ("linear", "beta"), "kernel": (KERNEL, "fd"), "fnn": (FNN, "aad")}
MONOGRAPH_RESELECT = {"short": ("2020-06-01", "2021-01-01", "2021-07-01")}
"""Driver reselection dates of the monograph's short-term study (Table 12); other periods
reselect at every monthly rebalance (§9.3)."""
BENCHMARKS = {
    "1/N": "equal",
    "HRP": "hrp",
    "MVO max Sharpe": "mvo(objective='max_sharpe')",
    "MVO min vol": "mvo",
    "MVO quadratic utility": "mvo(objective='quadratic_utility')",
}


def variants(k: int, dynamics: str, quick: bool) -> dict[str, str]:
    """HSP variants named as in the monograph: driver window, lags, OPT/SELECT, forecast."""
    model, sens = DYNAMICS[dynamics]

    def dyn(lags: str) -> str:
        if model == "linear":
            return f"linear(lags={lags})"
        if model.startswith("sklearn("):
            return model.replace("sklearn(", f"sklearn(lags={lags},", 1)
        return model.replace("fnn(", f"fnn(lag_sets=[{lags}],", 1)

    select = "max_asset_corr=0.9,max_r2=0.8"
    out = {
        "HSP 6m LAG0 OPT": f"rccp(k={k},window=126)|{dyn('[0]')}|{sens}|static|hsp",
        "HSP 6m LAG1 OPT": f"rccp(k={k},window=126,lags=[1])|{dyn('[1]')}|{sens}|static|hsp",
        "HSP 6m LAG1 SELECT": (f"rccp(k={k},window=126,lags=[1],{select})|{dyn('[1]')}|{sens}"
                               "|static|hsp"),
        "HSP 6m LAG0&1 SELECT": (f"rccp(k={k},window=126,lags=[0,1],{select})|{dyn('[0,1]')}|"
                                 f"{sens}|static|hsp"),
        "HSP 12m LAG0&1 SELECT": (f"rccp(k={k},window=252,lags=[0,1],{select})|"
                                  f"{dyn('[0,1]')}|{sens}|static|hsp"),
        "HSP 6m LAG0 OPT path (Vasicek)": (f"rccp(k={k},window=126)|{dyn('[0]')}|{sens}|"
                                           "vasicek(aggregate='cumulative')|hsp"),
        "HSP 6m LAG0 OPT psd (literal §9)": (f"rccp(k={k},window=126)|{dyn('[0]')}|{sens}|"
                                             "static|hsp(psd=True)"),
    }
    if dynamics != "linear":  # out-of-sample sensitivities differ only for nonlinear models
        out["HSP 6m In OPT"] = out["HSP 6m LAG0 OPT"]
        out["HSP 6m Out OPT"] = (f"rccp(k={k},window=126)|{dyn('[0]')}|"
                                 f"{sens}(sample='out')|static|hsp")
        del out["HSP 6m LAG0 OPT"]
    if quick:
        first = "HSP 6m LAG0 OPT" if dynamics == "linear" else "HSP 6m In OPT"
        out = {n: out[n] for n in (first, "HSP 6m LAG0 OPT path (Vasicek)")}
    return out


def run(period: str, *, quick: bool = False, dynamics: str = "linear", out: str | None = None,
        report: bool = False, k: int | None = None, quiet: bool = False,
        pool: str = "full", reselect_dates: str | tuple[str, ...] | None = "monograph") -> dict:
    """Run one period; returns table (metrics with names), facts, run_dir, names, k, result.

    ``reselect_dates``: ``"monograph"`` (the monograph's dates for the short period, every
    rebalance otherwise), ``None`` (every rebalance) or explicit dates."""
    t0 = time.perf_counter()
    p = PERIODS[period]
    start, end = p.start, p.end
    if quick:  # the last four months of the window
        start = str((pd.Timestamp(end) - pd.DateOffset(months=4)).date())
    market, facts = real_market(period, start=start, end=end, pool=pool)
    n_cand = len(facts["candidates"])
    k = k or max(3, n_cand // 2)
    names = variants(k, dynamics, quick)
    mappings = {e.name for e in get_registry().entries("mapping")}
    bench = {n: s for n, s in BENCHMARKS.items() if s.split("(")[0] in mappings}
    if quick:
        bench = {n: bench[n] for n in ("1/N", "HRP")}
    reselect = MONOGRAPH_RESELECT.get(period) if reselect_dates == "monograph" else reselect_dates
    config = BacktestConfig(start=start, end=end, schedule="monthly", bounds=(0.03, 0.10),
                            windows=Windows(drivers=126, train=125, cov=63), seed=0,
                            reselect_dates=reselect)
    result = run_backtest(market, list(names.values()), config, benchmarks=list(bench.values()))
    table = result.metrics_table()
    label_of = {parse_spec(s).spec: n for n, s in {**names, **bench}.items()}
    table.insert(0, "strategy", [label_of.get(i, i) for i in table.index])
    table = with_intervals(table, result, reference=parse_spec(bench["1/N"]).spec)
    run_dir = None
    if out:
        run_dir = write_run(result, out, overwrite=True,
                            extra={"data": {"real": facts}, "example": {
                                "period": period, "quick": quick, "dynamics": dynamics,
                                "names": {v: n for n, v in {**names, **bench}.items()}}})
        if report:
            from causalfolio.report.html import write_report

            write_report(run_dir, market=market, result=result,
                         title=f"US portfolio, {p.note}")
    if not quiet:
        print(f"{period}: {p.note}; NAV {result.dates[0].date()} .. {end}, "
              f"{len(result.dates)} rebalances, k={k}, {len(facts['assets'])} assets, "
              f"{n_cand} candidates ({', '.join(facts['candidates'])}); left out: "
              f"{', '.join(f'{c} ({why})' for c, why in facts['dropped'].items()) or 'none'}")
        print(format_table(table))
        print(f"{time.perf_counter() - t0:.1f}s" + (f", run folder {run_dir}" if run_dir else ""))
    return {"table": table, "facts": facts, "run_dir": run_dir, "names": names, "k": k,
            "result": result}


def with_intervals(table: pd.DataFrame, result, *, reference: str) -> pd.DataFrame:
    """Add each strategy's Sharpe difference to ``reference`` (1/N): the Ledoit-Wolf
    studentised block-bootstrap interval and p-value, Holm-adjusted over the strategies."""
    from causalfolio.evidence import holm, sharpe_diff

    ref = result.strategies[reference].returns
    rows = {}
    for label, s in result.strategies.items():
        if label == reference:
            continue
        both = pd.concat([s.returns, ref], axis=1, join="inner").dropna()
        r = sharpe_diff(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy(), n_boot=1000,
                        seed=0)
        rows[label] = (r.estimate, r.ci_low, r.ci_high, r.p_value)
    out = table.copy()
    for j, col in enumerate(("sharpe_diff", "sharpe_diff_low", "sharpe_diff_high", "p_value")):
        out[col] = [rows[i][j] if i in rows else float("nan") for i in out.index]
    p = out["p_value"].to_numpy()
    ok = ~pd.isna(p)
    out["p_holm"] = float("nan")
    out.loc[ok, "p_holm"] = holm(p[ok].astype(float))
    return out


def format_table(table) -> str:
    """Markdown table: strategy, total return, annual volatility, Sharpe, max drawdown,
    turnover, and the Sharpe difference to 1/N with its 95% interval and Holm p-value."""
    rows = ["| strategy | total return | annual vol | Sharpe | max drawdown | turnover | "
            "Sharpe - 1/N [95% CI] | Holm p |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for _, r in table.iterrows():
        diff = ("reference" if pd.isna(r["sharpe_diff"]) else
                f"{r['sharpe_diff']:+.2f} [{r['sharpe_diff_low']:+.2f}, "
                f"{r['sharpe_diff_high']:+.2f}]")
        holm_p = "" if pd.isna(r["p_holm"]) else f"{r['p_holm']:.2f}"
        rows.append(f"| {r['strategy']} | {100 * r['total_return']:.1f}% | "
                    f"{100 * r['annual_volatility']:.1f}% | {r['sharpe']:.2f} | "
                    f"{100 * r['max_drawdown']:.1f}% | {100 * r['turnover']:.1f}% | {diff} | "
                    f"{holm_p} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--period", default="short", choices=list(PERIODS))
    ap.add_argument("--dynamics", default="linear", choices=list(DYNAMICS),
                    help="linear|beta (fast), kernel: sklearn kernel ridge|fd (nonlinear, "
                         "time-varying sensitivities) or fnn|aad (the monograph's nets, slow)")
    ap.add_argument("--k", type=int, help="drivers selected (default: half the pool, >= 3)")
    ap.add_argument("--quick", action="store_true", help="CI size: the last 4 months, 2 variants")
    ap.add_argument("--pool", default="full", choices=["full", "changing"],
                    help="candidates: full (only those covering the whole window) or changing "
                         "(every series while it exists)")
    ap.add_argument("--reselect-dates", default="monograph",
                    help="driver reselection: 'monograph' (2020-06-01, 2021-01-01, 2021-07-01 "
                         "for the short period, every rebalance otherwise), 'every', or "
                         "D,D,... (default monograph)")
    ap.add_argument("--out", help="run folder to write (e.g. runs/us-short)")
    ap.add_argument("--report", action="store_true", help="write OUT/report.html (needs --out)")
    args = ap.parse_args(argv)
    if args.report and not args.out:
        ap.error("--report needs --out")
    reselect = {"monograph": "monograph", "every": None}.get(
        args.reselect_dates, tuple(d.strip() for d in args.reselect_dates.split(",")))
    run(args.period, quick=args.quick, dynamics=args.dynamics, out=args.out, report=args.report,
        k=args.k, pool=args.pool, reselect_dates=reselect)
    return 0


if __name__ == "__main__":
    from causalfolio.errors import CausalfolioError

    try:
        sys.exit(main())
    except CausalfolioError as exc:  # one line, like the causalfolio command
        print(f"{Path(__file__).name}: error: {exc}", file=sys.stderr)
        sys.exit(2)
