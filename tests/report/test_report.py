"""The HTML report: its numbers, its charts, its self-containment, the CLI around it."""

from __future__ import annotations

import base64
import html
import re

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist, squareform

from causalfolio.backtest import BacktestConfig, run_backtest, write_run
from causalfolio.cli import main
from causalfolio.errors import DataError
from causalfolio.report import charts
from causalfolio.report.html import (
    driver_attribution,
    driver_exposures,
    driver_volatility,
    load_rebalances,
    render_report,
    selection_updates,
)

PNG = b"\x89PNG\r\n\x1a\n"


# --- pieces with known answers ----------------------------------------------------------------


def test_mds_recovers_planar_points_up_to_rigid_motion():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(9, 2)) * [3.0, 1.0]
    d = squareform(pdist(pts))
    xy = charts.classical_mds(d, 2)
    np.testing.assert_allclose(squareform(pdist(xy)), d, atol=1e-10)
    assert np.allclose(xy.mean(axis=0), 0.0, atol=1e-12)  # centred
    for k in range(2):  # sign normalised: largest |entry| positive
        assert xy[np.argmax(np.abs(xy[:, k])), k] > 0


def test_mds_of_collinear_points_has_zero_second_axis():
    d = squareform(pdist(np.array([[0.0], [1.0], [3.0], [7.0]])))
    xy = charts.classical_mds(d, 2)
    np.testing.assert_allclose(np.abs(xy[:, 0]), np.abs(np.array([0, 1, 3, 7]) - 2.75),
                               atol=1e-10)
    np.testing.assert_allclose(xy[:, 1], 0.0, atol=1e-6)


@pytest.mark.parametrize("bad", [np.ones((2, 3)), np.array([[0.0, np.nan], [np.nan, 0.0]])])
def test_mds_rejects_bad_input(bad):
    with pytest.raises(DataError, match="MDS needs"):
        charts.classical_mds(bad)


RECORD = {
    "date": "2020-01-02",
    "weights": {"A": 0.25, "B": 0.75},
    "sensitivities": {"aggregate": {"A": {"X@0": 1.0, "X@1": 0.5, "Y@0": -2.0},
                                    "B": {"X@0": 0.2, "X@1": 0.0, "Y@0": 4.0}}},
}


def test_driver_exposure_is_weighted_sensitivity_summed_over_lags():
    e = driver_exposures(RECORD)
    # X: 0.25 * (1.0 + 0.5) + 0.75 * (0.2 + 0.0) = 0.525; Y: 0.25 * -2 + 0.75 * 4 = 2.5
    assert list(e.index) == ["X", "Y"]
    np.testing.assert_allclose(e.to_numpy(), [0.525, 2.5])


def test_risk_attribution_multiplies_by_driver_volatility():
    vol = pd.DataFrame({"X": [0.02], "Y": [0.01]}, index=[pd.Timestamp("2020-01-02")])
    frame, with_vol = driver_attribution([RECORD], vol)
    assert with_vol
    np.testing.assert_allclose(frame.loc["2020-01-02"].to_numpy(), [0.525 * 0.02, 2.5 * 0.01])
    frame, with_vol = driver_attribution([RECORD])
    assert not with_vol and frame.loc["2020-01-02", "Y"] == pytest.approx(2.5)
    with pytest.raises(DataError, match="no volatility"):
        driver_attribution([RECORD], vol[["X"]])


def test_attribution_stored_by_the_mapping_is_used_and_lags_summed():
    rec = dict(RECORD, diagnostics={"attribution": {"X@0": 0.1, "X@1": 0.05, "Y@0": -0.2}})
    frame, with_vol = driver_attribution([rec])
    assert with_vol
    np.testing.assert_allclose(frame.loc["2020-01-02", ["X", "Y"]].to_numpy(), [0.15, -0.2])


def test_driver_volatility_uses_the_window_strictly_before_the_date():
    idx = pd.bdate_range("2020-01-01", periods=10)
    c = pd.DataFrame({"X": np.arange(10.0) ** 2}, index=idx)
    vol = driver_volatility(c, [idx[6]], window=3)
    assert vol.iloc[0, 0] == pytest.approx(np.std([9.0, 16.0, 25.0], ddof=1))


