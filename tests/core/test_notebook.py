"""Notebook-friendly objects: short reprs, compact HTML, canonical strategy lookup, dir()."""

from __future__ import annotations

import subprocess
import sys

import pytest

import causalfolio as cf
from causalfolio.ablation import Grid, run_ablation
from causalfolio.backtest import METRICS

SPEC = "rccp(k=3)|linear|beta|static|hsp"
WINDOWS = dict(driver_window=60, train_window=60, cov_window=40)


@pytest.fixture(scope="module")
def market():
    """6 assets x 300 days, as the issue's 163 KB repr."""
    return cf.synthetic_market(seed=1, n_assets=6, n_days=300, n_noise=4)


@pytest.fixture(scope="module")
def result(market):
    return cf.run_backtest(market, SPEC, cf.BacktestConfig(**WINDOWS),
                           benchmarks=["equal", "hrp"])


def test_backtest_repr_is_short_and_shows_the_metrics(result):
    text = repr(result)
    assert len(text) < 1000  # was 163 KB
    first, *rows = text.splitlines()
    assert first == (f"BacktestResult(3 strategies, {len(result.dates)} monthly rebalances "
                     f"{result.dates[0].date()}..{result.dates[-1].date()})")
    assert "sharpe" in rows[0] and [r.split()[0] for r in rows[1:]] == [SPEC, "equal", "hrp"]
    sharpe = result.strategies["hrp"].metrics["sharpe"]
    assert f"{sharpe:.4g}" in rows[3]
    for strategy in result.strategies.values():
        assert len(repr(strategy)) < 200
        assert all(len(repr(r)) < 200 for r in strategy.rebalances)
    assert len(repr(result.strategies)) < 1000


def test_backtest_html_is_a_compact_metrics_table(result):
    page = result._repr_html_()
    assert len(page) < 5000
    assert page.count("<tr>") == 1 + 3  # header and one row per strategy
    for metric in METRICS:
        assert f"<th>{metric}</th>" in page
    m = result.strategies[SPEC].metrics
    assert f"<td>{m['max_drawdown']:.4g}</td>" in page and SPEC in page


def test_html_table_escapes_and_caps_rows():
    import pandas as pd

    from causalfolio.display import html_table, text_table

    frame = pd.DataFrame({"x": range(30)}, index=[f"<b>{i}</b>" for i in range(30)])
    page = html_table(frame, max_rows=5)
    assert "<b>" not in page and "&lt;b&gt;0&lt;/b&gt;" in page
    assert page.count("<tr>") == 1 + 5 + 1 and "25 more rows" in page
    assert text_table(frame, max_rows=5).endswith("... 25 more rows")


def test_strategies_accept_any_spelling_of_a_spec(result):
    s = result.strategies
    canonical = s[SPEC]
    assert s["rccp(k=3)|linear(lags=[0])|beta()|static|hsp(psd=False)"] is canonical
    assert s[cf.parse_spec(SPEC)] is canonical
    assert "hrp(linkage='single')" in s and s.get("hrp()") is s["hrp"]
    assert s.get("mvo") is None and "mvo" not in s
    with pytest.raises(KeyError, match=r"no strategy 'rccp\(k=4\)\|linear\|beta\|static\|hsp' "
                                       r"in this backtest; its strategies: rccp\(k=3\)"):
        s["rccp(k=4)|linear|beta|static|hsp"]
    with pytest.raises(KeyError, match=r"no strategy 'mvo\(\)' \(canonical form 'mvo'\) in "
                                       "this backtest; its strategies"):
        s["mvo()"]
    with pytest.raises(KeyError, match="no strategy 'lineer'"):
        s["lineer"]


def test_market_and_pipeline_reprs(market):
    assert repr(market) == ("Market(6 assets x 300 days 2015-01-01..2016-02-24, 20 candidates, "
                            "synthetic truth)")
    page = market._repr_html_()
    assert len(page) < 1000 and "X000" in page and "(+14 more)" in page
    p = cf.parse_spec("rccp(k=3)|linear(lags=[0,1])|beta|static|hsp(linkage='ward')")
    assert repr(p) == "Pipeline(\"rccp(k=3)|linear(lags=[0,1])|beta|static|hsp(linkage='ward')\")"
    page = p._repr_html_()
    assert "<th style='text-align:left'>dynamics</th><td>linear(lags=[0,1])</td>" in page
    assert repr(cf.parse_spec("hrp")) == "Pipeline('hrp')"
    assert "benchmark" in cf.parse_spec("hrp")._repr_html_()


def test_ablation_result_repr_and_html(market):
    grid = Grid.from_specs("rccp(k={2,3})|linear|beta|static|hsp", benchmarks=["equal"],
                           settings={"driver_window": 60, "train_window": 60, "cov_window": 40})
    res = run_ablation(market, grid, None, executor="serial", cache_dir=None)
    text = repr(res)
    assert len(text) < 1500
    assert text.splitlines()[0].startswith("AblationResult(3 combinations: 3 ran, 0 skipped, "
                                           "0 remaining; ")
    best = res.table.sort_values("sharpe", ascending=False).iloc[0]
    assert text.splitlines()[2].startswith(best["label"])
    page = res._repr_html_()
    assert len(page) < 6000 and page.count("<tr>") == 1 + 3
    assert f"<td>{best['sharpe']:.4g}</td>" in page


def test_dir_lists_the_lazy_names():
    names = dir(cf)
    for name in ("Market", "synthetic_market", "parse_spec", "expand_spec", "Pipeline",
                 "Windows", "BacktestConfig", "run_backtest", "get_registry", "hookimpl"):
        assert name in names
    code = "import causalfolio, sys; dir(causalfolio); print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"  # listing the names does not import them
