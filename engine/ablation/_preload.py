"""Imported once by the fork server of the ``processes`` executor: loads causalfolio and every
registered plugin there, so that worker processes forked from it start without re-importing."""

from ..backtest import run_backtest  # noqa: F401
from ..registry import get_registry
from . import executors  # noqa: F401

get_registry()
