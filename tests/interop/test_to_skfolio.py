"""BacktestResult.to_skfolio(): a backtest as skfolio portfolios whose returns are its returns.

Known answers: the Population's returns are the backtest's NAV returns to 1e-12 with costs,
cash, a risk-free rate, listings, delistings, a band, a turnover cap and daily-reset weights;
without costs or cash they are skfolio's own drifting Portfolio on the asset returns.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skfolio", reason="to_skfolio needs skfolio (pip install "
                                      "'causalfolio[skfolio]'; it is in the dev extra)")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

from skfolio.population import Population  # noqa: E402
from skfolio.portfolio import MultiPeriodPortfolio, Portfolio  # noqa: E402

import causalfolio as cf  # noqa: E402
from causalfolio.errors import DataError  # noqa: E402

WIN = {"driver_window": 60, "train_window": 60, "cov_window": 40}
SPECS = ["equal", "hrp"]  # full pipelines: docs/interop.md


@pytest.fixture(scope="module")
def changing(small_market):
    """The small market with a delisting (asset 1 after day 250) and a listing (asset 2)."""
    a = small_market.assets.copy()
    a.iloc[250:, 1] = np.nan
    a.iloc[:150, 2] = np.nan
    return cf.Market(a, small_market.candidates)


def _nav_returns(strategy):
    return strategy.nav.pct_change().iloc[1:].to_numpy()


@pytest.mark.parametrize("settings", [
    {"cost_bps": 25.0, "risk_free": 0.03, "delisting_returns": {"A01": -0.3}},
    {"cost_bps": 10.0, "band": 0.05, "drift": False},
    {"cost_bps": 10.0, "turnover_cap": 0.1, "schedule": "weekly", "fixed_cost": 0.01},
])
def test_population_returns_are_the_backtests_nav_returns(changing, settings):
    assert changing.assets.columns[1] == "A01"
    result = cf.run_backtest(changing, SPECS, cf.BacktestConfig(**WIN, **settings))
    pop = result.to_skfolio()
    assert isinstance(pop, Population) and len(pop) == len(SPECS)
    for mpp, (label, s) in zip(pop, result.strategies.items(), strict=True):
        assert isinstance(mpp, MultiPeriodPortfolio) and mpp.name == label
        assert np.abs(np.asarray(mpp.returns) - _nav_returns(s)).max() <= 1e-12
        assert list(mpp.observations) == list(s.returns.index)
        assert [p.name for p in mpp.portfolios] == [str(d.date()) for d in s.weights.index]
        # the same measure both ways: skfolio reports drawdowns as positive numbers
        assert mpp.max_drawdown == pytest.approx(-s.metrics["max_drawdown"], abs=1e-12)
        one = s.to_skfolio()  # the same for one strategy
        assert np.array_equal(np.asarray(one.returns), np.asarray(mpp.returns))
    gone = changing.assets.index[250]  # A01's first day without a price
    held = [p for p in pop[0].portfolios if gone in p.observations][0]
    x = held.X["A01"]
    if "delisting_returns" in settings:  # its delisting return that day, then cash (the rate)
        assert x.loc[gone] < -0.25 and (x.loc[x.index > gone] > 0).all()
    if "band" in settings:  # the band keeps the proceeds in cash: a cash position
        assert "cash" in pop[0].portfolios[-1].assets


def test_without_costs_or_cash_it_is_skfolios_own_drifting_portfolio(small_market):
    """Fully invested, no costs: each holding period is skfolio's Portfolio(weight_drift=True)
    on the asset returns themselves, and the weights are the targets."""
    result = cf.run_backtest(small_market, ["equal", "hrp"], cf.BacktestConfig(**WIN))
    for label, s in result.strategies.items():
        mpp = s.to_skfolio()
        assert "cash" not in mpp.portfolios[0].assets
        days = s.returns.index
        starts = [days.get_loc(d) for d in s.weights.index] + [len(days)]
        theirs = []
        for k, p in enumerate(mpp.portfolios):
            assert np.allclose(p.weights, s.weights.iloc[k].to_numpy(), rtol=0, atol=1e-15)
            x = small_market.assets.loc[days[starts[k]:starts[k + 1]]]
            # the first day of a period holds the targets: X is the asset returns
            assert np.allclose(p.X.iloc[0].to_numpy(), x.iloc[0].to_numpy(), rtol=0, atol=1e-15)
            own = Portfolio(X=x, weights=s.weights.iloc[k].to_numpy(), weight_drift=True)
            theirs.append(np.asarray(own.returns))
        assert np.abs(np.concatenate(theirs) - np.asarray(mpp.returns)).max() <= 1e-14, label


def test_to_skfolio_errors(small_market, changing):
    result = cf.run_backtest(small_market, "equal", cf.BacktestConfig(**WIN))
    s = result.strategies["equal"]
    with pytest.raises(DataError, match="does not reproduce its returns .* give the market"):
        s.to_skfolio(market=changing)
    bare = type(s)(label=s.label, pipeline=s.pipeline, nav=s.nav, returns=s.returns,
                   weights=s.weights, turnover=s.turnover, rebalances=s.rebalances,
                   metrics=s.metrics)
    with pytest.raises(DataError, match="carries no market .* pass market= and config="):
        bare.to_skfolio()
    short = cf.Market(small_market.assets.iloc[:300], small_market.candidates.iloc[:300])
    with pytest.raises(DataError, match="has no returns on .* days of the backtest"):
        s.to_skfolio(market=short)
