"""``causalfolio report`` of an ablation folder with evidence: forest plots, MCS, DSR, PBO."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from causalfolio.ablation.evidence import analyse_study
from causalfolio.errors import DataError
from causalfolio.report import charts
from causalfolio.report.ablation import render_ablation_report
from causalfolio.report.evidence import sentences


@pytest.fixture(scope="module")
def folder(study, tmp_path_factory):
    table, rets = study(4, 200, edge=0.002, seed=11)
    out = tmp_path_factory.mktemp("report") / "ev"
    out.mkdir()
    (out / "study.json").write_text(json.dumps({"context": {}, "grid": {"spec": "demo"}}))
    table.to_csv(out / "results.csv", index=False)
    ev = analyse_study(table, rets, reference="equal", factors=["mapping", "forecasting"],
                       n_boot=60)
    ev.write(out)
    return out, ev


def test_report_shows_forest_plots_and_sentences(folder):
    out, ev = folder
    text = render_ablation_report(out)
    assert "<h2>Evidence</h2>" in text
    for title in ("Sharpe ratio: difference to equal (95% intervals)",
                  "annualised volatility: difference to equal (95% intervals)",
                  "mapping: effect on sharpe (95% intervals)"):
        assert f'alt="{title}"' in text
    n = ev.evidence["dsr"]["n_trials"]
    assert re.search(rf"With {n} distinct combinations tried, a Sharpe of [\d.]+ is what the "
                     rf"best of {n} noise strategies reaches \d+% of the time", text)
    assert re.search(r"Hansen's SPA test gives p (=|&lt;) ", text)
    assert "model confidence set keeps 1 of 4" in text and "<code>a|static</code>" in text
    assert "probability of backtest overfitting" in text
    # the table marks identical arms and MCS members
    assert "<td><code>a|static</code></td></tr>" in text and "<td>yes</td>" in text


def test_forest_chart_is_complete():
    import pandas as pd

    frame = pd.DataFrame({"label": ["x", "y", "z"], "diff": [0.5, -0.1, 0.2],
                          "ci_low": [0.1, -0.4, float("nan")],
                          "ci_high": [0.9, 0.2, float("nan")]})
    chart = charts.forest_chart(frame, "t", "diff", marked={"x"})
    assert chart.problems == () and chart.png.startswith(b"\x89PNG")


def test_sentences_read_the_numbers():
    import pandas as pd

    comp = pd.DataFrame({"label": ["a", "b"], "metric": ["sharpe"] * 2, "diff": [1.0, 0.1],
                         "ci_low": [0.5, -0.3], "ci_high": [1.5, 0.5], "p_value": [0.001, 0.6],
                         "p_adjusted": [0.002, 0.6], "identical_to": [None, None]})
    ev = {"reference": {"label": "equal"}, "n_markets": 1,
          "spa": {"pvalues": {"consistent": 0.01}},
          "dsr": {"sharpe": 1.1, "n_trials": 24, "p_best_of_noise": 0.4,
                  "expected_max_sharpe": 1.2, "dsr": 0.3, "p_value": 0.7, "best": "a"},
          "pbo": {"pbo": 0.55, "n_combinations": 70}}
    s = sentences(comp, ev)
    assert s["dsr"].startswith("With 24 distinct combinations tried, a Sharpe of 1.10 is what "
                               "the best of 24 noise strategies reaches 40% of the time")
    assert "1 of 2 distinct combinations" in s["comparisons"]
    assert "beats it at the 5% level" in s["spa"]
    assert "In 55% of 70 splits" in s["pbo"] and "at random" in s["pbo"]


def test_damaged_evidence_is_a_clear_error(folder, tmp_path):
    out = tmp_path / "damaged"
    shutil.copytree(folder[0], out)
    (out / "evidence.json").write_text("{not json")
    with pytest.raises(DataError, match="damaged"):
        render_ablation_report(out)


def test_comparisons_without_a_column_is_a_clear_error(folder, tmp_path):
    import pandas as pd

    out = tmp_path / "cut"
    shutil.copytree(folder[0], out)
    comp = pd.read_parquet(out / "comparisons.parquet").drop(columns=["p_adjusted"])
    comp.to_parquet(out / "comparisons.parquet")
    with pytest.raises(DataError, match="comparisons.parquet is damaged .no column 'p_adjusted'"):
        render_ablation_report(out)
