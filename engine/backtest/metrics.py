"""Performance metrics of a daily NAV series (252 trading days a year, zero risk-free rate)."""

from __future__ import annotations

import numpy as np
import pandas as pd

PERIODS = 252
METRICS: tuple[str, ...] = ("total_return", "annual_return", "annual_volatility", "sharpe",
                            "sortino", "max_drawdown", "calmar", "turnover")


def drawdown(nav: pd.Series) -> pd.Series:
    """Drawdown from the running peak, <= 0 (a fraction)."""
    return nav / nav.cummax() - 1.0


def performance(nav: pd.Series, turnover: float = float("nan")) -> dict[str, float]:
    """Metrics of a NAV series.

    Returns
    -------
    total_return
        NAV_end / NAV_start - 1.
    annual_return
        Compound annual growth rate.
    annual_volatility
        Standard deviation of daily returns times sqrt(252).
    sharpe
        Annualised mean daily return over annualised volatility (risk-free rate 0).
    sortino
        Annualised mean daily return over annualised downside deviation (target 0).
    max_drawdown
        Largest peak-to-trough loss, as a negative fraction.
    calmar
        annual_return / |max_drawdown|.
    turnover
        Mean one-way turnover per rebalance, sum |w_new - w_drifted| / 2 (passed in).
    """
    nav = nav.dropna()
    r = nav.pct_change().dropna()
    n = len(r)
    total = float(nav.iloc[-1] / nav.iloc[0] - 1.0) if len(nav) > 1 else 0.0
    ann = float((1.0 + total) ** (PERIODS / n) - 1.0) if n > 0 and total > -1 else float("nan")
    vol = float(r.std(ddof=1) * np.sqrt(PERIODS)) if n > 1 else float("nan")
    mean = float(r.mean() * PERIODS) if n else float("nan")
    downside = float(np.sqrt((np.minimum(r, 0.0) ** 2).mean()) * np.sqrt(PERIODS)) if n else 0.0
    mdd = float(drawdown(nav).min()) if len(nav) else 0.0
    return {
        "total_return": total,
        "annual_return": ann,
        "annual_volatility": vol,
        "sharpe": mean / vol if vol and vol > 0 else float("nan"),
        "sortino": mean / downside if downside > 0 else float("nan"),
        "max_drawdown": mdd,
        "calmar": ann / abs(mdd) if mdd < 0 else float("nan"),
        "turnover": float(turnover),
    }
