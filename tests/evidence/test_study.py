"""The ablation glue: comparisons with a reference, effects with intervals, grid-wide tests."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from causalfolio.ablation.evidence import COMPARISON_COLUMNS, SUMMARY_COLUMNS, analyse_study
from causalfolio.errors import ConfigError, DataError
from causalfolio.evidence import auto_block_days, sharpe_diff

FACTORS = ["mapping", "forecasting"]


def test_several_markets_paired_over_markets(study):
    table, rets = study(5, 250, edge=0.001, seed=1)
    ev = analyse_study(table, rets, reference="equal", factors=FACTORS, n_boot=99)
    c = ev.comparisons
    assert list(c.columns[:len(COMPARISON_COLUMNS)]) == COMPARISON_COLUMNS
    row = c[(c["label"] == "b|static") & (c["metric"] == "sharpe")].iloc[0]
    x = table[table["label"] == "b|static"]["sharpe"].to_numpy()
    y = table[table["label"] == "equal"]["sharpe"].to_numpy()
    assert row["diff"] == pytest.approx((x - y).mean())
    assert row["p_value"] == pytest.approx(stats.ttest_rel(x, y).pvalue)
    assert row["n_markets"] == 5 and row["method"] == "paired-t"
    # the planted edge of mapping 'a' is found, with an interval excluding zero
    a = c[(c["label"] == "a|static") & (c["metric"] == "sharpe")].iloc[0]
    assert a["ci_low"] > 0 and a["p_adjusted"] < 0.05
    # Holm over the 3 distinct combinations (identical arms and the reference left out)
    sharpe = c[c["metric"] == "sharpe"]
    distinct = sharpe[sharpe["identical_to"].isna()]
    assert len(distinct) == 3
    assert distinct["p_adjusted"].to_numpy() == pytest.approx(
        np.minimum(1, np.maximum.accumulate(np.sort(distinct["p_value"]) * [3, 2, 1]))[
            np.argsort(np.argsort(distinct["p_value"]))])
    # identical arms keep their rows with identical_to and the first member's numbers
    twin = sharpe[sharpe["label"] == "a|vasicek"].iloc[0]
    assert twin["identical_to"] == "a|static"
    assert (twin["diff"], twin["p_adjusted"]) == (a["diff"], a["p_adjusted"])


def test_one_market_within_market_bootstrap(study):
    table, rets = study(1, 300, edge=0.001, seed=2)
    ev = analyse_study(table, rets, reference="equal", factors=FACTORS, n_boot=99, seed=4)
    c = ev.comparisons
    row = c[(c["label"] == "b|static") & (c["metric"] == "sharpe")].iloc[0]
    block = ev.evidence["settings"]["block_days"]  # one block for every test of the study
    assert block == auto_block_days(rets["m0"][["equal", "a-static", "b-static", "c-static"]])
    direct = sharpe_diff(rets["m0"]["b-static"], rets["m0"]["equal"], n_boot=99, seed=4,
                         block_size=block)
    assert (row["diff"], row["ci_low"], row["p_value"]) == pytest.approx(
        (direct.estimate, direct.ci_low, direct.p_value))
    assert row["method"] == "ledoit-wolf-2008"
    turn = c[c["metric"] == "turnover"]
    assert turn["ci_low"].isna().all() and (turn["method"] == "n/a").all()
    vol = c[c["metric"] == "annual_volatility"]
    assert set(vol["method"]) == {"ewc-log-variance"}
    # 300 days: the volatility rows say their coverage is not held at this length
    assert vol["note"].str.contains("fewer than 2000 days").all()
    assert any("fewer than 2000 days" in n for n in ev.evidence["comparison_notes"])
    assert set(c.loc[c["metric"] == "max_drawdown", "method"]) == {
        "stationary-bootstrap-percentile"}


def test_summary_effects_with_intervals_across_markets(study):
    table, rets = study(6, 250, edge=0.001, seed=3)
    ev = analyse_study(table, rets, reference="equal", factors=FACTORS, n_boot=99)
    s = ev.summary
    assert list(s.columns[:len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    sharpe = s[s["metric"] == "sharpe"].set_index(["factor", "choice"])
    a = sharpe.loc[("mapping", "a")]
    assert a["ci_low"] > 0 and a["p_holm"] < 0.05 and a["n_markets"] == 6
    # hand: per market, mean of the 'a' cells minus mean of the others' cells (identical
    # forecasting cells count once)
    ok = table[~table["benchmark"] & (table["forecasting"] == "static")]
    per = ok.groupby("market").apply(
        lambda g: g.loc[g["mapping"] == "a", "sharpe"].mean()
        - g.loc[g["mapping"] != "a", "sharpe"].mean(), include_groups=False)
    assert a["effect"] == pytest.approx(per.mean())
    assert a["n_cells"] == 6
    # vasicek == static everywhere: effect 0, p-value 1
    v = sharpe.loc[("forecasting", "vasicek")]
    assert (v["effect"], v["p_value"]) == (0.0, 1.0)


def test_grid_tests_count_identical_arms_once(study):
    table, rets = study(3, 250, edge=0.002, seed=4)
    ev = analyse_study(table, rets, reference="equal", factors=FACTORS, n_boot=99)
    e = ev.evidence
    assert e["identical"] == {"a-vasicek": "a|static", "b-vasicek": "b|static",
                              "c-vasicek": "c|static"}
    assert e["dsr"]["n_trials"] == 3 and e["dsr"]["best"] == "a|static"
    assert e["spa"]["n_models"] == 3 and e["spa"]["pvalues"]["consistent"] < 0.05
    assert e["stepm"]["superior"] == ["a|static"]
    assert e["mcs"]["included"] == ["a|static"]
    assert e["pbo"]["n_strategies"] == 3 and e["pbo"]["pbo"] < 0.2
    g = e["settings"]["grid_tests"]
    assert g["days_per_market"] == [250] * 3 and g["period_days"] == 5
    assert g["n_periods"] == 150 and g["periods_per_market"] == [50] * 3
    assert g["reps"] == 99 and g["seed"] == 0 and g["block_days"] >= 1
    # one block length for the study: the grid tests' 5-day periods use it, rounded up
    assert g["block_days"] == e["settings"]["block_days"]
    assert g["block_periods"] == math.ceil(g["block_days"] / 5)
    assert "squared returns" in e["settings"]["block_rule"]


def test_reference_by_id_and_unknown_reference(study):
    table, rets = study(2, 120, seed=5)
    by_id = analyse_study(table, rets, reference="b-static", factors=FACTORS, n_boot=60)
    assert set(by_id.comparisons["reference"]) == {"b|static"}
    assert "b|static" not in set(by_id.comparisons["label"])
    with pytest.raises(ConfigError, match="choose one of: equal, a|static"):
        analyse_study(table, rets, reference="hrp", factors=FACTORS)


def test_failed_rows_and_missing_columns(study):
    table, rets = study(2, 120, seed=6)
    table.loc[(table["label"] == "c|static") & (table["market"] == "m1"), "status"] = "failed"
    ev = analyse_study(table, rets, reference="equal", factors=FACTORS, n_boot=60)
    row = ev.comparisons[(ev.comparisons["label"] == "c|static")
                         & (ev.comparisons["metric"] == "sharpe")].iloc[0]
    assert row["n_markets"] == 1 and math.isnan(row["p_value"])
    assert "c|static" not in ev.evidence["mcs"]["names"]
    with pytest.raises(DataError, match="lacks columns"):
        analyse_study(table.drop(columns=["market"]), rets, reference="equal", factors=FACTORS)
    with pytest.raises(DataError, match="no daily returns for market"):
        analyse_study(table, {"m0": rets["m0"]}, reference="equal", factors=FACTORS, n_boot=60)


def test_write_is_strict_json_and_tables(study, tmp_path):
    table, rets = study(1, 200, seed=7)
    ev = analyse_study(table, rets, reference="equal", factors=FACTORS, n_boot=60)
    paths = ev.write(tmp_path)
    assert sorted(p.name for p in paths) == ["comparisons.csv", "comparisons.parquet",
                                             "evidence.json", "summary.csv", "summary.parquet"]
    def no_nan(s):
        raise AssertionError(f"non-strict JSON constant {s}")
    loaded = json.loads((tmp_path / "evidence.json").read_text(), parse_constant=no_nan)
    assert loaded["reference"]["label"] == "equal"
    back = pd.read_parquet(tmp_path / "comparisons.parquet")
    pd.testing.assert_frame_equal(back, ev.comparisons, check_dtype=False)
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(ConfigError, match="not a folder"):
        ev.write(tmp_path / "nope")


def test_bad_settings(study):
    table, rets = study(1, 120, seed=8)
    for kw in ({"n_boot": 0}, {"alpha": 0}, {"block_days": 0}, {"seed": -2}):
        with pytest.raises(ConfigError):
            analyse_study(table, rets, reference="equal", factors=FACTORS, **kw)


def test_reference_identical_to_a_pipeline_stays_in(study):
    """A benchmark reference identical to a pipeline (hrp after any sensitivities): the pipeline
    becomes identical to the reference (difference 0, adjusted p 1), the grid tests still run."""
    table, rets = study(3, 200, seed=9)
    for m, r in rets.items():
        r["hrp"] = r["b-static"]
        row = table[(table["market"] == m) & (table["id"] == "equal")].iloc[0].copy()
        row[["id", "label", "identical_to"]] = ["hrp", "hrp", "b|static"]
        src = table[(table["market"] == m) & (table["id"] == "b-static")].iloc[0]
        row[["sharpe", "annual_volatility", "max_drawdown", "turnover"]] = src[
            ["sharpe", "annual_volatility", "max_drawdown", "turnover"]]
        table = pd.concat([table, row.to_frame().T], ignore_index=True)
    table.loc[table["label"] == "b|vasicek", "identical_to"] = "b|static"
    ev = analyse_study(table, rets, reference="hrp", factors=FACTORS, n_boot=60)
    c = ev.comparisons[ev.comparisons["metric"] == "sharpe"].set_index("label")
    assert c.loc["b|static", "identical_to"] == "hrp" and c.loc["b|static", "diff"] == 0
    assert c.loc["b|static", "p_adjusted"] == 1.0
    assert c.loc["b|vasicek", "identical_to"] == "hrp"
    assert "spa" in ev.evidence and "b|static" not in ev.evidence["mcs"]["names"]
    assert "hrp" in ev.evidence["mcs"]["names"]
