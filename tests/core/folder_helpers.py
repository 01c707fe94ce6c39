"""Shared by the --out folder tests: the CLI in process and backtest arguments (the tiny data
folder is the ``data`` fixture of ``conftest.py``)."""

from __future__ import annotations

import time

from causalfolio.cli import main

OLD = time.time() - 3600  # an hour ago: older than any lock taken now (a killed run's leftovers)


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def backtest_args(data, out, *extra):
    return ["backtest", "--assets", str(data / "assets.csv"), "--drivers",
            str(data / "drivers.csv"), "--spec", "equal", "--out", str(out), "--quiet", *extra]
