"""Performance metrics of a daily NAV series (252 trading days a year; Sharpe and Sortino ratios on
returns in excess of the risk-free rate, zero unless given)."""

from __future__ import annotations

import numpy as np
import pandas as pd

PERIODS = 252
METRICS: tuple[str, ...] = ("total_return", "annual_return", "annual_volatility", "sharpe",
                            "sortino", "max_drawdown", "calmar", "turnover", "gross_exposure")


def drawdown(nav: pd.Series) -> pd.Series:
    """Drawdown from the running peak, <= 0 (a fraction)."""
    return nav / nav.cummax() - 1.0


def performance(nav: pd.Series, turnover: float = float("nan"), *,
                risk_free: pd.Series | float | None = None,
                gross_exposure: float = float("nan")) -> dict[str, float]:
    """Metrics of a NAV series.

    Parameters
    ----------
    nav
        Daily NAV.
    turnover
        Mean one-way turnover per rebalance (reported as is).
    risk_free
        Daily return of cash (a series on the NAV's dates after the first, or a constant daily
        return); ``None``: zero.

    Returns
    -------
    total_return
        NAV_end / NAV_start - 1.
    annual_return
        Compound annual growth rate.
    annual_volatility
        Standard deviation of daily returns times sqrt(252).
    sharpe
        Annualised mean daily excess return (over the risk-free rate) over the annualised
        standard deviation of daily excess returns. NaN (with ``sortino``) for a portfolio that
        lost everything (a NAV ending at 0: ruin, see :mod:`causalfolio.backtest.accounting`),
        whose ``total_return`` and ``annual_return`` are -100%.
    sortino
        Annualised mean daily excess return over the annualised downside deviation of daily
        excess returns (target: the risk-free rate).
    max_drawdown
        Largest peak-to-trough loss, as a negative fraction.
    calmar
        annual_return / |max_drawdown|.
    turnover
        Mean one-way turnover per rebalance, sum |w_new - w_drifted| / 2 (passed in).
    gross_exposure
        Mean gross exposure sum |w| of the target weights over the rebalances (passed in; 1 for
        a fully invested long-only portfolio, more with shorts).
    """
    nav = nav.dropna()
    r = nav.pct_change().dropna()
    n = len(r)
    total = float(nav.iloc[-1] / nav.iloc[0] - 1.0) if len(nav) > 1 else 0.0
    ann = (float((1.0 + total) ** (PERIODS / n) - 1.0) if n > 0 and total > -1
           else -1.0 if n > 0 else float("nan"))  # a total loss (ruin: the NAV is 0) is -100%
    vol = float(r.std(ddof=1) * np.sqrt(PERIODS)) if n > 1 else float("nan")
    x = r
    if risk_free is not None:
        rf = (risk_free.reindex(r.index) if isinstance(risk_free, pd.Series)
              else pd.Series(float(risk_free), index=r.index))
        x = r - rf.to_numpy(float)
    xvol = vol if x is r else (float(x.std(ddof=1) * np.sqrt(PERIODS)) if n > 1
                               else float("nan"))
    mean = float(x.mean() * PERIODS) if n else float("nan")
    downside = float(np.sqrt((np.minimum(x, 0.0) ** 2).mean()) * np.sqrt(PERIODS)) if n else 0.0
    mdd = float(drawdown(nav).min()) if len(nav) else 0.0
    ruined = len(nav) > 0 and not nav.iloc[-1] > 0  # lost everything: no ratio describes it
    return {
        "total_return": total,
        "annual_return": ann,
        "annual_volatility": vol,
        "sharpe": mean / xvol if xvol and xvol > 0 and not ruined else float("nan"),
        "sortino": mean / downside if downside > 0 and not ruined else float("nan"),
        "max_drawdown": mdd,
        "calmar": ann / abs(mdd) if mdd < 0 else float("nan"),
        "turnover": float(turnover),
        "gross_exposure": float(gross_exposure),
    }
