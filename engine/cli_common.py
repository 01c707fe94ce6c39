"""What the command-line commands share: data options, progress lines and window defaults.

``causalfolio backtest`` and ``causalfolio ablate`` read the same data files with the same
options, print progress the same way and document the same window defaults; each of those has its
one home here. Building a parser imports only the standard library and
:mod:`causalfolio.defaults`: commands import numpy/pandas when they run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .defaults import COV_WINDOW, DRIVER_WINDOW, TRAIN_WINDOW
from .errors import ConfigError

#: Help text of the three window options (trading days, default from :mod:`causalfolio.defaults`).
WINDOW_HELP: dict[str, str] = {
    "driver_window": f"driver-selection window, trading days (default {DRIVER_WINDOW})",
    "train_window": f"dynamics training window, trading days (default {TRAIN_WINDOW})",
    "cov_window": f"covariance window, trading days (default {COV_WINDOW})",
}
WINDOW_DEFAULTS: dict[str, int] = {"driver_window": DRIVER_WINDOW, "train_window": TRAIN_WINDOW,
                                   "cov_window": COV_WINDOW}

#: Settings spelled the same in ``BacktestConfig``, ablation grids (TOML ``[backtest]``, ``--x``
#: axes) and the command line (``--driver-window`` etc.).
BACKTEST_WINDOWS_AND_BOUNDS = ("driver_window", "train_window", "cov_window", "min_weight",
                               "max_weight")

#: Group-constraint settings: shared by every combination of an ablation (not axes), spelled
#: as in ``BacktestConfig`` (``--groups FILE``, ``--linear-constraints "Tech <= 0.3"``).
CONSTRAINT_SETTINGS = ("groups", "linear_constraints")


def add_constraint_options(group: Any) -> None:
    """Add ``--groups FILE`` and ``--linear-constraints TEXT`` (repeatable) to a parser/group."""
    group.add_argument("--groups", metavar="FILE",
                       help="CSV asset,group: the group(s) of each asset, for "
                            "--linear-constraints (one row per asset and group)")
    group.add_argument("--linear-constraints", action="append", metavar="TEXT",
                       help="linear constraint on assets and groups, e.g. 'Tech <= 0.3' or "
                            "'Energy + Utilities >= 0.1' (repeatable)")


KINDS = ("prices", "returns")
ALIGNS = ("inner", "assets")
NAN_POLICIES = ("error", "ffill", "drop")


def add_data_options(group: Any, *, required: bool) -> None:
    """Add ``--assets --drivers --kind --transform --align --nan-policy`` to a parser or group.

    Parameters
    ----------
    group
        An :class:`argparse.ArgumentParser` or argument group.
    required
        Whether ``--assets`` and ``--drivers`` are required (``backtest``) or optional
        (``ablate``, which also accepts ``--synthetic``).
    """
    group.add_argument("--assets", required=required, help="wide CSV/Parquet of asset prices")
    group.add_argument("--drivers", required=required,
                       help="wide CSV/Parquet of candidate drivers")
    group.add_argument("--kind", default="prices", choices=list(KINDS))
    group.add_argument("--transform", action="append",
                       help="candidate transform: one of pct|log|diff|none for all, or NAME=T "
                            "(repeatable)")
    group.add_argument("--align", default="inner", choices=list(ALIGNS))
    group.add_argument("--nan-policy", default="error", choices=list(NAN_POLICIES))


def parse_transforms(items: Sequence[str] | None) -> dict[str, str] | str | None:
    """``--transform`` values as :meth:`Market.from_files` takes them.

    One value without ``=`` applies to every candidate; ``NAME=T`` values give per-series
    transforms; none gives ``None`` (the default transform).
    """
    if not items:
        return None
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--transform expects NAME=pct|log|diff|none or one transform for "
                              f"all, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def market_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~causalfolio.data.Market` read from the data options of ``args``; prints one
    line per data set saying what loading kept (``Market.loading``)."""
    from .data import Market

    market = Market.from_files(args.assets, args.drivers, kind=args.kind,
                               transforms=parse_transforms(args.transform), align=args.align,
                               nan_policy=args.nan_policy)
    for line, path in zip(market.loading, (args.assets, args.drivers), strict=False):
        print(f"{path}: {line}")  # what loading kept, and why it cut what it cut
    return market


def progress_line(stream: TextIO | None = None, *, width: int,
                  steps: int) -> Callable[[str, int, int], None]:
    """A writer of progress lines: rewritten in place on a terminal, else ``steps`` lines in all.

    Parameters
    ----------
    stream
        Where to write (default ``sys.stderr`` at call time).
    width
        Padding of the line on a terminal (characters), so a shorter line hides a longer one.
    steps
        Off a terminal (a log file), a line is written only when ``steps * done / total`` moves to
        the next integer, and at the end.

    Returns
    -------
    callable
        ``write(text, done, total)``.
    """
    stream = stream or sys.stderr
    tty = stream.isatty()
    state = {"last": -1}

    def write(text: str, done: int, total: int) -> None:
        if tty:
            stream.write(f"\r{text:<{width}}" + ("\n" if done == total else ""))
            stream.flush()
        else:
            q = int(steps * done / max(total, 1))
            if q != state["last"] or done == total:
                state["last"] = q
                stream.write(text + "\n")

    return write


def backtest_progress(stream: TextIO | None = None) -> Callable[[int, int, str], None]:
    """The ``progress`` callback of :func:`~causalfolio.backtest.run_backtest` for the CLI:
    rebalances done, elapsed and estimated remaining seconds (stderr by default)."""
    import time

    write = progress_line(stream, width=70, steps=4)
    t0 = time.perf_counter()

    def show(done: int, total: int, label: str) -> None:
        pct = int(100 * done / total)
        elapsed = time.perf_counter() - t0
        eta = elapsed / done * (total - done)
        write(f"rebalance {done}/{total} ({pct}%) {elapsed:.0f}s elapsed, ~{eta:.0f}s left",
              done, total)

    return show


def ablation_progress(stream: TextIO | None = None) -> Callable[[dict[str, Any]], None]:
    """The ``progress`` callback of :func:`~causalfolio.ablation.run_ablation` for the CLI:
    combinations done, failed and remaining, elapsed and estimated remaining seconds."""
    write = progress_line(stream, width=90, steps=10)

    def show(p: dict[str, Any]) -> None:
        write(f"ablation {p['done']}/{p['total']} done, {p['failed']} failed, {p['remaining']} "
              f"remaining, {p['elapsed']:.0f}s elapsed, ~{p['eta']:.0f}s left",
              p["done"], p["total"])

    return show
