"""A backtest as skfolio portfolios: one ``MultiPeriodPortfolio`` per strategy.

skfolio's ``Portfolio`` computes its returns as ``weights @ X`` per day. A causalfolio book
drifts with prices, holds cash, pays costs at rebalances and turns delisted positions into cash,
so the asset returns themselves would not give the backtest's returns. Each holding period
(from a rebalance to the day before the next) becomes one ``Portfolio`` whose

* ``weights`` are the weights held just after the trade (the targets, unless a no-trade band,
  a turnover cap or an asset without a price on the date kept a position elsewhere), with a
  ``cash`` column when the book ever holds cash, and
* ``X`` holds each position's realised return per unit of its starting weight: on day t, the
  return of what the position holds (the asset while it has prices, its delisting return on
  the day it leaves, cash afterwards) times the growth of that position since the rebalance
  divided by the growth of the portfolio (with ``drift=False`` the weights are reset daily and
  the factor is 1). The rebalance's cost is charged to every position in proportion to its
  weight on the day it is paid.

So ``weights @ X`` is the backtest's daily return after costs (to rounding, ~1e-16), every
skfolio measure (CVaR, CDaR, Ulcer index, tracking error...) reads the backtest's own returns,
and ``X``'s columns are the positions, so composition plots show the weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .accounting import Book
from .inputs import daily_risk_free

if TYPE_CHECKING:
    from ..data.market import Market
    from .config import BacktestConfig
    from .runner import StrategyResult

CASH = "cash"
"""Name of the cash position (``cash_`` when an asset is called ``cash``)."""

TOLERANCE = 1e-12
"""Largest difference between the replayed and the stored daily returns (the same arithmetic
gives the same bits; anything larger means the market is not the one the backtest ran on)."""


def _replay(strategy: StrategyResult, market: Market, config: BacktestConfig
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, np.ndarray, float]]]:
    """Replay the book: the daily asset returns, the cash return per day, the delisting
    returns and, per rebalance, its day position and the asset and cash weights held just after
    the trade."""
    from .runner import _per_asset

    days = strategy.returns.index
    missing = days.difference(market.dates)
    if len(missing):
        raise DataError(f"to_skfolio: the market has no returns on {len(missing)} days of the "
                        f"backtest (first {missing[0].date()}); give the market it ran on")
    r = np.array(market.assets.loc[days, strategy.weights.columns].to_numpy(float), dtype=float,
                 order="C")
    costs, delist = _per_asset(config, market)
    rf_src = config.risk_free_series
    rf = daily_risk_free(rf_src if rf_src is not None else float(config.risk_free), days)
    book = Book(n=r.shape[1], cost_bps=costs, fixed_cost=config.fixed_cost, band=config.band,
                turnover_cap=config.turnover_cap, drift=config.drift,
                delisting_return=delist)
    targets = strategy.weights.to_numpy(float)
    pos = {d: k for k, d in enumerate(strategy.weights.index)}
    port = np.empty(len(days))
    held: list[tuple[int, np.ndarray, float]] = []
    for t, day in enumerate(days):
        k = pos.get(day)
        port[t], _ = book.step(r[t], float(rf[t]), None if k is None else targets[k])
        if k is not None:
            held.append((t, np.array(book.held, dtype=float), float(book.held_cash)))
    worst = float(np.max(np.abs(port - strategy.returns.to_numpy(float)), initial=0.0))
    if not worst <= TOLERANCE:
        raise DataError(f"to_skfolio: replaying {strategy.label!r} on the market given does not "
                        f"reproduce its returns (largest difference {worst:.2e}); give the "
                        "market and settings the backtest ran on")
    return r, rf, np.asarray(delist, dtype=float), held


def _period_returns(r: np.ndarray, rf: np.ndarray, port: np.ndarray, w: np.ndarray,
                    delist: np.ndarray, drift: bool) -> np.ndarray:
    """Realised return per unit of starting weight of each position (N + 1 with cash) over one
    holding period: ``w @ x`` equals ``port`` day by day (``w`` sums to 1)."""
    n_days, n = r.shape
    x = np.empty((n_days, n + 1))
    growth = np.ones(n + 1)  # value of each position per unit of its starting weight
    cashed = np.zeros(n, dtype=bool)  # the position's asset left: it now holds cash
    for t in range(n_days):
        alive = ~np.isnan(r[t])
        y = np.empty(n + 1)
        y[:n] = np.where(cashed, rf[t], np.where(alive, np.nan_to_num(r[t]), delist))
        y[n] = rf[t]
        if drift:
            total = float(w @ growth)
            x[t] = growth * y / total if total > 0 else y
            growth = growth * (1.0 + y)
        else:
            x[t] = y
        x[t] += port[t] - float(w @ x[t])  # the rebalance's cost, and rounding
        cashed |= ~alive
    return x


def strategy_to_skfolio(strategy: StrategyResult, market: Market | None = None,
                        config: BacktestConfig | None = None, **portfolio_params: Any) -> Any:
    """One strategy of a backtest as a skfolio ``MultiPeriodPortfolio`` (see the module doc).

    Parameters
    ----------
    strategy
        A :class:`~causalfolio.backtest.StrategyResult` from ``run_backtest``.
    market, config
        The market and settings it ran on (default: those ``run_backtest`` kept on it).
    **portfolio_params
        Passed to every ``Portfolio`` and to the ``MultiPeriodPortfolio`` (``risk_free_rate``,
        ``annualization_factor``, ``compounded``...). ``compounded`` defaults to True: the
        backtest's NAV compounds.

    Returns
    -------
    skfolio.portfolio.MultiPeriodPortfolio
        Named by the strategy's spec, one ``Portfolio`` per holding period (named by its first
        day); its ``returns`` are ``strategy.returns``.

    Raises
    ------
    DataError
        No market (a strategy read back from a run folder: pass ``market=``), or a market on
        which replaying the book does not give the strategy's returns.
    """
    from skfolio.portfolio import MultiPeriodPortfolio, Portfolio

    market = market if market is not None else strategy.market
    config = config if config is not None else strategy.config
    if market is None or config is None:
        raise DataError(f"to_skfolio: {strategy.label!r} carries no market (it was not made by "
                        "run_backtest in this session); pass market= and config=")
    r, rf, delist, held = _replay(strategy, market, config)
    assets = [str(c) for c in strategy.weights.columns]
    cash = CASH if CASH not in assets else f"{CASH}_"
    with_cash = any(c != 0.0 for _, _, c in held)
    port = strategy.returns.to_numpy(float)
    days = strategy.returns.index
    params = {"compounded": True, **portfolio_params}
    portfolios = []
    for k, (start, w, _) in enumerate(held):
        stop = held[k + 1][0] if k + 1 < len(held) else len(days)
        weights: np.ndarray = np.append(w, 1.0 - w.sum())  # cash: what the assets leave
        x = _period_returns(r[start:stop], rf[start:stop], port[start:stop], weights, delist,
                            config.drift)
        cols = [*assets, cash]
        if not with_cash:
            x, weights, cols = x[:, :-1], weights[:-1], assets
            x += (port[start:stop] - x @ weights)[:, None]  # sum(w) = 1 to 1e-12: rounding
        x[:, :len(assets)][np.isnan(r[start:stop]) & (w == 0.0)] = np.nan  # no price, no position
        frame = pd.DataFrame(x, index=days[start:stop], columns=cols)
        portfolios.append(Portfolio(X=frame, weights=weights, name=str(days[start].date()),
                                    **params))
    return MultiPeriodPortfolio(portfolios=portfolios, name=strategy.label, **params)


def backtest_to_skfolio(strategies: dict[str, StrategyResult], market: Market | None = None,
                        config: BacktestConfig | None = None, **portfolio_params: Any) -> Any:
    """Every strategy of a backtest as a skfolio ``Population`` of ``MultiPeriodPortfolio``
    (in run order); see :func:`strategy_to_skfolio`."""
    from skfolio.population import Population

    return Population([strategy_to_skfolio(s, market, config, **portfolio_params)
                       for s in strategies.values()])
