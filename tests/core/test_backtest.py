"""Walk-forward backtester: no look-ahead, simulation arithmetic, schedule, metrics, errors."""

from __future__ import annotations

import attrs
import numpy as np
import pandas as pd
import pytest

import causalfolio as cf
from causalfolio.backtest import (
    BacktestConfig,
    performance,
    rebalance_dates,
    run_backtest,
    simulate,
)
from causalfolio.data import Market
from causalfolio.errors import CausalfolioWarning, ConfigError, DataError

SPEC = "rccp(k=3)|linear(lags=[0,1])|beta|static|hsp"
SMALL = BacktestConfig(driver_window=60, train_window=60, cov_window=40, min_weight=0.05,
                       max_weight=0.4)


def test_no_look_ahead_weights_bit_identical_after_perturbing_the_future(small_market):
    m = small_market
    base = run_backtest(m, SPEC, SMALL, benchmarks=["hrp", "equal"])
    dates = base.dates
    tau = dates[len(dates) // 2]
    rng = np.random.default_rng(0)
    future = m.dates >= tau
    a, c = m.assets.copy(), m.candidates.copy()
    a.loc[future] = rng.normal(0, 0.05, size=a.loc[future].shape)
    c.loc[future] = rng.normal(0, 0.05, size=c.loc[future].shape)
    pert = run_backtest(Market(a, c), SPEC, SMALL, benchmarks=["hrp", "equal"])
    assert pert.dates.equals(dates)
    for label, strat in base.strategies.items():
        w0 = strat.weights.loc[strat.weights.index <= tau].to_numpy()
        w1 = pert.strategies[label].weights.loc[strat.weights.index <= tau].to_numpy()
        assert np.array_equal(w0, w1), label  # bit-identical, not just close
        later0 = strat.weights.loc[strat.weights.index > tau].to_numpy()
        later1 = pert.strategies[label].weights.loc[strat.weights.index > tau].to_numpy()
        if label != "equal":
            assert not np.array_equal(later0, later1), label  # the test can fail
        nav0 = strat.nav.loc[strat.nav.index < tau]
        assert np.array_equal(nav0.to_numpy(), pert.strategies[label].nav.loc[nav0.index])


def test_same_inputs_and_seed_give_the_same_weights(small_market):
    a = run_backtest(small_market, SPEC, SMALL)
    b = run_backtest(small_market, SPEC, SMALL)
    label = cf.parse_spec(SPEC).spec
    assert np.array_equal(a.strategies[label].weights, b.strategies[label].weights)


def test_weights_within_bounds_and_results_kept(small_market):
    res = run_backtest(small_market, SPEC, SMALL, benchmarks=["hrp"])
    s = res.strategies[cf.parse_spec(SPEC).spec]
    w = s.weights.to_numpy()
    assert np.allclose(w.sum(axis=1), 1.0) and w.min() >= 0.05 - 1e-9 and w.max() <= 0.4 + 1e-9
    r = s.rebalances[0]
    assert len(r.selection.names) == 3
    assert r.sensitivities.aggregate.shape == (8, 6)
    assert r.forecast.distance.shape == (8, 8)
    assert r.sensitivities.key and r.selection.key and r.allocation.key
    assert set(r.timings) == {"drivers", "dynamics", "sensitivities", "forecasting", "mapping"}
    # Table 1 diagnostics on every rebalance: the exposure is B'w
    assert r.risk["available"] is True
    exposure = r.sensitivities.aggregate.T @ r.weights.to_numpy()
    assert np.allclose(list(r.risk["exposure"].values()), exposure)


def test_simulate_against_hand_computation():
    idx = pd.bdate_range("2021-01-04", periods=3)
    r = pd.DataFrame([[0.10, -0.05], [0.0, 0.10], [0.02, 0.02]], index=idx, columns=["a", "b"])
    targets = pd.DataFrame([[0.5, 0.5], [0.5, 0.5]], index=idx[[0, 2]], columns=["a", "b"])
    nav, port, turnover = simulate(r, targets, cost_bps=10.0)
    # day 1: buy from cash (traded 1.0), cost 10 bp, return 2.5%
    n1 = 100 * (1 - 0.001) * 1.025
    # drifted weights: a 0.55/1.025, b 0.475/1.025; day 2 return
    wa, wb = 0.55 / 1.025, 0.475 / 1.025
    n2 = n1 * (1 + wb * 0.10)
    # end of day 2 drifted weights, rebalanced back to 0.5/0.5 on day 3
    da, db = wa / (1 + wb * 0.1), wb * 1.1 / (1 + wb * 0.1)
    traded = abs(0.5 - da) + abs(0.5 - db)
    n3 = n2 * (1 - 0.001 * traded) * 1.02
    assert np.allclose(nav.to_numpy(), [100, n1, n2, n3])
    assert np.allclose(turnover.to_numpy(), [0.5, traded / 2])
    held, _, _ = simulate(r, targets.iloc[:1], drift=False)
    assert np.isclose(held.iloc[2], 100 * 1.025 * 1.05)


def test_metrics_closed_forms():
    nav = pd.Series([100.0, 110.0, 99.0, 108.9], index=pd.bdate_range("2021-01-01", periods=4))
    m = performance(nav, 0.2)
    r = np.array([0.1, -0.1, 0.1])
    assert np.isclose(m["total_return"], 0.089)
    assert np.isclose(m["annual_return"], 1.089 ** (252 / 3) - 1)
    assert np.isclose(m["annual_volatility"], r.std(ddof=1) * np.sqrt(252))
    assert np.isclose(m["sharpe"], r.mean() * 252 / (r.std(ddof=1) * np.sqrt(252)))
    assert np.isclose(m["sortino"], r.mean() * 252 / (np.sqrt(0.01 / 3) * np.sqrt(252)))
    assert np.isclose(m["max_drawdown"], -0.1)
    assert np.isclose(m["calmar"], m["annual_return"] / 0.1)
    assert m["turnover"] == 0.2


def test_monthly_schedule_is_first_trading_day():
    cal = pd.bdate_range("2021-01-04", "2021-04-30").drop(pd.Timestamp("2021-03-01"))
    d = rebalance_dates(cal, "monthly")
    assert [x.strftime("%Y-%m-%d") for x in d] == ["2021-02-01", "2021-03-02", "2021-04-01"]
    assert len(rebalance_dates(cal, "weekly")) == 16  # 17 weeks, the first has no history
    explicit = rebalance_dates(cal, ["2021-02-27", "2021-03-15"])
    assert [x.strftime("%Y-%m-%d") for x in explicit] == ["2021-03-02", "2021-03-15"]


def test_driver_reselection_every_n(small_market):
    cfg = BacktestConfig(driver_window=60, train_window=60, cov_window=40, reselect_every=3)
    s = run_backtest(small_market, SPEC, cfg).strategies[cf.parse_spec(SPEC).spec]
    keys = [r.selection.key for r in s.rebalances]
    for k in range(len(keys)):
        assert keys[k] == keys[k - k % 3]
    assert len(set(keys)) == -(-len(keys) // 3)


def test_driver_reselection_on_explicit_dates(small_market):
    """Selection runs at the first rebalance and at the first rebalance on/after each date."""
    cfg0 = BacktestConfig(driver_window=60, train_window=60, cov_window=40)
    dates = run_backtest(small_market, SPEC, cfg0).dates
    # one date between two rebalances, one exactly on a rebalance, one after the last
    between = dates[2] + pd.Timedelta(days=1)
    when = [str(between.date()), str(dates[5].date()), "2099-01-01"]
    cfg = attrs.evolve(cfg0, reselect_dates=when)
    assert cfg.reselects(dates) == [k in (0, 3, 5) for k in range(len(dates))]
    with pytest.warns(CausalfolioWarning, match="2099-01-01 is after the last rebalance"):
        s = run_backtest(small_market, SPEC, cfg).strategies[cf.parse_spec(SPEC).spec]
    keys = [r.selection.key for r in s.rebalances]
    owner = [0, 0, 0, 3, 3] + [5] * (len(keys) - 5)
    assert keys == [keys[o] for o in owner]
    assert len(set(keys)) == 3
    assert cfg.to_json()["reselect_dates"] == when[:1] + when[1:2] + ["2099-01-01"]


@pytest.mark.parametrize("config,error,fragment", [
    (BacktestConfig(min_weight=0.2, max_weight=0.5), ConfigError, "infeasible weight bounds"),
    (BacktestConfig(max_weight=0.1), ConfigError, "infeasible weight bounds"),
    (BacktestConfig(start="2015-02-01"), DataError, "not enough history before start"),
    (BacktestConfig(start="2020-01-01"), ConfigError, "after the last date of the data"),
    (BacktestConfig(driver_window=900), DataError, "the windows need 900"),
])
def test_configuration_errors(small_market, config, error, fragment):
    with pytest.raises(error, match=fragment):
        run_backtest(small_market, SPEC, config)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"min_weight": 0.5, "max_weight": 0.2}, "bounds must satisfy"),
    ({"reselect_every": 0}, "reselect_every"),
    ({"schedule": "daily"}, "unknown schedule"), ({"cost_bps": -1}, "cost_bps"),
    ({"start": "2021-02-01", "end": "2021-01-01"}, "is after end"),
    ({"reselect_dates": "2021-01-01"}, "list of dates"),
    ({"reselect_dates": ["2021-01-01"], "reselect_every": 6}, "not both"),
    ({"reselect_dates": ["2021-13-01"]}, "reselect_dates"),
])
def test_bad_config_values(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        BacktestConfig(**kwargs)


def test_costs_reduce_nav_by_turnover(small_market):
    free = run_backtest(small_market, "hrp", SMALL).strategies["hrp"]
    cfg = attrs.evolve(SMALL, cost_bps=25.0)
    paid = run_backtest(small_market, "hrp", cfg).strategies["hrp"]
    ratio = paid.nav.iloc[-1] / free.nav.iloc[-1]
    assert ratio < 1
    # every rebalance pays 25 bp x traded value (2 x one-way turnover), compounding
    approx = np.prod(1 - 25e-4 * 2 * paid.turnover.to_numpy())
    assert np.isclose(ratio, approx, rtol=5e-3)


def test_diagnostics_can_be_turned_off(small_market):
    cfg = attrs.evolve(SMALL, diagnostics=False)
    on = run_backtest(small_market, SPEC, SMALL).strategies[cf.parse_spec(SPEC).spec]
    off = run_backtest(small_market, SPEC, cfg).strategies[cf.parse_spec(SPEC).spec]
    assert off.rebalances[0].risk == {"available": False, "reason": "diagnostics turned off"}
    assert on.rebalances[0].risk["available"] is True
    assert np.array_equal(on.weights, off.weights)
