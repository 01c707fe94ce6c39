"""The ``causalfolio report`` command and the ``--report`` option of ``backtest``/``demo``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def cmd_report(args: argparse.Namespace) -> int:
    """``causalfolio report RUN_DIR [--out FILE] [--date D ...]`` (a run or an ablation folder)."""
    from ..checks import check_out_path
    from ..errors import DataError
    from .ablation import is_ablation_folder, write_ablation_report
    from .html import write_report

    run = Path(args.run_dir)
    # the destination first (default RUN_DIR/report.html): a location that cannot be written
    # fails before seconds of rendering
    check_out_path(args.out if args.out is not None else run / "report.html", kind="file")
    ablation = is_ablation_folder(run)
    if not ablation and not (run / "run.json").is_file():
        raise DataError(f"{run} is not a causalfolio run folder (no run.json) nor an ablation "
                        "folder (no study.json); give the folder written by 'causalfolio "
                        "backtest/demo/ablate --out'")
    try:
        if ablation:
            path = write_ablation_report(run, args.out)
        else:
            path = write_report(run, args.out, dates=args.date)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        # the files parse but their content is not what causalfolio writes (edited by hand)
        what = "study.json or the result tables" if ablation else "run.json or rebalances/"
        raise DataError(f"{run}: {what} is damaged ({type(exc).__name__}: {exc}); rerun the "
                        f"{'ablation' if ablation else 'backtest'} to rewrite the folder"
                        ) from None
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