def test_selection_updates_keep_only_changes():
    recs = [{"date": d, "drivers": {"key": k, "names": ["X"]}}
            for d, k in [("a", "1"), ("b", "1"), ("c", "2"), ("d", "2"), ("e", "1")]]
    assert [r["date"] for r in selection_updates(recs)] == ["a", "c", "e"]


def test_charts_are_png_with_their_title():
    nav = pd.DataFrame({"s": [100.0, 101.0, 99.0]}, index=pd.bdate_range("2020-01-01", periods=3))
    c = charts.nav_chart(nav)
    assert c.png.startswith(PNG) and c.title == "Net asset value (start = 100)"
    assert base64.b64decode(c.data_uri().split(",", 1)[1]) == c.png
    with pytest.raises(DataError, match="shape"):
        charts.forecast_paths_chart(np.zeros((2, 3)), ["A"], ["X@0"], "t")


# --- the report of a real run folder ----------------------------------------------------------


@pytest.fixture(scope="module")
def cli_report(run_dir):
    """``causalfolio report RUN_DIR``: (exit status, stdout, the report's text)."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["report", str(run_dir)])
    return rc, buf.getvalue(), (run_dir / "report.html").read_text()


@pytest.fixture(scope="module")
def report_text(cli_report):
    return cli_report[2]


def test_report_is_self_contained_and_complete(report_text, tiny_result):
    text = report_text
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:)", text), "external resource"
    assert not re.search(r"https?://", text), "a URL in the report"
    srcs = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', text)
    assert all(s.startswith("data:image/png;base64,") for s, _ in srcs)
    assert all(base64.b64decode(s.split(",", 1)[1]).startswith(PNG) for s, _ in srcs)
    titles = [t for _, t in srcs]
    for want in ("Net asset value (start = 100)", "Drawdown from running peak",
                 "Selected drivers (strength)", "Driver risk attribution"):  # stored Table 1
        assert want in titles
    dates = [str(d.date()) for d in tiny_result.dates]
    shown = sorted({dates[0], dates[len(dates) // 2], dates[-1]})
    assert [t for t in titles if t.startswith("Sensitivity space")] == [
        f"Sensitivity space on {d}" for d in shown]
    assert sum(t.startswith("Cluster tree on") and "from the mapping" in t for t in titles) == 3
    # weights: active weights against the first benchmark, nothing drawn for constant weights
    pipeline = next(k for k in tiny_result.strategies if "|" in k)
    assert [t for t in titles if "weights" in t.lower()] == [
        f"Active weights vs equal: {pipeline}", "Active weights vs equal: hrp"]
    assert "Constant weights at every rebalance: 16.67% in each of the 6 assets" in text
    assert [t for t in titles if t.startswith("Risk contributions")] == [
        f"Risk contributions: {pipeline}", "Risk contributions: hrp"]
    for want in ("NAV relative to equal (100 = level with it)",
                 "Turnover at each rebalance (after the first)"):
        assert want in titles
    assert any(t.startswith("Rolling ") and "Sharpe ratio and volatility" in t for t in titles)
    assert "<caption>Return in each calendar year</caption>" in text
    assert "images not checked" not in text and ">None<" not in text
    assert "<pre>" not in text  # settings as a table, not raw JSON
    # the metrics table shows the run's numbers
    for label, s in tiny_result.strategies.items():
        assert f"{100 * s.metrics['total_return']:.2f}%" in text
        assert f"{s.metrics['sharpe']:.3f}" in text
        assert f"<code>{label}</code>" in text


def test_report_dates_pick_the_last_rebalance_on_or_before(run_dir, tiny_result):
    d = tiny_result.dates
    text = render_report(run_dir, dates=[str((d[1] + pd.Timedelta(days=3)).date())])
    assert f"Sensitivity space on {d[1].date()}" in text
    assert text.count('alt="Sensitivity space on') == 1
    with pytest.raises(DataError, match="before the first rebalance"):
        render_report(run_dir, dates=["1999-01-01"])
    with pytest.raises(DataError, match="not a date"):
        render_report(run_dir, dates=["soon"])


def test_report_with_market_gives_risk_attribution(full_report):
    text = full_report.read_text()
    assert full_report.parent.name == "sub"  # parent folders are created
    assert 'alt="Driver risk attribution"' in text
    assert "sigma_Dj" in text


def test_selected_drivers_and_evidence_come_from_the_run(run_dir, report_text):
    recs = load_rebalances(run_dir)
    label = next(k for k, v in recs.items() if v[0].get("drivers"))
    ups = selection_updates(recs[label])
    assert len(ups) == (len(recs[label]) + 1) // 2  # reselect_every=2
    text = report_text
    assert f"{len(ups)} selection update(s)" in text
    for name in ups[-1]["drivers"]["names"]:
        assert f"<td>{name}</td>" in text


def test_incomplete_run_folder_is_a_clear_error(run_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    next((broken / "rebalances").glob("equal*.json")).unlink()
    with pytest.raises(DataError, match="incomplete"):
        render_report(broken)


def test_report_cli_writes_into_the_run_folder(run_dir, cli_report, tmp_path, capsys):
    rc, out, text = cli_report
    assert rc == 0 and text.startswith("<!DOCTYPE html>") and text == render_report(run_dir)
    assert f"report: {run_dir / 'report.html'}" in out
    assert main(["report", str(tmp_path)]) == 2
    assert "not a causalfolio run folder" in capsys.readouterr().err


def test_demo_report_flag_writes_report_with_attribution(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--quiet", "--report", "--start", "2019-09-01",
               "--spec", "rccp(k=4)|linear|beta|static|hsp", "--benchmark", "equal"])
    assert rc == 0
    text = (out / "report.html").read_text()
    assert 'alt="Driver risk attribution"' in text
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out


def test_cluster_tree_leaves_follow_the_mapping_order(run_dir):
    from scipy.cluster.hierarchy import leaves_list

    from causalfolio.report.html import cluster_tree

    recs = load_rebalances(run_dir)
    rec = next(r for v in recs.values() for r in v if r.get("sensitivities"))
    z, leaves, how = cluster_tree(rec)
    assert how == "from the mapping"
    diag = rec["diagnostics"]
    assert [leaves[i] for i in leaves_list(z)] == diag["order"]  # the tree's order, named right
    # without a tree from the mapping: single linkage on the distance matrix
    bare = dict(rec, diagnostics={})
    z2, leaves2, how2 = cluster_tree(bare)
    assert how2.startswith("single linkage") and sorted(leaves2) == sorted(leaves)
    assert z2.shape == (len(leaves) - 1, 4)


def test_every_chart_has_title_axes_labels_and_legend(tiny_result):
    from scipy.cluster.hierarchy import linkage

    s = next(v for v in tiny_result.strategies.values() if v.rebalances[0].sensitivities)
    rb = s.rebalances[-1]
    nav = tiny_result.nav_table()
    d = rb.sensitivities.distance
    made = [
        charts.nav_chart(nav), charts.drawdown_chart(nav),
        charts.weights_chart(s.weights, "w"),
        charts.metrics_chart(tiny_result.metrics_table()),
        charts.drivers_chart({rb.date: {"X": 1.0, "Y": 0.5}}, "drivers"),
        charts.sensitivity_map(d, rb.sensitivities.assets, "map", weights=rb.weights.to_numpy()),
        charts.dendrogram_chart(linkage(d[np.triu_indices(len(d), 1)], "single"),
                                rb.sensitivities.assets, "tree"),
        charts.forecast_paths_chart(np.ones((3, 5, len(d), 2)), rb.sensitivities.assets,
                                    ["X@0", "X@1"], "paths"),
        charts.attribution_chart(pd.DataFrame({"X": [0.1, -0.2]}, index=nav.index[:2]), "a",
                                 "risk"),
        charts.bar_chart(pd.Series([0.1, -0.1], index=["a", "b"]), "effects", "effect",
                         highlight={"b"}),
        charts.heatmap_chart(s.weights - 0.1, "active", "pp", diverging=True),
        charts.heatmap_chart(s.weights, "weights", "%"),
        charts.rolling_chart(nav.pct_change().iloc[1:], 40, "rolling"),
        charts.forest_chart(pd.DataFrame({"label": ["a"], "diff": [0.1], "ci_low": [-0.1],
                                          "ci_high": [0.3]}), "forest", "diff", marked={"a"}),
    ]
    for c in made:
        assert c.problems == (), (c.title, c.problems)
        assert c.png.startswith(PNG)
    # the check itself catches a bare figure
    fig = charts._figure()
    fig.add_subplot().plot([0, 1], [0, 1])
    assert set(charts.figure_problems(fig)) == {"axes 0: no title", "axes 0: no x label",
                                                "axes 0: no y label", "axes 0: no legend"}


def test_forecast_paths_are_charted_from_the_in_memory_result(full_report, report_text,
                                                              tiny_result):
    s = next(v for v in tiny_result.strategies.values() if v.rebalances[0].forecast)
    assert s.rebalances[0].forecast.paths is not None  # the forecaster kept paths
    text = full_report.read_text()
    dates = [str(d.date()) for d in tiny_result.dates]
    shown = sorted({dates[0], dates[len(dates) // 2], dates[-1]})
    found = re.findall(r'alt="Forecast sensitivities to ([^"]+) from ([0-9-]+)"', text)
    assert [d for _, d in found] == shown
    by_date = {str(r.date.date()): r for r in s.rebalances}
    assert all(by_date[d].sensitivities.inputs[0] == name for name, d in found)
    # from the folder alone the paths are not available, and the report says so
    assert "Forecast sensitivities to" not in report_text
    assert "simulated paths are kept only in" in report_text


# --- names that look like TeX (issue #23 D09) ---------------------------------------------------


TEX_NAMES = ("$\\undefinedmacro{$", "$X000_{$")


def test_every_chart_draws_text_literally():
    import inspect

    drawers = [f for n, f in vars(charts).items() if inspect.isfunction(f) and
               not n.startswith("_") and inspect.signature(f).return_annotation in
               ("Chart", charts.Chart)]
    assert len(drawers) >= 10
    assert [f.__name__ for f in drawers if not getattr(f, "literal_text", False)] == []


def test_tex_like_series_names_do_not_break_the_report(tiny_market, tmp_path):
    from causalfolio.backtest import BacktestConfig, run_backtest, write_run
    from causalfolio.data import Market
    from causalfolio.report.html import write_report

    a, c = tiny_market.assets.copy(), tiny_market.candidates.copy()
    a.columns = [TEX_NAMES[0], *a.columns[1:]]
    c.columns = [TEX_NAMES[1], *c.columns[1:]]
    market = Market(assets=a, candidates=c)
    config = BacktestConfig(driver_window=60, train_window=60, cov_window=40,
                            start="2015-11-01")
    spec = "rccp(k=3,exclude=['X001','X002','X003'])|linear|beta|static|hsp"
    res = run_backtest(market, [spec], config, benchmarks=["equal"])
    assert TEX_NAMES[1] in res.strategies[spec].rebalances[0].selection.names
    out = write_report(write_run(res, tmp_path / "run"), dates=[str(res.dates[-1].date())])
    assert html.escape(TEX_NAMES[1]) in out.read_text()  # in the drivers' evidence table


# --- what the backtest report adds (issue #22 item 6) -------------------------------------------


def test_sharpe_tests_in_the_report_are_those_the_cli_prints(report_text, tiny_result):
    from causalfolio.cli import _sharpe_vs_benchmark

    printed = _sharpe_vs_benchmark(tiny_result, "equal").split(
        "annualised volatility minus", 1)[0].splitlines()[1:]
    assert len(printed) == 2
    for line in printed:
        label, est, lo, hi, p = re.match(
            r"\s+(\S+)\s+([-+][\d.]+)\s+\[([-+][\d.]+), ([-+][\d.]+)\]\s+p=([\d.]+)",
            line).groups()
        row = (f"<td><code>{html.escape(label)}</code></td><td>{est}</td><td>[{lo}, {hi}]</td>"
               f"<td>{p}</td>")
        assert row in report_text, (line, row)


def test_calendar_returns_and_active_weights_known_answers():
    from causalfolio.report.html import active_weights, calendar_returns

    idx = pd.to_datetime(["2020-06-30", "2020-12-31", "2021-03-31", "2021-12-31", "2022-01-31"])
    nav = pd.DataFrame({"a": [100.0, 110.0, 99.0, 121.0, 60.5]}, index=idx)
    np.testing.assert_allclose(calendar_returns(nav)["a"].to_numpy(), [0.1, 0.1, -0.5])
    w = pd.DataFrame({"A": [0.6, 0.2], "B": [0.4, 0.8], "turnover": [1.0, 0.4]},
                     index=pd.to_datetime(["2020-01-01", "2020-02-03"]))
    base = pd.DataFrame({"A": [0.5], "turnover": [1.0]}, index=pd.to_datetime(["2020-01-01"]))
    got = active_weights(w, base)
    np.testing.assert_allclose(got.to_numpy(), [[0.1, 0.4], [-0.3, 0.8]])
    assert list(got.columns) == ["A", "B"]


def test_driver_evidence_keeps_the_runner_ups(run_dir, report_text):
    recs = load_rebalances(run_dir)
    label = next(k for k, v in recs.items() if v[0].get("drivers"))
    d = recs[label][0]["drivers"]
    scores = d["scores"]
    k = len(d["names"])
    assert list(scores)[:k] == d["names"]
    ups = list(scores)[k:]
    assert len(ups) == 5 and not set(ups) & set(d["names"])
    ranks = [scores[n]["rank"] for n in ups]
    assert ranks == sorted(ranks) and min(ranks) > max(scores[n]["rank"] for n in d["names"])
    assert "the 5 best candidates that were not selected" in report_text


def test_mds_labels_do_not_overlap_points_or_each_other():
    fig = charts._figure(6.0, 4.0)
    ax = fig.add_subplot()
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [0.001, 0.0], [1.0, 1.0]])  # three on one spot
    ax.set_xlim(-1, 2)
    ax.set_ylim(-1, 2)
    off = charts.label_offsets(ax, xy, ["AAA", "BBB", "CCC", "DDD"], radius=[5, 5, 5, 5])
    scale = fig.dpi / 72.0
    pix = ax.transData.transform(xy)
    h, w = 1.25 * 8 * scale, 0.62 * 8 * scale * 3
    boxes = [(px + dx * scale, py + dy * scale) for (px, py), (dx, dy) in
             zip(pix, off, strict=True)]
    for i, (x0, y0) in enumerate(boxes):
        for j, (x1, y1) in enumerate(boxes[:i]):
            assert x0 + w <= x1 or x1 + w <= x0 or y0 + h <= y1 or y1 + h <= y0, (i, j)
        for px, py in pix:  # clear of every marker (radius 5 points)
            r = 5 * scale
            assert (x0 >= px + r - 1e-9 or x0 + w <= px - r or y0 >= py + r - 1e-9
                    or y0 + h <= py - r)


def test_pcmci_verdicts_reach_the_report(tiny_market, tmp_path):
    """A selector whose scores carry its own ``selected`` flag and text verdicts (pcmci): the
    report's evidence table shows the verdicts (it once failed: 'cannot insert selected')."""
    config = BacktestConfig(driver_window=120, train_window=60, cov_window=40,
                            start="2016-01-04")
    res = run_backtest(tiny_market, ["pcmci(k=3)|linear|beta|static|hsp"], config)
    text = render_report(write_run(res, tmp_path / "run"))
    scores = next(iter(res.strategies.values())).rebalances[-1].selection.scores
    verdicts = {v for v in scores["verdict"] if isinstance(v, str)}
    assert verdicts and any(f"<td>{html.escape(v)}</td>" in text for v in verdicts)
