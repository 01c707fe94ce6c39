"""Loaders of the real market data bundled in skfolio and arch (the ``data`` extra)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("skfolio", reason="the real-data tests need skfolio (pip install .[data])")
pytest.importorskip("arch", reason="the real-data tests need arch (pip install .[data])")

from causalfolio.data.real import (  # noqa: E402
    OTHER_STOCKS,
    PERIODS,
    PORTFOLIO_US,
    _require,
    load_levels,
    real_market,
)
from causalfolio.errors import ConfigError, DataError  # noqa: E402


@pytest.fixture(scope="module")
def short():
    return real_market("short")


def test_levels_are_the_packages_files():
    import arch.data.vix
    import skfolio.datasets as sk

    levels, info = load_levels()
    raw = sk.load_sp500_dataset()
    d = pd.Timestamp("2020-03-16")
    assert levels.loc[d, "AAPL"] == raw.loc[d, "AAPL"]
    assert levels.loc[d, "SP500"] == sk.load_sp500_index().loc[d].iloc[0]
    vix = arch.data.vix.load()
    assert levels.loc[vix.index[10], "VIX"] == vix.iloc[10, 0]
    assert info["VIX"].transform == "diff" and info["WTI"].transform == "pct"
    assert sorted([*PORTFOLIO_US, *OTHER_STOCKS]) == sorted(raw.columns)
    levels.iloc[0, 0] = -1.0  # a copy: the cache is not touched
    assert load_levels()[0].iloc[0, 0] != -1.0


def test_short_period_market(short):
    market, facts = short
    assert list(market.assets.columns) == list(PORTFOLIO_US)
    assert set(facts["dropped"]) == {"NASDAQ", "VIX", "WTI"}  # they end in 2018-2019
    assert set(facts["candidates"]) == {*OTHER_STOCKS, "SP500", "MTUM", "QUAL", "SIZE", "USMV",
                                        "VLUE"}
    assert market.dates[-1] == pd.Timestamp("2021-12-31")
    assert (market.dates < pd.Timestamp(PERIODS["short"].start)).sum() == 260 - 1
    assert not market.assets.isna().any().any() and not market.candidates.isna().any().any()
    # returns are percentage changes of the bundled prices
    levels, _ = load_levels()
    d0, d1 = market.dates[99], market.dates[100]
    assert market.assets.loc[d1, "JPM"] == pytest.approx(
        levels.loc[d1, "JPM"] / levels.loc[d0, "JPM"] - 1, rel=1e-12)


def test_crisis_period_has_nasdaq_and_wti_and_vix_is_a_difference():
    market, facts = real_market("crisis")
    assert {"NASDAQ", "WTI"} <= set(facts["candidates"]) and "VIX" in facts["dropped"]
    m2, f2 = real_market(None, start="2015-06-01", end="2016-06-30")
    assert "VIX" in f2["candidates"]
    levels, _ = load_levels()
    vix = levels["VIX"].dropna()
    d = m2.dates[50]
    prev = vix.index[vix.index < d][-1]
    assert m2.candidates.loc[d, "VIX"] == pytest.approx(vix[d] - vix[prev])
    assert np.isfinite(m2.candidates.to_numpy()).all()


def test_bad_requests_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown period 'medium'"):
        real_market("medium")
    with pytest.raises(ConfigError, match="not before end"):
        real_market(None, start="2020-01-01", end="2019-01-01")
    with pytest.raises(ConfigError, match="give a period or both"):
        real_market(None, start="2020-01-01")
    with pytest.raises(DataError, match="unknown assets \\['TSLA'\\]"):
        real_market("short", assets=["AAPL", "TSLA"])
    with pytest.raises(DataError, match="candidates do not cover"):
        real_market("short", candidates=["SP500", "VIX"])
    with pytest.raises(DataError, match="unknown candidates"):
        real_market("short", candidates=["GOLD"])
    with pytest.raises(DataError, match="trading days of asset data before 1990"):
        real_market(None, start="1990-03-01", end="1991-01-01")


def test_missing_package_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "arch.data.vix", None)
    with pytest.raises(ConfigError, match=r"causalfolio\[data\]"):
        _require("arch.data.vix")


def test_changing_pool_uses_every_series_while_it_exists():
    market, facts = real_market("two_decades", pool="changing")
    assert facts["pool"] == "changing" and facts["dropped"] == {}
    assert {"NASDAQ", "WTI", "VIX", "MTUM"} <= set(facts["candidates"])
    c = market.candidates
    assert c.loc[:"2013-12-31", "MTUM"].isna().all() and c.loc["2014-02-03":, "MTUM"].notna().all()
    assert c.loc["2019-01-02":, "NASDAQ"].isna().all()
    assert c.loc["2003-01-02":"2018-12-31", "NASDAQ"].notna().all()
    levels, _ = load_levels()
    d0, d1 = pd.Timestamp("2010-06-01"), pd.Timestamp("2010-06-02")
    assert c.loc[d1, "NASDAQ"] == pytest.approx(levels.loc[d1, "NASDAQ"]
                                                / levels.loc[d0, "NASDAQ"] - 1, rel=1e-12)
    full, ffacts = real_market("two_decades")
    assert len(ffacts["candidates"]) == 7 and full.assets.equals(market.assets)


def test_changing_pool_backtest_drops_series_that_end():
    from causalfolio.backtest import BacktestConfig, run_backtest
    from causalfolio.pipeline import Windows

    market, facts = real_market(None, start="2018-11-01", end="2019-03-01", pool="changing",
                                history_days=130)
    spec = "rccp(k=3)|linear|beta|static|hsp"
    cfg = BacktestConfig(start="2018-11-01", windows=Windows(drivers=60, train=60, cov=40))
    s = run_backtest(market, spec, cfg).strategies[spec]
    pools = [u["candidates"] for u in s.universe]
    assert pools[0] > pools[-1]  # NASDAQ (to 2018-12-31), VIX and WTI (to 2019-01-03) leave
    for r in s.rebalances:
        alive = market.candidates.loc[market.candidates.index < r.date].iloc[-61:].notna().all()
        assert all(alive[n] for n in r.selection.names)
