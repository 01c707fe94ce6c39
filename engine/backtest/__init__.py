"""Walk-forward backtesting: schedule, settings, runner, metrics and run folders."""

from .config import BacktestConfig
from .metrics import METRICS, drawdown, performance
from .runfolder import load_run, write_run
from .runner import BacktestResult, StrategyResult, plan_dates, run_backtest, simulate
from .schedule import FREQUENCIES, rebalance_dates

__all__ = ["BacktestConfig", "BacktestResult", "FREQUENCIES", "METRICS", "StrategyResult",
           "drawdown", "load_run", "performance", "plan_dates", "rebalance_dates", "run_backtest",
           "simulate", "write_run"]
