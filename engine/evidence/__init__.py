"""Statistical evidence over return series: paired tests, multiple testing, overfitting.

Pure functions of daily simple-return arrays (no runner, no I/O). Every function returns plain,
JSON-able numbers so that the ablation can store them in ``evidence.json``.

- :func:`sharpe_diff`, :func:`variance_ratio`: Ledoit & Wolf (2008, 2011) studentised circular
  block-bootstrap tests of a Sharpe-ratio difference and of a variance ratio on one market.
- :func:`volatility_diff`: log variance ratio and volatility difference with an
  equally-weighted-cosine (fixed-b) long-run variance, robust to separate persistent
  volatility paths (the comparisons' volatility test).
- :func:`metric_diff`: paired stationary-bootstrap interval of the difference of any metric
  (e.g. :func:`max_drawdown`).
- :func:`paired_over_markets`: paired t / Wilcoxon tests of per-market values of one metric.
- :func:`paired_over_replicas`: the difference on the data with a standard error from
  stationary-bootstrap replicas of it (replicas are not independent markets).
- :func:`holm`: Holm-adjusted p-values; :func:`format_p` prints a p-value (``< 1e-4``).
- :func:`spa`, :func:`stepm`, :func:`mcs`: Hansen's SPA, Romano-Wolf StepM and the Model
  Confidence Set (``arch.bootstrap``).
- :func:`deflated_sharpe`, :func:`pbo`: Deflated Sharpe Ratio and Probability of Backtest
  Overfitting.
"""

from .multiple import holm, mcs, spa, stepm
from .overfitting import deflated_sharpe, pbo
from .paired import paired_over_markets, paired_over_replicas
from .result import TestResult, format_p
from .sharpe import (
    BLOCK_RULE,
    auto_block_days,
    block_length,
    max_drawdown,
    metric_diff,
    sharpe_diff,
    variance_ratio,
)
from .variance import volatility_diff

__all__ = ["BLOCK_RULE", "TestResult", "auto_block_days", "block_length", "deflated_sharpe",
           "format_p", "holm", "max_drawdown", "mcs", "metric_diff", "paired_over_markets",
           "paired_over_replicas", "pbo", "sharpe_diff", "spa", "stepm", "variance_ratio",
           "volatility_diff"]
