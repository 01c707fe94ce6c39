"""Changing universes: listings, delistings, candidates that come and go, bounds per date, no
look-ahead across universe changes, delisting returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causalfolio as cf
from causalfolio.backtest import BacktestConfig, run_backtest
from causalfolio.backtest.universe import Universe
from causalfolio.data import Market
from causalfolio.errors import ConfigError, DataError
from causalfolio.pipeline import Windows

SPEC = "rccp(k=3)|linear(lags=[0,1])|beta|static|hsp"
WIN = Windows(drivers=60, train=60, cov=40)
CFG = BacktestConfig(windows=WIN, bounds=(0.0, 0.5))


def staggered(m: Market, *, listed: dict[str, int] | None = None,
              delisted: dict[str, int] | None = None, cand_from: dict[str, int] | None = None,
              cand_until: dict[str, int] | None = None) -> Market:
    """The market with returns set to NaN before a listing position / after a delisting one."""
    a, c = m.assets.copy(), m.candidates.copy()
    for name, pos in (listed or {}).items():
        a.iloc[:pos, a.columns.get_loc(name)] = np.nan
    for name, pos in (delisted or {}).items():
        a.iloc[pos + 1:, a.columns.get_loc(name)] = np.nan
    for name, pos in (cand_from or {}).items():
        c.iloc[:pos, c.columns.get_loc(name)] = np.nan
    for name, pos in (cand_until or {}).items():
        c.iloc[pos + 1:, c.columns.get_loc(name)] = np.nan
    return Market(a, c, m.truth)


@pytest.fixture(scope="module")
def changing(small_market):
    m = small_market
    a0, a1 = m.assets.columns[:2]
    noise = [n for n in m.candidates.columns if n not in m.truth.common]
    return staggered(m, listed={a0: 150}, delisted={a1: 300},
                     cand_from={noise[0]: 180}, cand_until={noise[1]: 220})


def test_staggered_universe_backtests_without_cutting(changing):
    res = run_backtest(changing, SPEC, CFG, benchmarks=["equal", "hrp"])
    a0, a1 = changing.assets.columns[:2]
    cal = changing.dates
    need = 60 + 1  # linear(lags=[0,1]) trains on 60 days and needs one lag
    for label, s in res.strategies.items():
        w = s.weights
        assert np.allclose(w.sum(axis=1), 1.0), label
        pos = cal.get_indexer(w.index)
        # outside its life (or without a full window) an asset has weight 0
        assert (w.loc[pos < 150 + need, a0] == 0).all(), label
        assert (w.loc[pos > 300, a1] == 0).all(), label
        assert (w.loc[pos >= 150 + need + 25, a0] > 0).any(), label  # it enters
        rec = {u["date"]: u for u in s.universe}
        later = [d for d, p in zip(w.index, pos, strict=True) if p > 300]
        assert rec[later[0]]["assets"] == 7 and a1 in rec[later[0]]["left"]
    eq = res.strategies["equal"].weights
    n_live = (eq > 0).sum(axis=1)
    assert np.allclose(eq.max(axis=1), 1 / n_live)  # equal weights over the investable set


def test_investable_set_is_a_full_window_and_a_price_on_the_date():
    idx = pd.bdate_range("2021-01-04", periods=8)
    a = pd.DataFrame({"x": [np.nan, 0.01, 0.02, 0.01, 0.0, 0.01, np.nan, np.nan],
                      "y": np.full(8, 0.01)}, index=idx)
    u = Universe(a, None, need=3)
    assert u.investable(3).tolist() == [False, True]  # x has returns on 1..2 only before 3
    assert u.investable(4).tolist() == [True, True]   # 1, 2, 3 before and 4 itself
    assert u.investable(5).tolist() == [True, True]
    assert u.investable(6).tolist() == [False, True]  # no price on 6: not investable
    c = pd.DataFrame({"d": [0.1, 0.2, 0.3, np.nan, np.nan, 0.1, 0.2, 0.3]}, index=idx)
    uc = Universe(a, c, need=3)
    assert uc.pool(3).tolist() == [True]   # 0, 1, 2: nothing on the date is read
    assert uc.pool(4).tolist() == [False]
    assert uc.pool(8).tolist() == [True]


def _same_before(base, pert, tau):
    for label, s in base.strategies.items():
        p = pert.strategies[label]
        w0 = s.weights.loc[s.weights.index <= tau]
        w1 = p.weights.loc[p.weights.index <= tau]
        assert w0.index.equals(w1.index), label
        assert np.array_equal(w0.to_numpy(), w1.to_numpy()), label  # bit-identical
        nav0 = s.nav.loc[s.nav.index <= tau]
        assert np.array_equal(nav0.to_numpy(), p.nav.loc[nav0.index].to_numpy()), label


def test_no_look_ahead_a_listing_or_delisting_after_tau_changes_nothing_before(small_market):
    m = small_market
    a0, a1 = m.assets.columns[:2]
    noise = [n for n in m.candidates.columns if n not in m.truth.common]
    base = run_backtest(m, SPEC, CFG, benchmarks=["hrp"])
    tau = base.dates[len(base.dates) // 2]
    t = m.dates.get_loc(tau)
    # an asset delisted the day after tau and a candidate leaving after tau
    pert = staggered(m, delisted={a1: t}, cand_until={noise[0]: t + 3})
    moved = run_backtest(pert, SPEC, CFG, benchmarks=["hrp"])
    _same_before(base, moved, tau)
    # an asset and a candidate listed after tau (at different dates): neither exists before tau
    late = staggered(m, listed={a0: t + 5}, cand_from={noise[1]: t + 2})
    later = staggered(m, listed={a0: t + 40}, cand_from={noise[1]: t + 30})
    r1 = run_backtest(late, SPEC, CFG, benchmarks=["hrp"])
    r2 = run_backtest(later, SPEC, CFG, benchmarks=["hrp"])
    _same_before(r1, r2, tau)
    # the test can fail: after tau the universes differ, and so do the weights
    label = cf.parse_spec(SPEC).spec
    w_base = base.strategies[label].weights
    w_moved = moved.strategies[label].weights
    assert not np.array_equal(w_base.loc[w_base.index > tau].to_numpy(),
                              w_moved.loc[w_moved.index > tau].to_numpy())


def test_a_delisted_position_goes_to_cash_and_is_reinvested(small_market):
    m = small_market
    a1 = m.assets.columns[1]
    base = run_backtest(m, "equal", CFG)
    dates = base.dates
    t = m.dates.get_loc(dates[3]) + 5  # delist mid-month: last price 5 days after a rebalance
    gone = staggered(m, delisted={a1: t})
    res = run_backtest(gone, "equal", CFG).strategies["equal"]
    rec = {u["date"]: u for u in res.universe}
    # the drifted weight of a1 at its last price became cash, reinvested at the next rebalance
    s = base.strategies["equal"]
    assert rec[dates[4]]["cash_before"] > 0.05 and rec[dates[3]]["cash_before"] == 0.0
    assert res.weights.loc[dates[4], a1] == 0 and np.isclose(res.weights.loc[dates[4]].sum(), 1)
    assert rec[dates[5]]["cash_before"] == 0.0
    # NAV: up to the delisting day the two runs agree; on the day after the last price the
    # position earns 0 (sold at the last price) instead of its return
    d = m.dates[t + 1]
    assert np.array_equal(res.nav.loc[:m.dates[t]].to_numpy(), s.nav.loc[:m.dates[t]].to_numpy())
    w = _weight_at(m, s, a1, m.dates[t])
    r1 = m.assets.loc[d, a1]
    expected = (1 + s.returns.loc[d] - w * r1) - 1  # the position earns 0 instead of r1
    assert np.isclose(res.returns.loc[d], expected, rtol=1e-12, atol=1e-15)


def test_delisting_returns_from_a_file(small_market, tmp_path):
    m = small_market
    a1 = m.assets.columns[1]
    t = m.dates.get_loc(run_backtest(m, "equal", CFG).dates[3]) + 5
    gone = staggered(m, delisted={a1: t})
    sold = run_backtest(gone, "equal", CFG).strategies["equal"]
    f = tmp_path / "delist.csv"
    f.write_text(f"asset,return\n{a1},-0.5\n")
    cfg = BacktestConfig(windows=WIN, bounds=CFG.bounds, delisting_returns=str(f))
    crash = run_backtest(gone, "equal", cfg).strategies["equal"]
    d, prev = m.dates[t + 1], m.dates[t]
    # same data up to the last price; on the next day the position (its drifted weight times
    # the NAV) loses 50% instead of being sold at the last price
    assert crash.nav.loc[prev] == sold.nav.loc[prev]
    w = _weight_at(gone, sold, a1, prev)
    assert np.isclose(sold.nav.loc[d] - crash.nav.loc[d], 0.5 * w * sold.nav.loc[prev],
                      rtol=1e-9)
    nxt = [u for u in crash.universe if u["date"] > d][0]
    assert nxt["cash_before"] > 0  # the remaining half is cash until the next rebalance
    bad = tmp_path / "bad.csv"
    bad.write_text("asset,return\nNOPE,-0.3\n")
    with pytest.raises(DataError, match="delisting returns name assets that are not in the data"):
        run_backtest(gone, "equal", BacktestConfig(windows=WIN, delisting_returns=str(bad)))


def _weight_at(market, strat, asset, day):
    """Drifted weight of ``asset`` at the close of ``day`` (from the last target, by hand)."""
    w = strat.weights.loc[strat.weights.index <= day].iloc[-1]
    start = strat.weights.index[strat.weights.index <= day][-1]
    r = market.assets.loc[start:day].fillna(0.0)
    grown = w * (1 + r).prod()
    return float(grown[asset] / grown.sum())


def test_bounds_per_date_error_names_the_date_or_relax(small_market):
    m = small_market
    a = m.assets.columns
    few = staggered(m, listed={a[0]: 200, a[1]: 200, a[2]: 200, a[3]: 200, a[4]: 200})
    cfg = BacktestConfig(windows=WIN, bounds=(0.0, 0.25))  # 3 assets cannot sum to 1
    with pytest.raises(ConfigError, match=r"on \d{4}-\d\d-\d\d: infeasible weight bounds .*"
                                          r"for 3 assets.*bounds-policy relax"):
        run_backtest(few, "equal", cfg)
    relaxed = BacktestConfig(windows=WIN, bounds=(0.0, 0.25), bounds_policy="relax")
    s = run_backtest(few, "equal", relaxed).strategies["equal"]
    first = s.universe[0]
    assert first["assets"] == 3 and first["bounds_relaxed"] is True
    assert np.isclose(first["bounds"][1], 1 / 3)  # widened just enough
    last = s.universe[-1]
    assert last["assets"] == 8 and last["bounds_relaxed"] is False and last["bounds"] == [0, 0.25]
    assert s.weights.iloc[-1].max() <= 0.25 + 1e-12


def test_data_layer_keeps_lives_and_applies_the_nan_policy_inside_them():
    idx = pd.bdate_range("2021-01-04", periods=6, name="date")
    a = pd.DataFrame({"x": [np.nan, np.nan, 10, 11, 12, 11.5],
                      "y": [20, 21, 20.5, 21, np.nan, np.nan],
                      "z": [5, 5.1, np.nan, 5.2, 5.3, 5.4]}, index=idx)
    c = pd.DataFrame({"d": [1, 1.1, 1.2, 1.1, 1.3, 1.25]}, index=idx)
    with pytest.raises(DataError, match="'z' is missing a value on 2021-01-06"):
        Market.from_frames(a, c)
    m = Market.from_frames(a, c, nan_policy="ffill")
    x, y, z = (m.assets[k] for k in "xyz")
    assert np.isnan(x.iloc[0]) and np.isnan(x.iloc[1]) and np.isclose(x.iloc[2], 0.1)
    assert np.isclose(y.iloc[2], 21 / 20.5 - 1) and np.isnan(y.iloc[3]) and np.isnan(y.iloc[4])
    assert z.iloc[1] == 0.0 and np.isclose(z.iloc[2], 5.2 / 5.1 - 1)  # the gap carried forward
    dropped = Market.from_frames(a, c, nan_policy="drop")
    assert pd.Timestamp("2021-01-06") not in dropped.dates and len(dropped.dates) == 4
    with pytest.raises(DataError, match="'w' has no value"):
        Market.from_frames(a.assign(w=np.nan), c, nan_policy="ffill")
