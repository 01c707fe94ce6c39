"""The ablation report: results table, Sharpe per combination, NAV, per-choice effects."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from causalfolio.cli import main
from causalfolio.errors import DataError
from causalfolio.report.ablation import is_ablation_folder, render_ablation_report


@pytest.fixture(scope="module")
def ablation_text(ablation_dir):
    return render_ablation_report(ablation_dir)


def test_ablation_report_shows_every_result(ablation_dir, ablation_text):
    text = ablation_text
    results = pd.read_csv(ablation_dir / "results.csv")
    assert len(results) == 5 and (results["status"] == "ok").all()
    rows = re.findall(r"<tr><td>(\d+)</td><td><code>([^<]+)</code>[^<]*</td>((?:<td>[^<]*</td>)+)"
                      r"</tr>", text)
    assert len(rows) == len(results)
    by_label = {html.unescape(label): (int(rank), re.findall(r"<td>([^<]*)</td>", cells))
                for rank, label, cells in rows}
    ranked = results.sort_values("sharpe", ascending=False)["label"].tolist()
    for _, r in results.iterrows():
        rank, cells = by_label[r["label"]]
        assert rank == ranked.index(r["label"]) + 1
        # expected cells written out here (not with the module's own formatter): percentages
        # with two decimals, the Sharpe ratio with three, in the order of the table header
        expected = [f"{100 * r['total_return']:.2f}%", f"{100 * r['annual_volatility']:.2f}%",
                    f"{r['sharpe']:.3f}", f"{100 * r['max_drawdown']:.2f}%",
                    f"{100 * r['turnover']:.2f}%"]
        assert cells == expected, (r["label"], cells, expected)
    assert "<code>equal</code> (benchmark)" in text
    assert not re.search(r"https?://", text)


def test_ablation_report_leads_with_the_forest_plot_and_names_one_effect(ablation_dir,
                                                                          ablation_text):
    summary = pd.read_csv(ablation_dir / "summary.csv")
    factors = list(dict.fromkeys(summary["factor"]))
    assert set(factors) >= {"drivers", "mapping"}
    titles = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', ablation_text)
    # the first chart: every combination's difference to the reference with its interval
    assert titles[0] == "Sharpe ratio: difference to equal (95% intervals)"
    assert not any(t.startswith("Sharpe ratio per combination") for t in titles)  # no ranking
    assert "A ranking without intervals is not evidence" in ablation_text
    for f in factors:
        for m in ("sharpe", "annual_volatility"):
            assert f"{f}: effect on {m} (95% intervals)" in titles
    # "effect" is the evidence's choice-minus-the-other-choices only: with statistics, no chart
    # of choices.csv's mean-minus-overall is drawn (it used to share the title, with other signs)
    assert sum("effect" in t for t in titles) == sum(
        f"{f}: effect on {m} (95% intervals)" in titles for f in factors
        for m in ("sharpe", "total_return", "annual_volatility"))
    assert not any("minus the overall mean" in t for t in titles)
    # the effect is the choice minus the other choice (two levels: +x and -x)
    s = summary[(summary["factor"] == "mapping") & (summary["metric"] == "sharpe")]
    assert s["effect"].sum() == pytest.approx(0.0, abs=1e-12)
    choices = pd.read_csv(ablation_dir / "choices.csv")
    assert "effect" not in choices and "mean_minus_overall" in choices
    c = choices[(choices["factor"] == "mapping") & (choices["metric"] == "sharpe")]
    for _, row in s.iterrows():  # balanced grid: effect = 2 x (mean - overall) for two levels
        dev = c.loc[c["level"] == row["choice"], "mean_minus_overall"].item()
        assert row["effect"] == pytest.approx(2 * dev)


def test_without_statistics_choices_are_not_called_effects(ablation_dir, tmp_path):
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(ablation_dir, plain)
    for name in ("comparisons.csv", "comparisons.parquet", "evidence.json", "summary.parquet"):
        (plain / name).unlink()
    pd.read_csv(plain / "choices.csv").to_csv(plain / "summary.csv", index=False)
    text = render_ablation_report(plain)
    titles = re.findall(r'alt="([^"]+)"', text)
    assert "mapping: mean sharpe minus the overall mean" in titles
    assert not any("effect" in t for t in titles)
    assert "this study computed no intervals" in text
    # an older folder: choices.csv's column was called effect
    old = pd.read_csv(plain / "choices.csv").rename(columns={"mean_minus_overall": "effect"})
    old.to_csv(plain / "choices.csv", index=False)
    (plain / "choices.parquet").unlink()
    again = render_ablation_report(plain)
    assert re.findall(r'src="([^"]+)"', again) == re.findall(r'src="([^"]+)"', text)


def test_report_command_detects_ablation_folders(ablation_dir, tmp_path, capsys):
    assert is_ablation_folder(ablation_dir) and not is_ablation_folder(tmp_path)
    out = tmp_path / "abl.html"
    assert main(["report", str(ablation_dir), "--out", str(out)]) == 0
    assert "Effect of each choice" in out.read_text()
    assert f"report: {out}" in capsys.readouterr().out


def test_unfinished_ablation_is_a_clear_error(ablation_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(ablation_dir, broken)
    for name in ("summary.csv", "summary.parquet"):
        (broken / name).unlink()
    with pytest.raises(DataError, match="has not finished"):
        render_ablation_report(broken)
    with pytest.raises(DataError, match="not an ablation result folder"):
        render_ablation_report(tmp_path)


def _replicated_table() -> pd.DataFrame:
    rows = []
    for rep, shift in ((0, 0.0), (1, 0.5), (2, -0.1)):
        for cid, label, sharpe in (("a", "p1", 1.0), ("b", "equal", 0.8)):
            rows.append({"market": f"r{rep}", "market.replica": rep, "id": cid, "label": label,
                         "benchmark": label == "equal", "status": "ok", "error": None,
                         "sharpe": sharpe + shift, "total_return": 0.1, "turnover": 0.0,
                         "annual_volatility": 0.2, "max_drawdown": -0.1})
    return pd.DataFrame(rows)


def test_results_of_bootstrap_replicas_are_those_on_the_data():
    from causalfolio.report.ablation import _one_row_per_combination

    rows, nav_market, note = _one_row_per_combination(_replicated_table())
    # the statistic a backtest on the data gives, not a mean over bootstrap draws (1.133)
    assert dict(zip(rows["label"], rows["sharpe"], strict=True)) == {"p1": 1.0, "equal": 0.8}
    assert nav_market == "r0" and "replica 0" in note
    # independent markets (no replica column): means over the markets
    rows, nav_market, note = _one_row_per_combination(
        _replicated_table().drop(columns="market.replica"))
    assert rows.set_index("label").at["p1", "sharpe"] == pytest.approx((1.0 + 1.5 + 0.9) / 3)
    assert "means over the markets" in note


@pytest.mark.parametrize(("method", "said", "not_said"), [
    ("bootstrap-replicas", "on the data (replica 0), with the standard error from the spread "
     "over its 19 stationary-bootstrap replicas", "paired t-test"),
    ("paired-t", "across 20 independent markets (paired t-test over markets)", "replica"),
    ("ledoit-wolf-2008", "on one market (Ledoit-Wolf 2008", "paired t-test"),
])
def test_the_method_sentence_comes_from_the_method_used(method, said, not_said):
    from causalfolio.report.evidence import sentences

    comp = pd.DataFrame({"label": ["p1"], "metric": ["sharpe"], "diff": [0.1], "ci_low": [-0.1],
                         "ci_high": [0.3], "p_value": [0.4], "p_adjusted": [0.4],
                         "identical_to": [None], "n_markets": [20], "method": [method]})
    text = sentences(comp, {"reference": {"label": "equal"}, "n_markets": 20})["comparisons"]
    assert said in text and not_said not in text
