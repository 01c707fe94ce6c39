"""Every bad input through the real CLI: exit status 2, one line on stderr naming the problem, no
traceback, and nothing left behind (issue 14, item 3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causalfolio.ablation import Grid, run_ablation
from causalfolio.backtest import BacktestConfig, run_backtest, write_run
from causalfolio.cli import main
from causalfolio.data import Market, prices_from_returns, synthetic_market, write_table
from causalfolio.errors import ConfigError, DataError, ParameterError, SpecError
from causalfolio.pipeline import Windows

SPEC = "rccp(k=2)|linear|beta|static|hsp"
SMALL = ["--driver-window", "30", "--train-window", "30", "--cov-window", "20", "--quiet"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A workspace: small price files, bad variants of them, a run folder, an ablation folder."""
    root = tmp_path_factory.mktemp("bad-input")
    m = synthetic_market(seed=0, n_assets=4, n_days=160, n_noise=2)
    assets, drivers = prices_from_returns(m.assets), prices_from_returns(m.candidates)
    write_table(assets, root / "assets.csv")
    write_table(drivers, root / "drivers.csv")
    text = (root / "assets.csv").read_text().splitlines()
    head, rows = text[0].split(","), text[1:]
    # dates with two different time-zone offsets
    tz = [r.replace(",", "T00:00:00+00:00,", 1) if k < 5 else r.replace(",", "T00:00:00+05:00,", 1)
          for k, r in enumerate(rows)]
    (root / "tz.csv").write_text("\n".join([text[0], *tz]) + "\n")
    dup = head.copy()
    dup[3] = dup[2]  # A01,A01: pandas would rename the second to A01.1
    (root / "dup.csv").write_text("\n".join([",".join(dup), *rows]) + "\n")
    empty = head.copy()
    empty[3] = ""  # pandas would call it 'Unnamed: 3'
    (root / "empty.csv").write_text("\n".join([",".join(empty), *rows]) + "\n")
    assets.reset_index(drop=True).to_csv(root / "nodate.csv", index=False)
    ret = m.assets.copy()
    ret.iloc[50, 1] = -1.0  # a loss of 100%: the NAV ends (inf/NaN downstream)
    write_table(ret, root / "ret_minus1.csv")
    write_table(m.candidates, root / "ret_drivers.csv")
    # a finished run folder and a finished ablation folder to damage
    cfg = BacktestConfig(windows=Windows(drivers=30, train=30, cov=20), start="2015-06-01",
                         diagnostics=False)
    market = Market.from_frames(assets, drivers)
    write_run(run_backtest(market, [SPEC], cfg, benchmarks=["equal"]), root / "run")
    grid = Grid.from_specs([SPEC], benchmarks=["equal"],
                           settings={"driver_window": 30, "train_window": 30, "cov_window": 20,
                                     "start": "2015-06-01"})
    run_ablation(market, grid, root / "abl", executor="serial", cache_dir=None)
    return root


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _cli(argv: list[str], cwd: Path, capsys) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        rc = main(argv)
    finally:
        os.chdir(old)
    return rc, capsys.readouterr().err


