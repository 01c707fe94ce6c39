"""Issue 23, round three of bad input: markets and replicas counted against the size limit, ruin
instead of a negative NAV, study settings checked before the study starts, and specific errors
(exit status 2, one line, nothing left behind) for dates, seeds, costs, rates and messages."""

from __future__ import annotations

import os
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causalfolio.backtest import BacktestConfig, run_backtest
from causalfolio.backtest.accounting import Book
from causalfolio.cli import main
from causalfolio.data import Market, prices_from_returns, synthetic_market, write_table
from causalfolio.errors import (
    CausalfolioWarning,
    ConfigError,
    DataError,
    ParameterError,
    PluginError,
    SpecError,
)

SPEC = "rccp(k=2)|linear|beta|static|hsp"
SMALL = ["--driver-window", "30", "--train-window", "30", "--cov-window", "20", "--quiet"]
DATA = ["--assets", "assets.csv", "--drivers", "drivers.csv"]


@pytest.fixture(scope="module")
def market() -> Market:
    return synthetic_market(seed=0, n_assets=4, n_days=160, n_noise=2)


@pytest.fixture
def cwd(market, tmp_path) -> Path:
    """A folder with small price files, the working directory of the CLI calls."""
    d = tmp_path / "cwd"
    d.mkdir()
    write_table(prices_from_returns(market.assets), d / "assets.csv")
    write_table(prices_from_returns(market.candidates), d / "drivers.csv")
    return d


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _run(argv: list[str], cwd: Path, capsys) -> tuple[int, str, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        rc = main(argv)
    finally:
        os.chdir(old)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _refused(argv: list[str], cwd: Path, capsys, *needles: str) -> str:
    """Exit status 2, one line naming the problem, no traceback, nothing created."""
    before = _tree(cwd)
    rc, _, err = _run(argv, cwd, capsys)
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("causalfolio: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert _tree(cwd) == before
    return lines[0]


# --- D02: markets x combinations = backtests, bounded before anything is built ----------------

def test_d02_markets_count_against_max_combinations(cwd, capsys):
    ab = ["ablate", "--spec", SPEC, "--benchmark", "equal", "--out", "o", "--quiet"]
    _refused([*ab, "--synthetic", "0:100000"], cwd, capsys,
             "200,000 combinations", "100,000 markets x 2 combinations", "--max-combinations")
    (cwd / "g.toml").write_text("[market]\nsynthetic = [" + ",".join(map(str, range(20_000)))
                                + "]\n")
    _refused([*ab, "--grid", "g.toml"], cwd, capsys, "20,000 markets x 2 combinations")
    _refused([*ab, *DATA, "--resample", "stationary", "--replicas", "1000000"], cwd, capsys,
             "1,000,000 markets x 2 combinations")
    _refused([*ab, "--synthetic", "0:10000000000"], cwd, capsys, "10,000,000,000 seeds")
    rc, out, _ = _run(["ablate", "--synthetic", "0:3", "--spec", SPEC, "--benchmark", "equal",
                       "--dry-run"], cwd, capsys)
    assert rc == 0 and out.strip().splitlines()[-1] == "3 markets x 2 combinations = 6 backtests"


def test_d02_run_ablation_counts_markets_before_building_them(monkeypatch, tmp_path):
    from causalfolio.ablation import Grid, MarketGrid, run_ablation
    from causalfolio.data import synthetic as synth

    def never(**kwargs):
        raise AssertionError("a market was built")

    monkeypatch.setattr(synth, "synthetic_market", never)
    grid = Grid.from_specs([SPEC], benchmarks=["equal"], max_combinations=100)
    with pytest.raises(ConfigError, match=r"backtests: 51 markets x 2 combinations"):
        run_ablation(MarketGrid(synthetic=tuple(range(51))), grid, tmp_path / "o",
                     executor="serial")
    assert not (tmp_path / "o").exists()


# --- D03: a portfolio that loses everything stops at 0 ----------------------------------------

def test_d03_book_ruin_stops_at_zero():
    book = Book(n=2, fixed_cost=30.0)
    port, _ = book.step(np.array([0.01, 0.01]), 0.0, np.array([0.5, 0.5]))  # 60 of 100 in costs
    assert book.nav > 0 and not book.ruined
    book = Book(n=2, fixed_cost=60.0)
    port, _ = book.step(np.array([0.01, 0.01]), 0.0, np.array([0.5, 0.5]))  # 120 > 100
    assert port == -1.0 and book.nav == 0.0 and book.ruined
    assert book.step(np.array([0.5, 0.5]), 0.01, np.array([0.5, 0.5]))[0] == 0.0
    assert book.nav == 0.0
    # a leveraged book losing more than it holds: -100%, not a negative NAV
    book = Book(n=2)
    book.step(np.array([0.0, 0.0]), 0.0, np.array([30.0, -29.0]))
    port, _ = book.step(np.array([-0.05, 0.05]), 0.0)
    assert port == -1.0 and book.nav == 0.0
    # costs above the NAV on a day that also loses more than the NAV: two losses, not a gain
    book = Book(n=2, cost_bps=150.0)
    port, _ = book.step(np.array([-0.05, 0.0]), 0.0, np.array([50.5, -49.5]))
    assert port == -1.0 and book.nav == 0.0 and book.ruined


def test_d03_ruined_backtest_reports_a_total_loss(market):
    cfg = BacktestConfig(driver_window=30, train_window=30, cov_window=20, fixed_cost=40.0,
                         diagnostics=False)
    from causalfolio.errors import RuinWarning

    with pytest.warns(RuinWarning, match="lost everything"):
        res = run_backtest(market, [], cfg, benchmarks=["equal"])
    s = res.strategies["equal"]
    assert (s.nav >= 0).all() and s.nav.iloc[-1] == 0.0
    assert s.ruined_on == res.dates[0]
    m = s.metrics
    assert m["total_return"] == -1.0 and m["annual_return"] == -1.0
    assert np.isnan(m["sharpe"]) and np.isnan(m["sortino"])


def test_d03_d16_absurd_costs_and_exposures_are_refused(cwd, capsys):
    _refused(["backtest", *DATA, "--spec", SPEC, *SMALL, "--fixed-cost", "100", "--out", "o"],
             cwd, capsys, "fixed_cost 100", "starting NAV")
    _refused(["spec", "mvo(long_short=True, net=1000000.0)"], cwd, capsys,
             "'net' must be at most 100")
    _refused(["spec", "mvo(long_short=True, gross=1e999)"], cwd, capsys,
             "too large for a float", ">>1e999<<")
    with pytest.raises(SpecError, match="infinite"):
        from causalfolio.pipeline import parse_spec

        parse_spec("rccp(k=-1e999)|linear|beta|static|hsp")


# --- D04: fixed settings of a study are checked before it starts -----------------------------

@pytest.mark.parametrize(("extra", "needle"), [
    (["--min-weight", "0.3", "--max-weight", "0.2"], "min_weight <= max_weight"),
    (["--fixed-cost", "nan"], "fixed_cost must be"),
    (["--risk-free", "rf.csv"], "risk-free series rf.csv covers"),
    (["--delisting-returns", "dl.csv"], "not in the data: ['ZZZ']"),
    (["--cov-window", "20,21", "--fixed-cost", "0,nan"], "settings cov_window=20 fixed_cost=nan"),
])
def test_d04_ablate_checks_settings_before_the_study(extra, needle, cwd, capsys):
    (cwd / "rf.csv").write_text("date,rf\n2015-06-01,0.0001\n2015-06-02,0.0001\n")
    (cwd / "dl.csv").write_text("asset,return\nZZZ,-0.5\n")
    _refused(["ablate", *DATA, "--spec", SPEC, "--benchmark", "equal", *SMALL, "--executor",
              "serial", "--out", "o", *extra], cwd, capsys, needle)


# --- D10, D18, D23: dates ----------------------------------------------------------------------

def test_d10_time_zone_aware_dates_are_read_as_dates(tmp_path):
    cfg = BacktestConfig(reselect_dates=["2015-09-01T00:00:00+05:00"])
    assert cfg.reselect_dates == (pd.Timestamp("2015-09-01"),)
    f = tmp_path / "dl.csv"
    f.write_text("asset,return,date\nA01,-0.5,2016-01-04T00:00:00+05:00\n")
    assert BacktestConfig(delisting_returns=str(f)).delistings == {
        "A01": (-0.5, pd.Timestamp("2016-01-04"))}


@pytest.mark.parametrize("seed", ["-1", '"x"'])
def test_d10_market_seed_is_checked(seed, cwd, capsys):
    (cwd / "g.toml").write_text(f"[market]\nseed = {seed}\n")
    _refused(["ablate", *DATA, "--resample", "stationary", "--grid", "g.toml", "--spec", SPEC,
              "--dry-run"], cwd, capsys, "[market] seed")


def test_d18_d23_dates_that_are_not_dates(cwd, capsys, market):
    _refused(["backtest", *DATA, "--spec", SPEC, *SMALL, "--reselect-dates", "now", "--out", "o"],
             cwd, capsys, "reselect_dates date 'now' is invalid")
    with pytest.raises(DataError, match="unparseable date 'notadate' for asset 'A01'"):
        BacktestConfig(delisting_returns={"A01": (-0.5, "notadate")})
    cfg = BacktestConfig(driver_window=30, train_window=30, cov_window=20, diagnostics=False,
                         reselect_dates=["2100-01-01"])
    with pytest.warns(CausalfolioWarning, match="reselect date 2100-01-01 is after the last"):
        run_backtest(market, [SPEC], cfg)


# --- D11: nothing investable -------------------------------------------------------------------

def test_d11_every_asset_delisted_is_an_error_not_a_division_by_zero(cwd, capsys):
    a = pd.read_csv(cwd / "assets.csv", index_col=0)
    a.iloc[100:] = np.nan
    a.to_csv(cwd / "dead.csv")
    _refused(["backtest", "--assets", "dead.csv", "--drivers", "drivers.csv", "--spec", SPEC,
              *SMALL, "--bounds-policy", "relax", "--out", "o"], cwd, capsys,
             "no asset is investable")
    _refused(["ablate", "--assets", "dead.csv", "--drivers", "drivers.csv", "--spec", SPEC,
              *SMALL, "--bounds-policy", "relax", "--executor", "serial", "--out", "o"], cwd,
             capsys, "no asset is investable")


# --- D14, D15: seeds and scikit-learn options --------------------------------------------------

def test_d14_huge_seeds_are_refused_up_front(cwd, capsys):
    big = "99999999999999999999999"
    _refused(["ablate", "--synthetic", big, "--spec", SPEC, "--out", "o"], cwd, capsys,
             "at most 4294967295")
    _refused(["backtest", *DATA, "--spec", SPEC, *SMALL, "--seed", big, "--out", "o"], cwd,
             capsys, "seed must be at most")
    _refused(["ablate", "--synthetic", "0", "--spec", SPEC, "--seed", big, "--out", "o"], cwd,
             capsys, "seed must be at most")


def test_d15_sklearn_invalid_parameter_is_a_parameter_error():
    from causalfolio.plugins.dynamics._estimators import resolve
    from causalfolio.plugins.dynamics.sklearn_model import build_estimator

    resolved = resolve("TransformedTargetRegressor")
    with pytest.raises(ParameterError, match="'func' parameter of TransformedTargetRegressor"):
        build_estimator(resolved, {"func": "os.system", "inverse_func": "os.system"}, 0)


# --- D18, D23: implausible rates and returns; inputs of the wrong type -------------------------

def test_d18_implausible_rates_returns_and_levels(cwd, capsys, market):
    (cwd / "rf.csv").write_text("date,rf\n2015-01-01,2.0\n2020-01-01,2.0\n")
    _refused(["backtest", *DATA, "--spec", SPEC, *SMALL, "--risk-free", "rf.csv", "--out", "o"],
             cwd, capsys, "risk-free return 2 on 2015-01-01", "fraction per day")
    (cwd / "dl.csv").write_text("asset,return\nA01,1e300\n")
    _refused(["backtest", *DATA, "--spec", SPEC, *SMALL, "--delisting-returns", "dl.csv",
              "--out", "o"], cwd, capsys, "delisting return must be in [-1, 10]")
    tiny = prices_from_returns(market.assets) * 1e-320
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not 44 overflow warnings: one error
        with pytest.raises(DataError, match="below the smallest normal float"):
            Market.from_frames(tiny, prices_from_returns(market.candidates))


def test_d23_wrong_types_are_causalfolio_errors():
    from causalfolio.evidence import sharpe_diff

    idx = pd.to_datetime(["2020-01-01", "2020-01-02"])
    with pytest.raises(DataError, match="risk-free value on 2020-01-01 is missing or not a"):
        BacktestConfig(risk_free=pd.Series(["x", "y"], index=idx))
    with pytest.raises(DataError, match="expected numbers"):
        sharpe_diff(["a"] * 20, ["b"] * 20)


# --- D19: messages that say what is wrong, in bounded length ----------------------------------

def test_d19_messages_name_the_real_problem(cwd, capsys, market):
    from causalfolio.ablation import Grid, run_ablation

    grid = Grid.from_specs([SPEC], settings={"driver_window": 30, "train_window": 30,
                                             "cov_window": 20})
    (cwd / "abl" / "rows").mkdir(parents=True)
    (cwd / "abl" / "study.json").write_text('{"context": ')  # a study cut short
    with pytest.raises(ConfigError, match="damaged study.json"):
        run_ablation(market, grid, cwd / "abl", executor="serial", cache_dir=None)
    (cwd / "dangling").symlink_to(cwd / "nowhere")
    _refused(["backtest", *DATA, "--spec", SPEC, *SMALL, "--out", "dangling"], cwd, capsys,
             "symbolic link", "does not exist")
    _refused(["backtest", *DATA, "--spec", SPEC, *SMALL, "--risk-free", "", "--out", "o"], cwd,
             capsys, "risk_free is empty")
    line = _refused(["spec", "rccp(k=3)|linear|beta|static|" + "x" * 1_000_000], cwd, capsys,
                    "unknown risk mapping")
    assert len(line) < 3000


# --- D22: negative values after an option -----------------------------------------------------

def test_d22_negative_lists_are_values(cwd, capsys):
    rc, out, err = _run(["ablate", "--synthetic", "0", "--spec", SPEC, "--risk-free", "-0.01,0",
                         "--dry-run"], cwd, capsys)
    assert rc == 0, err
    assert out.strip().splitlines()[-1] == "1 market x 2 combinations = 2 backtests"
    _refused(["ablate", "--synthetic", "0", "--spec", SPEC, "--band", "-1,0", "--dry-run"], cwd,
             capsys, "band must be a number in [0, 1), got -1.0")


# --- also seen: blocked plugins, plugins the workers cannot see --------------------------------

def test_a_blocked_component_is_named_as_blocked():
    from causalfolio.pipeline import parse_spec
    from causalfolio.registry import build_registry

    reg = build_registry(autoload=False, block=["causalfolio.plugins.mapping.hrp"])
    with pytest.raises(SpecError, match="risk mapping 'hrp' is blocked: plugin "
                                        "'causalfolio.plugins.mapping.hrp' provides it"):
        parse_spec("hrp", reg)
    reg = build_registry(autoload=False, block=["acme"])
    with pytest.raises(SpecError, match="blocks 'acme': not loaded"):
        parse_spec("hrpx", reg)


def test_a_plugin_under_the_main_guard_is_refused_before_the_study(monkeypatch, tmp_path,
                                                                   market):
    from causalfolio.ablation import Grid, run_ablation
    from causalfolio.hookspecs import hookimpl
    from causalfolio.registry import build_registry

    script = tmp_path / "study.py"
    script.write_text("import attrs\n\nclass Helper:\n    pass\n\n"
                      "if __name__ == '__main__':\n    class Plug:\n        pass\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(script)

    class Plug:
        @staticmethod
        @hookimpl
        def register_mappings(register):
            pass

    Plug.__module__ = "__main__"
    Plug.__qualname__ = "Plug"
    fake.Plug = Plug  # pickles by reference, as in the script's own process
    monkeypatch.setitem(sys.modules, "__main__", fake)
    reg = build_registry(autoload=False, extra_plugins=[("mine", Plug)])
    grid = Grid.from_specs([SPEC], registry=reg)
    with pytest.raises(PluginError, match=r"Plug is defined under 'if __name__ == \"__main__\":'"):
        run_ablation(market, grid, tmp_path / "o", executor="processes")
    assert not (tmp_path / "o").exists()
    script.write_text("class Plug:\n    pass\n")  # at the top level: workers see it
    reg.check_portable()
