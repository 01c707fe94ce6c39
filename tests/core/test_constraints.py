"""Per-asset and group constraints with one spelling in the Python API, the command line, TOML
grids, Pipeline.run and CausalPortfolio (issue 24): the linear-constraint grammar (no eval),
per-date resolution on changing universes, infeasible cases naming the date and the group."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import causalfolio as cf
from causalfolio.ablation import Grid
from causalfolio.backtest import BacktestConfig, run_backtest
from causalfolio.cli import build_parser, main
from causalfolio.constraints import Constraints, InfeasibleConstraintsError, parse_linear
from causalfolio.data import Market
from causalfolio.errors import ConfigError

G1 = [f"A0{i}" for i in range(4)]
SETTINGS = dict(min_weight=0.02, max_weight={"A00": 0.05, "A05": 0.2},
                groups={**{a: "G1" for a in G1}, "A06": ["G2"], "A07": ["G2", "Odd"]},
                linear_constraints=["G1 <= 0.3", "G2 >= 0.25", "A04 >= 0.5 * A05"])


def _meets(weights: pd.DataFrame, *, g2=("A06", "A07"), tol=1e-7) -> None:
    """Every row (zeros: assets not investable) meets SETTINGS on its investable assets."""
    for _, w in weights.iterrows():
        w = w[w > 0]
        assert abs(w.sum() - 1) < tol and w.min() >= 0.02 - tol and w.get("A00", 0) <= 0.05 + tol
        assert w.reindex(G1).fillna(0).sum() <= 0.3 + tol
        assert w.reindex(list(g2)).fillna(0).sum() >= 0.25 - tol
        assert w.get("A04", 0) >= 0.5 * w.get("A05", 0) - tol


@pytest.mark.parametrize("text, terms, rhs, eq", [
    ("Tech <= 0.3", {"Tech": 1.0}, 0.3, False),
    ("2*A - B >= -0.1", {"A": -2.0, "B": 1.0}, 0.1, False),
    ("A >= 0.5 * B", {"A": -1.0, "B": 0.5}, 0.0, False),
    ("'BRK-B' + X*2 = 0.2 + 0.1", {"BRK-B": 1.0, "X": 2.0}, 0.3, True),
    ("-Tech + 1 <= Energy", {"Tech": -1.0, "Energy": -1.0}, -1.0, False),
])
def test_linear_constraints_parse_into_rows(text, terms, rhs, eq):
    lc = parse_linear(text)
    assert dict(lc.terms) == terms and lc.rhs == pytest.approx(rhs) and lc.equality is eq


@pytest.mark.parametrize("text, fragment", [
    ("Tech < 0.3", "cannot read"), ("Tech <= 0.3 <= 0.4", "exactly one of"),
    ("__import__('os').system('echo hi') <= 1", "cannot read"), ("Tech <=", "side"),
    ("2 * 3 <= A", "expected a name after *"), ("0.1 <= 0.3", "names no asset"),
    ("A B <= 1", "expected + or -"), ("", "a linear constraint is a string"),
])
def test_bad_linear_constraints_are_config_errors(text, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        parse_linear(text)


def test_settings_from_numbers_mappings_and_files(tmp_path):
    (tmp_path / "max.csv").write_text("asset,max_weight\nA00,0.05\nA05,0.2\n")
    (tmp_path / "groups.csv").write_text("asset,group\n" + "".join(f"{a},G1\n" for a in G1)
                                         + "A06,G2\nA07,G2\nA07,Odd\n")
    from_files = BacktestConfig(min_weight="0.02", max_weight=str(tmp_path / "max.csv"),
                                groups=str(tmp_path / "groups.csv"),
                                linear_constraints=SETTINGS["linear_constraints"])
    assert from_files.constraints == BacktestConfig(**SETTINGS).constraints
    assert from_files.min_weight == 0.02
    with pytest.raises(ConfigError, match="asset 'A' has min_weight 0.5 > max_weight 0.2"):
        Constraints.from_settings({"A": 0.5}, {"A": 0.2})
    with pytest.raises(ConfigError, match=r"must be a weight in \[0, 1\]"):
        BacktestConfig(max_weight={"A": 1.5})
    with pytest.raises(ConfigError, match="'G1' is both an asset and a group"):
        Constraints.from_settings(groups={"G1": "X", "A": "G1"})
    with pytest.raises(ConfigError, match="max_weight names 'APPL', which is neither an "
                                          "asset of the data nor a group; did you mean 'AAPL'"):
        Constraints.from_settings(max_weight={"APPL": 0.1}).check_assets(
            ["AAPL", "MSFT"], "the data")
    with pytest.raises(ConfigError, match="'MSFT' is both an asset of the data and a group"):
        Constraints.from_settings(groups={"AAPL": "MSFT"}).check_assets(["AAPL", "MSFT"],
                                                                        "the data")


def test_resolution_drops_assets_that_are_not_investable():
    c = Constraints.from_settings(max_weight={"A": 0.6}, groups={"A": "T", "B": "T"},
                                  linear_constraints=["T >= 0.3", "C <= 0.5"])
    day = pd.Timestamp("2020-03-02")
    both = c.resolve(("A", "B", "C"), day)
    np.testing.assert_array_equal(both.a_ub, [[-1, -1, 0], [0, 0, 1]])
    one = c.resolve(("B", "D"), day)  # A and C are not investable: only B carries T
    np.testing.assert_array_equal(one.a_ub, [[-1, 0]])
    np.testing.assert_array_equal(one.hi, [1, 1])
    with pytest.raises(InfeasibleConstraintsError,
                       match="on 2020-03-02: the constraint 'T >= 0.3' cannot hold: group 'T' "
                             "has no investable asset"):
        c.resolve(("C", "D"), day)


def test_infeasible_constraints_name_the_group_and_the_date():
    c = Constraints.from_settings(max_weight=0.1, groups={"A": "T", "B": "T"},
                                  linear_constraints=["T >= 0.3"])
    with pytest.raises(InfeasibleConstraintsError,
                       match=r"on 2021-05-03: the constraint 'T >= 0.3' \(group 'T': 2 "
                             r"investable of 2 \(A, B\)\) cannot hold"):
        c.resolve(tuple("ABCDEFGHIJ"), "2021-05-03")
    c = Constraints.from_settings(groups={"A": "T", "B": "U"},
                                  linear_constraints=["T >= 0.6", "U >= 0.6"])
    with pytest.raises(InfeasibleConstraintsError, match="cannot hold together"):
        c.resolve(("A", "B", "C"), "2021-05-03")
    relaxed = Constraints.from_settings(max_weight={"A": 0.2, "B": 0.2, "C": 0.2},
                                        bounds_policy="relax").resolve(("A", "B", "C"))
    assert relaxed.relaxed and np.allclose(relaxed.hi, 1 / 3)
    with pytest.raises(InfeasibleConstraintsError, match="maximum weights to 0.6"):
        Constraints.from_settings(max_weight={"A": 0.2, "B": 0.2, "C": 0.2}).resolve("ABC")


def test_backtest_api_on_a_changing_universe(small_market):
    a = small_market.assets.copy()
    a.iloc[:250, a.columns.get_loc("A07")] = np.nan  # A07 lists later: G2 is A06 alone before
    market = Market(a, small_market.candidates, small_market.truth)
    config = BacktestConfig(**SETTINGS, cov_window=40, schedule="quarterly")
    res = run_backtest(market, "mvo", config)
    w = res.strategies["mvo"].weights
    _meets(w)
    early = w.index[w["A07"] == 0]
    assert len(early) and (w.loc[early, "A06"] >= 0.25 - 1e-7).all()
    with pytest.raises(ConfigError, match="hrp cannot enforce group or linear constraints"):
        run_backtest(market, "hrp", config)
    late = BacktestConfig(**{**SETTINGS, "linear_constraints": ["A07 >= 0.1"]}, cov_window=40,
                          schedule="quarterly")
    with pytest.raises(InfeasibleConstraintsError, match=r"on 2015-\d\d-\d\d: the constraint "
                                                          "'A07 >= 0.1' cannot hold"):
        run_backtest(market, "mvo", late)


def test_pipeline_run_and_causal_portfolio_take_the_same_names(small_market):
    date = small_market.dates[300]
    pipe = cf.parse_spec("mvo")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        direct = pipe.run(small_market.assets, None, date, cov_window=40, **SETTINGS)
    built = pipe.run(small_market.assets, None, date, cov_window=40,
                     constraints=BacktestConfig(**SETTINGS).constraints)
    np.testing.assert_array_equal(direct.weights, built.weights)
    _meets(direct.weights.to_frame().T)
    with pytest.raises(ConfigError, match="either constraints= or"):
        pipe.run(small_market.assets, None, date, constraints=Constraints(), max_weight=0.5)
    from causalfolio.sklearn import CausalPortfolio

    x = small_market.assets.loc[small_market.assets.index < date].iloc[-40:]
    est = CausalPortfolio(spec="mvo", cov_window=40, **SETTINGS).fit(x)
    np.testing.assert_allclose(est.weights_, direct.weights.to_numpy(), rtol=0, atol=1e-12)
    with pytest.raises(ConfigError, match="neither an asset of X"):
        CausalPortfolio(spec="mvo", cov_window=40, max_weight={"ZZZ": 0.1}).fit(x)


def test_toml_grid_and_cli_give_the_same_config(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(
        'specs = ["rccp(k=3)|linear|beta|static|mvo"]\n[backtest]\nmin_weight = 0.02\n'
        'max_weight = {A00 = 0.05, A05 = 0.2}\nlinear_constraints = ["G1 <= 0.3", '
        '"G2 >= 0.25", "A04 >= 0.5 * A05"]\n'
        '[backtest.groups]\nA00 = "G1"\nA01 = "G1"\nA02 = "G1"\nA03 = "G1"\nA06 = ["G2"]\n'
        'A07 = ["G2", "Odd"]\n')
    (combo,) = Grid.from_toml(grid).combinations()
    python = BacktestConfig(**SETTINGS)
    assert combo.config(Grid.from_toml(grid).fixed) == python
    # per-asset bounds as an axis: a table and a number are two values
    axis = Grid.from_specs("rccp(k=3)|linear|beta|static|mvo",
                           settings={"max_weight": [{"A05": 0.2, "A00": 0.05}, 0.3]})
    configs = [c.config(axis.fixed) for c in axis.combinations()]
    assert [c.max_weight for c in configs] == [{"A00": 0.05, "A05": 0.2}, 0.3]
    (tmp_path / "max.csv").write_text("asset,max_weight\nA00,0.05\nA05,0.2\n")
    (tmp_path / "groups.csv").write_text("asset,group\n" + "".join(f"{a},G1\n" for a in G1)
                                         + "A06,G2\nA07,G2\nA07,Odd\n")
    from causalfolio.cli import _config

    args = build_parser().parse_args([
        "backtest", "--assets", "a.csv", "--drivers", "d.csv", "--spec", "mvo",
        "--min-weight", "0.02", "--max-weight", str(tmp_path / "max.csv"),
        "--groups", str(tmp_path / "groups.csv"),
        *[t for c in SETTINGS["linear_constraints"] for t in ("--linear-constraints", c)]])
    assert _config(args).constraints == python.constraints


def test_cli_backtest_with_constraints_and_the_infeasible_exit_2(tmp_path, capsys):
    data = tmp_path / "data"
    main(["datasets", "synthetic", "--out", str(data), "--n-assets", "8", "--n-days", "300"])
    (tmp_path / "groups.csv").write_text("asset,group\n" + "".join(f"{a},G1\n" for a in G1)
                                         + "A06,G2\nA07,G2\n")
    base = ["backtest", "--assets", str(data / "assets.csv"), "--drivers",
            str(data / "drivers.csv"), "--spec", "mvo", "--cov-window", "40", "--quiet",
            "--schedule", "quarterly", "--groups", str(tmp_path / "groups.csv"),
            "--min-weight", "0.02"]
    capsys.readouterr()
    code = main([*base, "--out", str(tmp_path / "ok"), "--linear-constraints", "G1 <= 0.3",
                 "--linear-constraints", "G2 >= 0.25"])
    assert code == 0, capsys.readouterr().err
    w = pd.read_csv(next((tmp_path / "ok" / "weights").glob("*.csv")), index_col="date")
    w = w.drop(columns="turnover")
    assert (w[G1].sum(axis=1) <= 0.3 + 1e-7).all() and (w.min(axis=1) >= 0.02 - 1e-7).all()
    assert (w[["A06", "A07"]].sum(axis=1) >= 0.25 - 1e-7).all()
    capsys.readouterr()
    code = main([*base, "--out", str(tmp_path / "bad"), "--linear-constraints", "G2 >= 0.99"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "the constraint 'G2 >= 0.99' (group 'G2'" in err
    assert err.split("error: ")[1].startswith("on 2015-") and err.count(" on 20") == 1
    assert not (tmp_path / "bad").exists()


def test_ablate_takes_the_group_constraints_for_the_whole_grid(tmp_path, capsys):
    (tmp_path / "groups.csv").write_text("asset,group\nA00,G1\nA01,G1\n")
    base = ["ablate", "--synthetic", "3", "--spec", "rccp(k=3)|linear|beta|static|mvo",
            "--groups", str(tmp_path / "groups.csv"), "--max-weight", "0.3,0.5", "--dry-run"]
    args = build_parser().parse_args([*base, "--linear-constraints", "G1 <= 0.2"])
    assert (args.groups, args.linear_constraints) == (str(tmp_path / "groups.csv"),
                                                      ["G1 <= 0.2"])
    assert main([*base, "--linear-constraints", "G1 < 0.2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "linear constraint 'G1 < 0.2': cannot read" in err


def test_per_asset_bounds_as_an_ablation_axis_write_readable_results(tmp_path):
    from causalfolio.ablation.summary import results_table

    grid = Grid.from_specs([], benchmarks=["equal"], settings={
        "max_weight": [{"A00": 0.1}, 0.5, "caps.csv"], "groups": {"A00": "T", "A01": "T"},
        "linear_constraints": ["T <= 0.2"]})
    combos = grid.combinations()
    assert combos[0].label == "equal @ max_weight={'A00': 0.1}"
    assert combos[0].config(grid.fixed).constraints.linear[0].text == "T <= 0.2"
    table = results_table(combos, {c.id: {"status": "ok"} for c in combos}, ["max_weight"])
    table.to_parquet(tmp_path / "r.parquet")  # one column type: text
    assert list(pd.read_parquet(tmp_path / "r.parquet")["max_weight"]) == [
        "{'A00': 0.1}", "0.5", "caps.csv"]
