"""Report cost against the backtest it reports on (run by hand, not collected by pytest).

    .venv/bin/python tests/benchmarks/bench_report.py

Backtests the demo (default synthetic market, the demo spec with equal and hrp, 3%-10% bounds,
the whole 5 years), writes the run folder, then times the HTML report of that folder (and the
richer one with the market and the in-memory result). Prints seconds, the ratio report / backtest
(the baseline, measured in the same run) and the size of the HTML. Timings are wall-clock and
noisy on a shared machine; the ratio is the number to compare.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from causalfolio.backtest import BacktestConfig, run_backtest, write_run
from causalfolio.cli import DEMO_SPEC
from causalfolio.data import synthetic_market
from causalfolio.report import render_report, write_report


def main() -> None:
    market = synthetic_market(seed=0)
    config = BacktestConfig(min_weight=0.03, max_weight=0.10)
    t0 = time.perf_counter()
    result = run_backtest(market, [DEMO_SPEC], config, benchmarks=["equal", "hrp"])
    t_backtest = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(result, Path(tmp) / "run")
        render_report(run)  # warm-up: imports matplotlib and fonts
        t0 = time.perf_counter()
        path = write_report(run)
        t_report = time.perf_counter() - t0
        t0 = time.perf_counter()
        rich = write_report(run, Path(tmp) / "rich.html", market=market, result=result)
        t_rich = time.perf_counter() - t0
        size, size_rich = path.stat().st_size, rich.stat().st_size
        n_img = path.read_text().count("<img ")
    print(f"demo backtest: {len(result.dates)} rebalances, 3 strategies: {t_backtest:.2f} s "
          "(baseline)")
    print(f"report from the run folder: {t_report:.2f} s = {t_report / t_backtest:.2f} x the "
          f"backtest, {n_img} images, {size / 1e6:.2f} MB")
    print(f"report with market and result: {t_rich:.2f} s = {t_rich / t_backtest:.2f} x the "
          f"backtest, {size_rich / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
