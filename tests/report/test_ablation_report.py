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


def test_ablation_report_charts_every_factor_effect(ablation_dir, ablation_text):
    summary = pd.read_csv(ablation_dir / "summary.csv")
    factors = list(dict.fromkeys(summary["factor"]))
    assert set(factors) >= {"drivers", "mapping"}
    titles = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', ablation_text)
    assert titles[:2] == ["Sharpe ratio per combination (benchmarks in red)",
                          "NAV of the best 4 combinations and the benchmarks"]
    for f in factors:
        for m in ("sharpe", "total_return", "annual_volatility"):
            assert f"{f}: effect on {m}" in titles
    # the effects of a factor's levels average to zero when every level has as many rows
    s = summary[(summary["factor"] == "mapping") & (summary["metric"] == "sharpe")]
    assert s["effect"].sum() == pytest.approx(0.0, abs=1e-12)


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
