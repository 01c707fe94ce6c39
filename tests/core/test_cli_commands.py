"""The causalfolio command: every command, one-line errors with exit 2, no half-written folders."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from causalfolio.cli import DEMO_SPEC, main


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_spec_prints_canonical_form(capsys):
    code, out, _ = run(["spec", "rccp(k=3)|linear|beta|static|hsp"], capsys)
    assert code == 0 and out.strip() == "rccp(k=3)|linear|beta|static|hsp"
    code, out, _ = run(["spec", "rccp(k={3,4})|linear|beta|static|hsp"], capsys)
    assert out.split() == ["rccp(k=3)|linear|beta|static|hsp", "rccp(k=4)|linear|beta|static|hsp"]


@pytest.mark.parametrize("spec,fragment", [
    ("rccp(k=3)|lineer|beta|static|hsp", "did you mean 'linear'?"),
    ("rccp(kk=3)|linear|beta|static|hsp", "did you mean 'k'?"),
])
def test_spec_errors_are_one_line_with_exit_2(spec, fragment, capsys):
    code, out, err = run(["spec", spec], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("causalfolio: error: ") and fragment in err


def test_plugins_lists_every_stage(capsys):
    code, out, _ = run(["plugins"], capsys)
    assert code == 0
    for word in ("drivers", "dynamics", "sensitivities", "forecasting", "mapping", "rccp",
                 "linear", "beta", "static", "hsp", "hrp", "equal",
                 "causalfolio.plugins.mapping.hsp", "k (int, default 10)"):
        assert word in out
    code, out, _ = run(["plugins", "--json", "--stage", "drivers"], capsys)
    data = json.loads(out)
    rccp = next(c for c in data["drivers"] if c["name"] == "rccp")
    assert {p["name"]: p["default"] for p in rccp["parameters"]}["k"] == 10


def test_datasets_then_backtest_from_files(tmp_path, capsys):
    data = tmp_path / "data"
    code, out, _ = run(["datasets", "synthetic", "--out", str(data), "--n-assets", "6",
                        "--n-days", "400", "--n-noise", "5"], capsys)
    assert code == 0 and {p.name for p in data.iterdir()} == {"assets.csv", "drivers.csv",
                                                               "truth.json"}
    truth = json.loads((data / "truth.json").read_text())
    assert len(truth["common"]) == 4
    out_dir = tmp_path / "run"
    code, out, err = run(["backtest", "--assets", str(data / "assets.csv"), "--drivers",
                          str(data / "drivers.csv"), "--spec", "rccp(k=3)|linear|beta|static|hsp",
                          "--benchmark", "equal", "--benchmark", "hrp", "--min-weight", "0.05",
                          "--max-weight", "0.4", "--out", str(out_dir), "--quiet"], capsys)
    assert code == 0, err
    assert "rccp(k=3)|linear|beta|static|hsp" in out and "sharpe" in out
    metrics = pd.read_csv(out_dir / "metrics.csv", index_col="strategy")
    assert list(metrics.index) == ["rccp(k=3)|linear|beta|static|hsp", "equal", "hrp"]
    run_meta = json.loads((out_dir / "run.json").read_text())
    assert run_meta["config"]["bounds"] == [0.05, 0.4]
    slug = run_meta["strategies"]["rccp(k=3)|linear|beta|static|hsp"]
    rebal = json.loads((out_dir / "rebalances" / f"{slug}.json").read_text())["rebalances"]
    assert len(rebal[0]["drivers"]["names"]) == 3
    assert len(rebal[0]["sensitivities"]["distance"]) == 6
    # the same output folder again is refused, and nothing is touched
    code, _, err = run(["backtest", "--assets", str(data / "assets.csv"), "--drivers",
                        str(data / "drivers.csv"), "--spec", "equal", "--out", str(out_dir),
                        "--quiet"], capsys)
    assert code == 2 and "exists and is not empty" in err
    assert pd.read_csv(out_dir / "metrics.csv").shape[0] == 3


@pytest.mark.parametrize("extra,fragment", [
    (["--min-weight", "0.5"], "infeasible weight bounds"),
    (["--start", "2015-01-10"], "not enough history before start"),
    (["--spec", "hsp"], "needs the sensitivity space"),
])
def test_backtest_errors_leave_no_folder(tmp_path, capsys, extra, fragment):
    data = tmp_path / "data"
    main(["datasets", "synthetic", "--out", str(data), "--n-assets", "6", "--n-days", "300"])
    out_dir = tmp_path / "run"
    args = ["backtest", "--assets", str(data / "assets.csv"), "--drivers",
            str(data / "drivers.csv"), "--out", str(out_dir), "--quiet"]
    if "--spec" not in extra:
        args += ["--spec", "rccp(k=3)|linear|beta|static|hsp"]
    capsys.readouterr()
    code, _, err = run(args + extra, capsys)
    assert code == 2 and fragment in err and err.count("\n") == 1
    assert not out_dir.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_bad_data_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "a.csv"
    bad.write_text("date,A\n2021-01-04,1\n2021-01-04,2\n2021-01-05,3\n")
    code, _, err = run(["backtest", "--assets", str(bad), "--drivers", str(bad), "--spec",
                        "equal", "--out", str(tmp_path / "r"), "--quiet"], capsys)
    assert code == 2 and "duplicate date 2021-01-04" in err


def test_demo_end_to_end_in_a_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "causalfolio.cli", "demo", "--out",
                           str(tmp_path / "demo"), "--quiet"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith(DEMO_SPEC) for line in lines)
    assert any(line.startswith("equal ") for line in lines)
    assert any(line.startswith("hrp ") for line in lines)
    w = pd.read_csv(next((tmp_path / "demo" / "weights").glob("rccp*.csv")), index_col="date")
    assets = [c for c in w.columns if c != "turnover"]
    assert w[assets].min().min() >= 0.03 - 1e-9 and w[assets].max().max() <= 0.10 + 1e-9


def test_argument_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["backtest"])
    assert info.value.code == 2
    assert "required" in capsys.readouterr().err
