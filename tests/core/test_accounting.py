"""Accounting: cash, delistings, listings, costs (proportional, per asset, fixed), the risk-free
rate, no-trade bands, turnover caps and drift-triggered rebalancing, against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causalfolio.backtest import BacktestConfig, performance, run_backtest, simulate
from causalfolio.cli import main
from causalfolio.errors import ConfigError, DataError
from causalfolio.pipeline import Windows

WIN = Windows(drivers=60, train=60, cov=40)


def reference_simulate(returns, targets, *, cost_bps=0.0, drift=True, start_value=100.0):
    """The fixed-universe simulator as it was before cash, bands and delistings (verbatim)."""
    r = np.array(returns.to_numpy(float), dtype=float, order="C")
    tgt = targets.reindex(columns=returns.columns).to_numpy(float)
    pos = {d: k for k, d in enumerate(targets.index)}
    nav = np.empty(len(r) + 1)
    nav[0] = start_value
    port = np.empty(len(r))
    turnover = np.zeros(len(targets))
    w = np.zeros(r.shape[1])
    target = w
    for t, day in enumerate(returns.index):
        cost = 0.0
        k = pos.get(day)
        if k is not None:
            target = tgt[k]
            traded = np.abs(target - w).sum()
            turnover[k] = 0.5 * traded
            cost = cost_bps * 1e-4 * traded
            w = target.copy()
        elif not drift:
            w = target.copy()
        rp = float(w @ r[t])
        port[t] = (1.0 - cost) * (1.0 + rp) - 1.0
        nav[t + 1] = nav[t] * (1.0 + port[t])
        if drift and 1.0 + rp > 0:
            w = w * (1.0 + r[t]) / (1.0 + rp)
    return nav, port, turnover


@pytest.mark.parametrize("drift", [True, False])
def test_band_zero_equals_the_fixed_universe_nav_bit_for_bit(drift):
    rng = np.random.default_rng(3)
    idx = pd.bdate_range("2020-01-01", periods=300)
    r = pd.DataFrame(rng.normal(0.0004, 0.012, (300, 6)), index=idx, columns=list("abcdef"))
    dates = idx[::21]
    t = rng.dirichlet(np.ones(6), size=len(dates))
    targets = pd.DataFrame(t, index=dates, columns=r.columns)
    nav, port, turnover = simulate(r, targets, cost_bps=12.5, drift=drift, band=0.0)
    ref_nav, ref_port, ref_to = reference_simulate(r, targets, cost_bps=12.5, drift=drift)
    assert np.array_equal(nav.to_numpy(), ref_nav)
    assert np.array_equal(port.to_numpy(), ref_port)
    assert np.array_equal(turnover.to_numpy(), ref_to)
    # the test can fail: a band changes the NAV
    banded, _, _ = simulate(r, targets, cost_bps=12.5, drift=drift, band=0.02)
    assert not np.array_equal(banded.to_numpy(), ref_nav)


def test_hand_computed_delisting_listing_costs_and_cash_to_the_cent():
    """Three assets: b delists after day 1 (delisting return -30%), c lists on day 2 (first
    return day 3); 10 bp costs, 0.05 per trade, cash earns 1 bp a day."""
    idx = pd.bdate_range("2021-03-01", periods=6)
    nan = np.nan
    r = pd.DataFrame({"a": [0.10, 0.00, -0.05, 0.02, 0.01, -0.01],
                      "b": [-0.10, 0.20, nan, nan, nan, nan],
                      "c": [nan, nan, nan, 0.05, -0.02, 0.03]}, index=idx)
    targets = pd.DataFrame({"a": [0.5, 0.6], "b": [0.5, 0.0], "c": [0.0, 0.4]},
                           index=idx[[0, 4]])
    nav, port, turnover = simulate(r, targets, cost_bps=10.0, fixed_cost=0.05,
                                   risk_free=0.0001, delisting_return=np.array([0.0, -0.3, 0.0]))
    # day 0: invest 100 from cash: trades a +50, b +50; cost 10 bp x 100 + 2 x 0.05 = 0.20
    a, b = 0.5 * (100 - 0.20), 0.5 * (100 - 0.20)           # 49.90 each
    a, b = a * 1.10, b * 0.90                               # 54.89, 44.91
    n0 = a + b                                              # 99.80
    # day 1
    a, b = a * 1.00, b * 1.20                               # 54.89, 53.892
    n1 = a + b                                              # 108.782
    # day 2: b has no price: it earns its delisting return and becomes cash
    a, cash = a * 0.95, b * (1 - 0.30)                      # 52.1455, 37.7244
    n2 = a + cash                                           # 89.8699
    # day 3: cash earns 1 bp
    a, cash = a * 1.02, cash * 1.0001                       # 53.18841, 37.72817244
    n3 = a + cash                                           # 90.91658244
    # day 4: rebalance to a 60%, c 40% of NAV: trades a +1.36..., c +36.37...: the cash
    traded = abs(0.6 * n3 - a) + abs(0.4 * n3 - 0.0)         # 37.72817244
    cost = 10e-4 * traded + 2 * 0.05                         # 0.13772817244
    after = n3 - cost                                        # 90.77885426756
    a, c = 0.6 * after * 1.01, 0.4 * after * 0.98
    n4 = a + c
    # day 5
    a, c = a * 0.99, c * 1.03
    n5 = a + c
    expected = [100.0, n0, n1, n2, n3, n4, n5]
    assert np.allclose(nav.to_numpy(), expected, rtol=1e-13, atol=0)
    assert [round(v, 2) for v in nav] == [100.0, 99.80, 108.78, 89.87, 90.92, 90.60, 91.11]
    assert np.isclose(n2, 89.8699) and np.isclose(n3, 90.91658244) and np.isclose(traded,
                                                                                 37.72817244)
    assert np.allclose(turnover.to_numpy(), [0.5, 0.5 * traded / n3])


def test_band_skips_small_trades_and_cap_scales_turnover():
    idx = pd.bdate_range("2021-01-04", periods=3)
    r = pd.DataFrame({"a": [0.0, 0.0, 0.0], "b": [0.0, 0.0, 0.0]}, index=idx)
    targets = pd.DataFrame({"a": [0.5, 0.505, 0.8], "b": [0.5, 0.495, 0.2]}, index=idx)
    _, _, to = simulate(r, targets, band=0.01)
    assert np.allclose(to.to_numpy(), [0.5, 0.0, 0.3])  # the 0.005 trade is skipped
    _, _, to = simulate(r, targets, band=0.6)
    assert np.allclose(to.to_numpy(), [0.5, 0.0, 0.0])  # the first rebalance trades fully
    nav, _, to = simulate(r, targets, turnover_cap=0.1)
    assert np.allclose(to.to_numpy(), [0.5, 0.005, 0.1])  # the first (from cash) is not capped
    assert np.allclose(nav.to_numpy(), 100.0)
    # per-asset costs: 10 bp on a, 50 bp on b, first day trades 0.5 of each
    nav, _, _ = simulate(r.iloc[:1], targets.iloc[:1], cost_bps=np.array([10.0, 50.0]))
    assert np.isclose(nav.iloc[-1], 100 * (1 - 0.5 * 10e-4 - 0.5 * 50e-4))


def test_risk_free_rate_is_earned_by_cash_and_sharpe_uses_excess_returns(small_market, tmp_path):
    from causalfolio.data import Market

    a = small_market.assets.copy()
    a.iloc[200:, 1] = np.nan  # a delisting: cash until the next rebalance
    m = Market(a, small_market.candidates)
    rf = 0.03
    cfg = BacktestConfig(windows=WIN, risk_free=rf)
    s = run_backtest(m, "equal", cfg).strategies["equal"]
    no_rf = run_backtest(m, "equal", BacktestConfig(windows=WIN)).strategies["equal"]
    assert s.nav.iloc[-1] > no_rf.nav.iloc[-1]
    daily = (1 + rf) ** (1 / 252) - 1
    r = s.nav.pct_change().dropna()
    ex = r - daily
    assert np.isclose(s.metrics["sharpe"], ex.mean() / ex.std(ddof=1) * np.sqrt(252))
    downside = np.sqrt((np.minimum(ex, 0) ** 2).mean())
    assert np.isclose(s.metrics["sortino"], ex.mean() / downside * np.sqrt(252))
    zero = performance(s.nav)
    assert zero["sharpe"] > s.metrics["sharpe"]
    # cash earns the rate: a portfolio held entirely in cash grows at it
    idx = pd.bdate_range("2021-01-04", periods=5)
    ret = pd.DataFrame({"a": np.full(5, 0.01)}, index=idx)
    nav, _, _ = simulate(ret, pd.DataFrame({"a": [0.0]}, index=idx[:1]), risk_free=daily)
    assert np.isclose(nav.iloc[-1], 100 * (1 + daily) ** 5)
    # a daily file must cover the backtest
    f = tmp_path / "rf.csv"
    f.write_text("date,rf\n2015-06-01,0.0001\n2015-07-01,0.0001\n")
    with pytest.raises(DataError, match="risk-free series .* covers 2015-06-01 to 2015-07-01"):
        run_backtest(m, "equal", BacktestConfig(windows=WIN, risk_free=str(f)))
    days = pd.bdate_range("2014-01-01", "2017-01-01")
    pd.DataFrame({"date": days, "rf": daily}).to_csv(f, index=False)
    by_file = run_backtest(m, "equal", BacktestConfig(windows=WIN, risk_free=str(f))
                           ).strategies["equal"]
    assert np.allclose(by_file.nav.to_numpy(), s.nav.to_numpy(), rtol=1e-12)
    assert "daily series" in BacktestConfig(risk_free=str(f)).to_json()["risk_free_used"]
    assert BacktestConfig(risk_free=0.02).to_json()["risk_free_used"] == "2% a year"


def test_drift_schedule_rebalances_when_a_weight_drifts_beyond_the_threshold(small_market):
    m = small_market
    cfg = BacktestConfig(windows=WIN, schedule="drift", drift_threshold=0.01)
    s = run_backtest(m, "equal", cfg).strategies["equal"]
    days = s.returns.index
    assert len(s.weights) > 3
    # replay: after each day, the drifted weights; a rebalance follows the first day beyond 1%
    r = m.assets.loc[days].to_numpy()
    w = np.zeros(r.shape[1])
    expected, trigger = [], True
    for t in range(len(days)):
        if trigger:
            expected.append(days[t])
            w = np.full(r.shape[1], 1 / r.shape[1])
            target = w.copy()
        w = w * (1 + r[t]) / (1 + w @ r[t])
        trigger = np.abs(w - target).max() > 0.01
    assert list(s.weights.index) == expected
    monthly = run_backtest(m, "equal", BacktestConfig(windows=WIN)).strategies["equal"]
    assert len(monthly.weights) != len(s.weights)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"band": -0.01}, "band must be a number in"), ({"turnover_cap": 0}, "turnover_cap"),
    ({"fixed_cost": -1}, "fixed_cost"), ({"bounds_policy": "loose"}, "unknown bounds_policy"),
    ({"risk_free": "no-such-file.csv"}, "file not found"), ({"drift_threshold": 0},
                                                             "drift_threshold"),
    ({"schedule": "daily"}, "unknown schedule"),
])
def test_bad_settings(kwargs, fragment):
    with pytest.raises((ConfigError, DataError), match=fragment):
        BacktestConfig(**kwargs)


def _files(tmp_path):
    from causalfolio.data import prices_from_returns, synthetic_market, write_table

    m = synthetic_market(n_assets=5, n_days=300, n_noise=4, n_proxies=1, n_colliders=1, seed=2)
    write_table(prices_from_returns(m.assets), tmp_path / "a.csv")
    write_table(prices_from_returns(m.candidates), tmp_path / "c.csv")
    return ["backtest", "--assets", str(tmp_path / "a.csv"), "--drivers", str(tmp_path / "c.csv"),
            "--spec", "equal", "--cov-window", "40", "--driver-window", "40", "--train-window",
            "40", "--quiet"]


@pytest.mark.parametrize("extra,fragment", [
    (["--band", "-0.01"], "band must be a number"),
    (["--delisting-returns", "DELIST"], "delisting returns name assets that are not in the data"),
    (["--risk-free", "RF"], "risk-free series"),
    (["--cost-bps", "COSTS"], "no cost for assets"),
])
def test_cli_bad_inputs_are_one_line_exit_2(tmp_path, capsys, extra, fragment):
    (tmp_path / "delist.csv").write_text("asset,return\nZZZ,-0.2\n")
    (tmp_path / "rf.csv").write_text("date,rf\n2015-03-02,0.0001\n2015-04-01,0.0001\n")
    (tmp_path / "costs.csv").write_text("asset,bps\nA00,5\n")
    files = {"DELIST": "delist.csv", "RF": "rf.csv", "COSTS": "costs.csv"}
    extra = [str(tmp_path / files[e]) if e in files else e for e in extra]
    out = tmp_path / "run"
    code = main([*_files(tmp_path), "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and fragment in err, err
    assert not out.exists()


def test_cli_runs_with_the_new_options(tmp_path, capsys):
    import json

    out = tmp_path / "run"
    code = main([*_files(tmp_path), "--out", str(out), "--band", "0.01", "--risk-free", "0.02",
                 "--turnover-cap", "0.2", "--fixed-cost", "0.01", "--cost-bps", "5",
                 "--bounds-policy", "relax", "--schedule", "drift", "--drift-threshold", "0.03"])
    assert code == 0, capsys.readouterr().err
    cfg = json.loads((out / "run.json").read_text())["config"]
    assert cfg["band"] == 0.01 and cfg["risk_free_used"] == "2% a year"
    assert cfg["schedule"] == "drift" and cfg["turnover_cap"] == 0.2
    recs = json.loads(next((out / "rebalances").iterdir()).read_text())["rebalances"]
    assert recs[0]["universe"]["assets"] == 5
