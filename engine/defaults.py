"""Default backtest settings shared by the Python API, the command line and ablation grids.

Imports nothing, so the command line can print them in ``--help`` without loading numpy or pandas.
"""

from __future__ import annotations

#: Driver-selection window, trading days (six months of daily data).
DRIVER_WINDOW = 126
#: Dynamics training window, trading days (125, the longest in monograph §9.1).
TRAIN_WINDOW = 125
#: Covariance window of the risk mapping, trading days (three months).
COV_WINDOW = 63
#: Long-only weight bounds per asset.
MIN_WEIGHT = 0.0
MAX_WEIGHT = 1.0

#: Where an ablation's combinations run: in-process, local processes (the default) or Dask.
EXECUTORS: tuple[str, ...] = ("serial", "processes", "dask")

#: Resampling schemes of real data in an ablation (``--resample``).
RESAMPLERS: tuple[str, ...] = ("stationary",)
#: Replicas of a resampled market when ``--replicas`` is not given (replica 0 is the data).
DEFAULT_REPLICAS = 20
#: Fewest stationary-bootstrap replicas accepted without ``--allow-few-replicas``.
MIN_REPLICAS = 20
