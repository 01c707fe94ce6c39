"""Portfolio accounting between rebalances: weights, cash, costs, delistings, bands and caps.

The book holds asset weights ``w`` (fractions of NAV, negative for short positions) and a cash
weight ``c = 1 - sum(w)`` (short-sale proceeds included). One trading day is one :meth:`Book.step`:

1. a position in an asset without a return that day (delisted: the day after its last price)
   earns the asset's delisting return (0 by default: sold at its last price) and its value moves
   into cash at the end of the day;
2. on a rebalance day the book trades the live assets towards the target: trades smaller than
   the no-trade ``band`` are skipped (not at the first rebalance, which invests from cash), and
   when the one-way turnover exceeds ``turnover_cap`` every trade is scaled down by the same
   factor; the cost (bps of traded value per asset, plus a fixed cost per trade in NAV units) is
   charged to the whole portfolio;
3. assets earn their returns and cash earns the risk-free rate; weights drift with prices.

With no band, no cap, no fixed cost, full investment and a zero risk-free rate the arithmetic is
exactly the one of the fixed-universe simulator (bit for bit: tested).

Ruin: a day that would take the NAV to zero or below (a leveraged or short book losing more than
it holds, or costs larger than the NAV) ends the portfolio. Its return that day is -100%, the NAV
stays at 0 from then on (nothing is held or traded; later returns are 0) and :attr:`Book.ruined`
records the day's position in the simulation. A NAV is never negative.
"""

from __future__ import annotations

import attrs
import numpy as np

CASH_TOL = 1e-12
"""Cash weights smaller than this after a rebalance are rounding noise and set to 0."""


@attrs.define
class Book:
    """Mutable state of one portfolio during a simulation.

    Attributes
    ----------
    n
        Number of assets N.
    cost_bps
        Proportional cost, basis points of traded value: a scalar or an (N,) array per asset.
    fixed_cost
        Cost per asset traded, in NAV units (the NAV starts at 100).
    band
        No-trade band: a trade smaller than this weight (absolute) is skipped. The first
        rebalance (investing from cash) trades fully.
    turnover_cap
        Largest one-way turnover per rebalance (``None``: no cap). The first rebalance (investing
        from cash) is not capped.
    drift
        Weights drift with prices (True) or are reset to the post-trade weights daily (False).
    delisting_return
        (N,) return earned by a position the day its asset stops having prices (default 0).
    nav
        Current NAV.
    """

    n: int
    cost_bps: float | np.ndarray = 0.0
    fixed_cost: float = 0.0
    band: float = 0.0
    turnover_cap: float | None = None
    drift: bool = True
    delisting_return: np.ndarray | None = None
    nav: float = 100.0
    w: np.ndarray = attrs.field(init=False)
    cash: float = attrs.field(init=False, default=1.0)
    held: np.ndarray = attrs.field(init=False)
    held_cash: float = attrs.field(init=False, default=1.0)
    rebalances: int = attrs.field(init=False, default=0)
    ruined: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self.w = np.zeros(self.n)
        self.held = self.w
        if self.delisting_return is None:
            self.delisting_return = np.zeros(self.n)

    def trade(self, target: np.ndarray, alive: np.ndarray) -> tuple[float, float, int]:
        """Trade towards ``target`` (N,) at the start of a day; returns (cost fraction of NAV,
        one-way turnover, number of trades). Assets not ``alive`` (no price) are not traded."""
        w = self.w
        first = self.rebalances == 0
        self.rebalances += 1
        skip = ~alive
        if self.band > 0 and not first:
            skip = skip | (np.abs(target - w) < self.band)
        new = np.where(skip, w, target) if skip.any() else target.copy()
        if self.turnover_cap is not None and not first:
            one_way = 0.5 * np.abs(new - w).sum()
            if one_way > self.turnover_cap:
                new = w + (new - w) * (self.turnover_cap / one_way)
        diff = np.abs(new - w)
        traded = diff.sum()
        if np.ndim(self.cost_bps):
            cost = float((np.asarray(self.cost_bps) * 1e-4) @ diff)
        else:
            cost = self.cost_bps * 1e-4 * traded
        n_trades = int(np.count_nonzero(diff))
        if self.fixed_cost:
            cost += self.fixed_cost * n_trades / self.nav
        self.w = new
        c = 1.0 - new.sum()
        self.cash = 0.0 if abs(c) < CASH_TOL else float(c)
        self.held, self.held_cash = new, self.cash
        return cost, 0.5 * traded, n_trades

    def step(self, r: np.ndarray, rf: float = 0.0, target: np.ndarray | None = None
             ) -> tuple[float, float | None]:
        """Advance one day with asset returns ``r`` (N,; NaN where an asset has no price) and the
        cash return ``rf``; trade to ``target`` first when given.

        Returns
        -------
        The portfolio return of the day after costs, and the one-way turnover when it traded.
        """
        if self.ruined:  # nothing left: nothing held, nothing traded
            return 0.0, (0.0 if target is not None else None)
        alive = ~np.isnan(r)
        turnover = None
        cost = 0.0
        if target is not None:
            cost, turnover, _ = self.trade(target, alive)
        elif not self.drift:
            self.w, self.cash = self.held.copy(), self.held_cash
        w = self.w
        gone = ~alive & (w != 0)
        if alive.all():
            rr = r
        else:
            rr = np.where(alive, r, 0.0)
            if gone.any():
                rr[gone] = self.delisting_return[gone]  # type: ignore[index]  # set in __post_init__
        rp = float(w @ rr)
        if self.cash:
            rp += self.cash * rf
        port = (1.0 - cost) * (1.0 + rp) - 1.0
        # costs above the NAV, or a day that loses it all: the portfolio ends at 0 (the product
        # alone would turn two losses into a gain when both factors are negative)
        if cost >= 1.0 or 1.0 + rp <= 0.0:
            self.ruined = True
            self.nav = 0.0
            self.w = np.zeros(self.n)
            self.cash = 0.0
            self.held, self.held_cash = self.w, 0.0
            return -1.0, turnover
        self.nav = self.nav * (1.0 + port)
        if self.drift and 1.0 + rp > 0:
            self.w = w * (1.0 + rr) / (1.0 + rp)
            if self.cash:
                self.cash = self.cash * (1.0 + rf) / (1.0 + rp)
        if gone.any():  # delisted positions become cash at the end of the day
            self.cash = self.cash + float(self.w[gone].sum())
            self.w = self.w.copy()
            self.w[gone] = 0.0
            if not self.drift:
                self.held = self.held.copy()
                self.held_cash = self.held_cash + float(self.held[gone].sum())
                self.held[gone] = 0.0
        return port, turnover

    def drifted_beyond(self, target: np.ndarray, threshold: float) -> bool:
        """True when some weight differs from ``target`` by more than ``threshold``."""
        return bool(np.abs(self.w - target).max(initial=0.0) > threshold)