def _expect_one_line(rc: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("causalfolio: error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


BT = ["backtest", "--assets", "assets.csv", "--drivers", "drivers.csv", "--spec", SPEC, *SMALL]
AB = ["ablate", "--synthetic", "0", "--spec", SPEC, "--quiet", "--executor", "serial"]

CASES = {
    # dates in data files
    "mixed-tz": (["backtest", "--assets", "tz.csv", "--drivers", "drivers.csv", "--spec", SPEC,
                  "--out", "o"], ["tz.csv", "time-zone offsets", "+00:00", "+05:00", "row 6"]),
    "no-date-column": (["backtest", "--assets", "nodate.csv", "--drivers", "drivers.csv",
                        "--spec", SPEC, "--out", "o"], ["nodate.csv", "no date column", "'date'"]),
    # columns
    "duplicate-column": (["backtest", "--assets", "dup.csv", "--drivers", "drivers.csv",
                          "--spec", SPEC, "--out", "o"], ["dup.csv", "'A01'", "twice"]),
    "empty-column-name": (["backtest", "--assets", "empty.csv", "--drivers", "drivers.csv",
                           "--spec", SPEC, "--out", "o"], ["empty.csv", "column 4", "no name"]),
    # returns
    "returns-are-prices": ([*BT, "--kind", "returns", "--out", "o"],
                           ["assets series", "looks like prices", "--kind prices"]),
    "return-minus-100pct": (["backtest", "--assets", "ret_minus1.csv", "--drivers",
                             "ret_drivers.csv", "--kind", "returns", "--spec", SPEC, *SMALL,
                             "--out", "o"], ["'A01'", "> -1", "2015-"]),
    # --start/--end
    "backtest-start-notadate": ([*BT, "--start", "notadate", "--out", "o"],
                                ["start date 'notadate'", "YYYY-MM-DD"]),
    "backtest-start-feb30": ([*BT, "--start", "2016-02-30", "--out", "o"],
                             ["start date '2016-02-30'", "out of range"]),
    "backtest-end-feb30": ([*BT, "--end", "2016-02-30", "--out", "o"],
                           ["end date '2016-02-30'", "out of range"]),
    "ablate-start-notadate": ([*AB, "--start", "notadate", "--out", "o"],
                              ["start date 'notadate'"]),
    "ablate-end-feb30": ([*AB, "--end", "2016-02-30", "--dry-run"], ["end date '2016-02-30'"]),
    "no-rebalance-in-range": ([*BT, "--start", "2015-03-03", "--end", "2015-03-20", "--out", "o"],
                              ["monthly schedule", "2015-03-03 and 2015-03-20",
                               "data's dates run from 2015-01-01"]),
    # specs and grids
    "spec-3000-braces": (["spec", "{" * 3000 + "hsp" + "}" * 3000], ["nested more than 32"]),
    "ablate-3000-braces": ([*AB[:3], "--spec", "{" * 3000 + "hsp" + "}" * 3000, "--dry-run"],
                           ["nested more than 32"]),
    "toml-2000-deep": ([*AB[:3], "--grid", "deep.toml", "--dry-run"],
                       ["deep.toml", "nested more than 32", "line 1"]),
    "parameter-twice": (["spec", "rccp(k=3,k=4)|linear|beta|static|hsp"],
                        ["parameter k given twice", ">>k=4<<"]),
    "fnn-huge": (["spec", "rccp(k=3)|fnn(hidden=[[100000,100000]])|beta|static|hsp"],
                 ["hidden=[100000, 100000]", "GiB", "10,000,400,001 parameters"]),
    # execution options
    "scheduler-not-a-url": ([*AB[:5], "--executor", "dask", "--scheduler", "not a url",
                             "--out", "o/abl"], ["scheduler 'not a url'", "tcp://HOST:PORT"]),
    "scheduler-without-dask": ([*AB, "--scheduler", "tcp://127.0.0.1:8786", "--out", "o"],
                               ["--executor dask"]),
    "datasets-negative-seed": (["datasets", "synthetic", "--seed", "-5", "--out", "o"],
                               ["--seed", ">= 0", "-5"]),
    "demo-negative-data-seed": (["demo", "--data-seed", "-5", "--out", "o", "--quiet"],
                                ["--data-seed"]),
    "ablate-negative-synthetic": ([*AB[:1], "--synthetic", "-5", *AB[3:], "--out", "o"],
                                  ["--synthetic"]),
}

for _cmd, _argv in {"backtest": BT, "demo": ["demo", "--quiet"], "ablate": AB,
                    "datasets": ["datasets", "synthetic"]}.items():
    for _out, _needle in (("assets.csv/x", "assets.csv is a file"), ("/proc/x", "/proc"),
                          (".", "does not name a new folder"),
                          ("x/..", "does not name a new folder")):
        CASES[f"{_cmd}-out-{_out}"] = ([*_argv, "--out", _out], ["--out", _needle])
for _out, _needle in (("assets.csv/x.html", "assets.csv is a file"), ("/proc/x.html", "/proc"),
                      (".", "does not name a new file"), ("x/..", "does not name a new file"),
                      ("outdir", "is a folder; give a file name")):
    CASES[f"report-out-{_out}"] = (["report", "run", "--out", _out], ["--out", _needle])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line(case, ws, tmp_path, capsys):
    argv, needles = CASES[case]
    cwd = tmp_path / "cwd"
    for name in ("assets.csv", "drivers.csv", "tz.csv", "dup.csv", "empty.csv", "nodate.csv",
                 "ret_minus1.csv", "ret_drivers.csv"):
        (cwd / name).parent.mkdir(exist_ok=True)
        (cwd / name).write_bytes((ws / name).read_bytes())
    (cwd / "deep.toml").write_text("specs = " + "[" * 2000 + "]" * 2000 + "\n")
    (cwd / "outdir").mkdir()
    if argv[0] == "report":
        _copy(ws / "run", cwd / "run")
    before = _tree(cwd)
    rc, err = _cli(argv, cwd, capsys)
    _expect_one_line(rc, err, *needles)
    assert _tree(cwd) == before  # no empty folder, no .tmp, nothing half-written


# --- damaged result folders --------------------------------------------------------------------

def _damage_run(p: Path, what: str) -> str:
    meta = json.loads((p / "run.json").read_text())
    slug = next(iter(meta["strategies"].values()))
    if what == "run.json":
        (p / "run.json").write_text('{"strategies": ')
        return "run.json is damaged"
    if what == "run.json-keys":
        (p / "run.json").write_text(json.dumps({"config": {}}))
        return "run.json is damaged ('strategies'"
    if what == "metrics":
        (p / "metrics.csv").write_text("strategy,sharpe\nx,abc\n")
        return "metrics.csv is damaged"
    if what == "nav":
        (p / "nav.parquet").write_bytes(b"PAR1 not really")
        return "nav.parquet is damaged"
    if what == "rebalances":
        (p / "rebalances" / f"{slug}.json").write_text('{"label": "x", "rebalances": [{"dat')
        return f"rebalances/{slug}.json is damaged"
    if what == "rebalances-shape":
        (p / "rebalances" / f"{slug}.json").write_text('{"label": "x", "rebalances": 3}')
        return f"rebalances/{slug}.json is damaged"
    if what == "weights":
        import shutil

        shutil.rmtree(p / "weights")
        return "weights/"
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["run.json", "run.json-keys", "metrics", "nav", "rebalances",
                                  "rebalances-shape", "weights"])
def test_report_on_a_damaged_run_folder(what, ws, tmp_path, capsys):
    run = _copy(ws / "run", tmp_path / "run")
    needle = _damage_run(run, what)
    before = _tree(tmp_path)
    rc, err = _cli(["report", "run"], tmp_path, capsys)
    _expect_one_line(rc, err, needle, "rerun")
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("what", ["study.json", "results"])
def test_report_on_a_damaged_ablation_folder(what, ws, tmp_path, capsys):
    abl = _copy(ws / "abl", tmp_path / "abl")
    if what == "study.json":
        (abl / "study.json").write_text('{"context": [')
        needle = "study.json is damaged"
    else:
        (abl / "results.parquet").unlink()
        (abl / "results.csv").write_text("foo,bar\n1,2\n")
        needle = "results.csv is damaged (no column 'status')"
    before = _tree(tmp_path)
    rc, err = _cli(["report", "abl"], tmp_path, capsys)
    _expect_one_line(rc, err, needle, "causalfolio ablate")
    assert _tree(tmp_path) == before


# --- the same checks through the Python API ----------------------------------------------------

@pytest.mark.parametrize(("value", "needle"), [
    ("notadate", "not a date"), ("2016-02-30", "out of range"), ("", "empty"),
    (20160101, "a number"), (True, "a number"),
])
def test_parse_date_refuses(value, needle):
    from causalfolio.checks import parse_date

    with pytest.raises(ConfigError, match=needle):
        parse_date(value, "start")
    with pytest.raises(ConfigError, match="start date"):
        BacktestConfig(start=value)
    with pytest.raises(ConfigError, match="end date"):
        Grid.from_specs([SPEC], settings={"end": value})


def test_parse_date_accepts_dates_and_drops_offsets():
    from causalfolio.checks import parse_date

    assert parse_date("2016-02-29", "start") == pd.Timestamp("2016-02-29")
    assert parse_date("2016-02-29T00:00:00+05:00", "start") == pd.Timestamp("2016-02-29")
    assert parse_date(pd.Timestamp("2016-03-01"), "end") == pd.Timestamp("2016-03-01")
    assert parse_date(None, "end") is None


def test_out_path_check_leaves_nothing(tmp_path):
    from causalfolio.checks import check_out_path

    (tmp_path / "f").write_text("x")
    before = _tree(tmp_path)
    assert check_out_path(tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    with pytest.raises(ConfigError, match="is a file"):
        check_out_path(tmp_path / "f" / "x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_out_path(tmp_path / "f")
    assert _tree(tmp_path) == before


def test_scheduler_is_checked_before_the_out_folder_is_made(tmp_path):
    m = synthetic_market(seed=0, n_assets=4, n_days=160, n_noise=2)
    grid = Grid.from_specs([SPEC])
    for bad in ("not a url", "tcp://host:99999", "http://host:8786"):
        with pytest.raises(ConfigError, match="not a Dask scheduler address"):
            run_ablation(m, grid, tmp_path / "o", executor="dask", scheduler=bad)
    assert not (tmp_path / "o").exists()


def test_toml_nesting_scan_skips_strings_and_comments(tmp_path):
    deep = "[" * 40
    f = tmp_path / "g.toml"
    f.write_text(f'specs = ["{SPEC}"]  # {deep}\n'
                 "benchmarks = ['equal']\n[backtest]\ncov_window = [20, 42]\n"
                 f'start = """2015-06-01"""  # "{deep}\n')
    g = Grid.from_toml(f)
    assert g.specs == (SPEC,) and dict(g.axes)["cov_window"] == (20, 42)
    # 40 brackets inside a string are the spec's business (SpecError), not the file's
    f.write_text(f"specs = ['''rccp(k=2)|linear(lags={deep}0{']' * 40})|beta|static|hsp''']\n")
    with pytest.raises(SpecError, match="nested more than 32 deep in the spec"):
        Grid.from_toml(f)
    f.write_text("specs = " + "[" * 33 + "]" * 33 + "\n")
    with pytest.raises(ConfigError, match="nested more than 32 deep on line 1"):
        Grid.from_toml(f)


def test_spec_nesting_limit_is_exact():
    from causalfolio.pipeline import parse_spec
    from causalfolio.spec import expand_spec

    ok = "linear(lags=" + "[" * 31 + "0" + "]" * 31 + ")"  # 32 levels with the parenthesis
    with pytest.raises(SpecError) as info:
        parse_spec(f"rccp(k=2)|{ok}|beta|static|hsp")
    assert "nested" not in str(info.value)  # refused for its value, not for its depth
    assert expand_spec("{" * 32 + "hsp" + "}" * 32) == ["hsp"]
    with pytest.raises(SpecError, match="nested more than 32"):
        expand_spec("{" * 33 + "hsp" + "}" * 33)


def test_returns_check_through_the_api():
    m = synthetic_market(seed=0, n_assets=4, n_days=160, n_noise=2)
    prices = prices_from_returns(m.assets)
    with pytest.raises(DataError, match="looks like prices"):
        Market.from_frames(prices, m.candidates, kind="returns")
    bad = m.assets.copy()
    bad.iloc[10, 0] = -1.5
    with pytest.raises(DataError, match="must be > -1"):
        Market.from_frames(bad, m.candidates, kind="returns")
    # ordinary returns (and prices) still pass
    assert Market.from_frames(m.assets, m.candidates, kind="returns").assets.shape[1] == 4


def test_fnn_memory_estimate_counts_parameters():
    from causalfolio.plugins.dynamics.fnn import memory_estimate

    need, n_par = memory_estimate((8, 4), 6, 100, 10, "float32")
    assert n_par == 6 * 8 + 8 + 8 * 4 + 4 + 4 + 1
    # 2 float64 copies + 5 float32 training copies per parameter; inputs and activations per row
    assert need == 10 * n_par * (16 + 20) + 10 * 100 * (6 * 12 + 12 * 12)
    one, _ = memory_estimate((8, 4), 6, 100, 10, "float32", batched=False)
    assert one == 10 * n_par * 16 + n_par * 20 + 100 * (6 * 12 + 12 * 12)


def test_fnn_refuses_a_fit_above_the_memory_limit(monkeypatch):
    from causalfolio.plugins.dynamics import fnn as fnn_mod

    m = synthetic_market(seed=0, n_assets=3, n_days=120, n_noise=2)
    model = fnn_mod.FNN(hidden=((64, 64),), windows=(40,), epochs=1, min_epochs=0)
    monkeypatch.setattr(fnn_mod, "memory_limit", lambda: 2**18)  # a 256 KiB machine
    with pytest.raises(ConfigError, match=r"hidden=\[64, 64\] as 9 nets .* more than this "
                                          r"machine's 0.0 GiB"):
        model.fit(m.assets, m.candidates.iloc[:, :2], window=40, seed=0)
    with pytest.raises(ParameterError, match="needs at least"):
        fnn_mod.FNN(hidden=((64, 64),), windows=(40,))


def test_header_checks_name_file_and_columns(tmp_path):
    from causalfolio.data import read_table

    f = tmp_path / "a.csv"
    f.write_text("date,X,X\n2020-01-01,1,2\n")
    with pytest.raises(DataError, match=r"a.csv: column name 'X' appears twice \(columns 2 and 3"):
        read_table(f)
    f.write_text("date,X,Y\n2020-01-01,1,2\n2020-01-02,1,3\n")
    assert list(read_table(f).columns) == ["X", "Y"]
    f.write_text("date,X\n2020-01-01,1\n2020-01-02T00:00+01:00,2\n")
    with pytest.raises(DataError, match="no offset in row 1 .* offset \\+01:00 in row 2"):
        read_table(f)
    f.write_text("date,X\n2020-01-01T00:00+01:00,1\n2020-01-02T00:00+01:00,2\n")  # one offset: fine
    assert np.array_equal(read_table(f).index, pd.DatetimeIndex(["2020-01-01", "2020-01-02"]))
