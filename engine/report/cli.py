"""The ``causalfolio report`` command and the ``--report`` option of ``backtest``/``demo``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def cmd_report(args: argparse.Namespace) -> int:
    """``causalfolio report RUN_DIR [--out FILE] [--date D ...]`` (a run or an ablation folder)."""
    from ..errors import DataError
    from .ablation import is_ablation_folder, write_ablation_report
    from .html import write_report

    run = Path(args.run_dir)
    if is_ablation_folder(run):
        path = write_ablation_report(run, args.out)
        print(f"report: {path}")
        return 0
    if not (run / "run.json").is_file():
        raise DataError(f"{run} is not a causalfolio run folder (no run.json) nor an ablation "
                        "folder (no study.json); give the folder written by 'causalfolio "
                        "backtest/demo/ablate --out'")
    path = write_report(run, args.out, dates=args.date)
    print(f"report: {path}")
    return 0


def add_report_command(sub: Any) -> argparse.ArgumentParser:
    """Add the ``report`` sub-command to the CLI's sub-parsers."""
    p = sub.add_parser("report", help="write a self-contained HTML report of a run or ablation "
                       "folder")
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="run folder written by backtest or demo, or an ablation folder")
    p.add_argument("--out", help="HTML file (default RUN_DIR/report.html)")
    p.add_argument("--date", action="append",
                   help="rebalance date (YYYY-MM-DD) for the sensitivity map and dendrogram "
                        "(repeatable; default first, middle and last)")
    p.set_defaults(func=cmd_report)
    return p


def report_after_run(out: Path, market: Any, result: Any) -> Path:
    """Write RUN_DIR/report.html right after a backtest, with the in-memory extras (driver
    volatilities for risk attribution, forecast paths)."""
    from .html import write_report

    path = write_report(out, market=market, result=result)
    print(f"report: {path}")
    return path
