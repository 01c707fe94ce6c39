"""Shared by the --out folder tests: the CLI in process and backtest arguments (the tiny data
folder is the ``data`` fixture of ``conftest.py``)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from causalfolio.cli import main
from causalfolio.data.folders import folder_lock

OLD = time.time() - 3600  # an hour ago: older than any lock taken now (a killed run's leftovers)


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def backtest_args(data, out, *extra):
    return ["backtest", "--assets", str(data / "assets.csv"), "--drivers",
            str(data / "drivers.csv"), "--spec", "equal", "--out", str(out), "--quiet", *extra]


@contextmanager
def lock_held_elsewhere(path):
    """Hold ``folder_lock(path)`` in another thread for the duration of the block."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with folder_lock(path):
            held.set()
            release.wait(60)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        t.join()
