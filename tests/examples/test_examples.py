"""The examples run start to finish in CI size, and their numbers check out."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("skfolio", reason="the examples need skfolio (pip install .[data])")
pytest.importorskip("arch", reason="the examples need arch (pip install .[data])")

ROOT = Path(__file__).resolve().parents[2]


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" /
                                                  f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    ex = load_example("us_portfolio")
    out = tmp_path_factory.mktemp("ex") / "us-short"
    return ex, ex.run("short", quick=True, out=str(out), report=True, quiet=True)


def test_us_portfolio_quick_runs_and_writes_a_report(quick_run):
    ex, res = quick_run
    table = res["table"]
    assert list(table["strategy"]) == ["HSP 6m LAG0 OPT", "HSP 6m LAG0 OPT path (Vasicek)",
                                       "1/N", "HRP"]
    assert np.isfinite(table[["total_return", "annual_volatility", "sharpe"]].to_numpy()).all()
    assert (res["run_dir"] / "report.html").is_file()
    text = ex.format_table(table)
    assert text.count("\n") == len(table) + 1 and "| 1/N |" in text
    # every strategy carries its Sharpe difference to 1/N with an interval and a Holm p-value;
    # the difference is the difference of the table's Sharpe ratios (same returns, ddof=1)
    assert "Sharpe - 1/N [95% CI]" in text and "| reference |" in text
    others = table[table["strategy"] != "1/N"]
    ref = float(table.loc[table["strategy"] == "1/N", "sharpe"].iloc[0])
    np.testing.assert_allclose(others["sharpe_diff"], others["sharpe"] - ref, rtol=1e-9)
    assert (others["sharpe_diff_low"] <= others["sharpe_diff"]).all()
    assert (others["sharpe_diff"] <= others["sharpe_diff_high"]).all()
    assert ((others["p_value"] <= others["p_holm"]) & (others["p_holm"] <= 1)).all()
    # 3%-10% bounds held at every rebalance by every strategy
    for s in res["result"].strategies.values():
        w = s.weights.to_numpy()
        assert w.min() >= 0.03 - 1e-9 and w.max() <= 0.10 + 1e-9
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)


def test_equal_weight_nav_matches_a_hand_computation_from_the_prices(quick_run):
    from causalfolio.data.real import PORTFOLIO_US, load_levels

    _, res = quick_run
    nav = res["result"].strategies["equal"].nav
    prices = load_levels()[0][list(PORTFOLIO_US)].dropna()
    dates = res["result"].dates
    value, expected = 100.0, {}
    days = prices.index
    for k, tau in enumerate(dates):
        base = prices.loc[days[days < tau][-1]]
        stop = dates[k + 1] if k + 1 < len(dates) else nav.index[-1] + pd.Timedelta(days=1)
        for t in days[(days >= tau) & (days < stop) & (days <= nav.index[-1])]:
            expected[t] = value * float((prices.loc[t] / base).mean())
        value = expected[max(expected)]
    exp = pd.Series(expected)
    np.testing.assert_allclose(nav.loc[exp.index].to_numpy(), exp.to_numpy(), rtol=1e-10)


def test_csv_export_feeds_the_cli_with_the_same_numbers(tmp_path, capsys):
    from causalfolio.cli import main
    from causalfolio.data import Market
    from causalfolio.data.real import real_market

    ex = load_example("real_data_to_csv")
    assert ex.main(["--period", "short", "--out", str(tmp_path / "csv")]) == 0
    assert "next: causalfolio backtest" in capsys.readouterr().out
    m = Market.from_files(tmp_path / "csv" / "assets.csv", tmp_path / "csv" / "drivers.csv")
    ref, _ = real_market("short")
    pd.testing.assert_frame_equal(m.assets, ref.assets, check_freq=False, check_names=False)
    pd.testing.assert_frame_equal(m.candidates, ref.candidates, check_freq=False,
                                  check_names=False)
    rc = main(["backtest", "--assets", str(tmp_path / "csv" / "assets.csv"), "--drivers",
               str(tmp_path / "csv" / "drivers.csv"), "--spec", "rccp(k=4)|linear|beta|static|hsp",
               "--benchmark", "equal", "--min-weight", "0.03", "--max-weight", "0.10",
               "--start", "2021-11-01", "--out", str(tmp_path / "run"), "--quiet", "--report"])
    assert rc == 0 and (tmp_path / "run" / "report.html").is_file()


def test_missing_data_extra_is_one_line_error():
    import subprocess
    import sys

    code = ("import sys, runpy; sys.modules['skfolio'] = None; "
            "sys.modules['skfolio.datasets'] = None; sys.argv = ['us_portfolio.py', '--quick']; "
            f"runpy.run_path({str(ROOT / 'examples' / 'us_portfolio.py')!r}, "
            "run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "us_portfolio.py: error: the real-data loaders need the package 'skfolio'; install the "
        "optional extra: pip install 'causalfolio[data]' (or pip install skfolio)"]


def test_us_ablation_quick_runs_and_reports(tmp_path):
    ex = load_example("us_ablation")
    res = ex.run("short", str(tmp_path / "abl"), quick=True, executor="serial", quiet=True)
    table = res["result"].table
    assert len(table) == 10 and (table["status"] == "ok").all()
    assert set(res["result"].summary["factor"]) >= {"drivers", "dynamics", "forecasting"}
    text = res["report"].read_text()
    assert "Effect of each choice" in text and "forecasting: effect on sharpe" in text
    # every combination ran on the same dates and the benchmarks are the plain ones
    assert set(table.loc[table["benchmark"].astype(bool), "label"]) == {"equal", "hrp"}
