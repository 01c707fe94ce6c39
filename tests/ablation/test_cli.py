"""The ``causalfolio ablate`` command: a grid end to end, grid files, one-line errors."""

from __future__ import annotations

import pandas as pd
import pytest

from causalfolio.cli import main

BASE = ["ablate", "--synthetic", "3", "--start", "2019-07-01", "--driver-window", "60",
        "--train-window", "60", "--executor", "serial", "--quiet"]


def test_ablate_grid_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "abl"
    argv = [*BASE, "--spec", "rccp(k={3,5})|linear|beta|static|{hsp,hrp}",
            "--benchmark", "equal", "--cov-window", "30,40", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "10 combinations run, 0 already done, 0 failed" in text
    assert "Sharpe ratio by choice" in text and "cov_window" in text
    # two quantities, two names: the per-choice deviation and the evidence's effect
    assert "mean_minus_overall" in text and "effect of each choice on the Sharpe ratio" in text
    effects = text.split("effect of each choice on the Sharpe ratio", 1)[1]
    summary = pd.read_csv(out / "summary.csv")
    row = summary[(summary["metric"] == "sharpe") & (summary["factor"] == "mapping")].iloc[0]
    assert f"{row['effect']:.3f}" in effects
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 10 and set(table["cov_window"]) == {30, 40}
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["factor"]) == {"drivers", "mapping", "cov_window"}
    assert main(argv) == 0
    assert "0 combinations run, 10 already done" in capsys.readouterr().out


def test_ablate_dry_run_and_grid_file(tmp_path, capsys):
    f = tmp_path / "g.toml"
    f.write_text('benchmarks = ["equal"]\n[stages]\ndrivers = "rccp(k={3,5})"\n'
                 'dynamics = "linear(lags={[0],[0,1]})"\nsensitivities = "beta"\n'
                 'forecasting = "static"\nmapping = "hsp"\n[backtest]\nseed = [0, 1]\n')
    assert main([*BASE, "--grid", str(f), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "1 market x 10 combinations = 10 backtests"
    assert lines[0] == "rccp(k=3)|linear|beta|static|hsp @ seed=0"
    assert "equal @ seed=1" in lines


@pytest.mark.parametrize(("args", "message"), [
    (["--cov-window", "30,x"], "setting 'cov_window' takes integers"),
    (["--spec", "rccp|lineer|beta|static|hsp"], "unknown dynamics model 'lineer'"),
    (["--spec", "rccp|linear|beta|static|hsp", "--executor", "serial", "--workers", "0"],
     "--workers must be an integer >= 1"),
    ([], "give --spec"),
    (["--grid", "/no/such/grid.toml"], "grid file not found"),
])
def test_ablate_errors_are_one_line(args, message, capsys):
    argv = [a for a in BASE if a != "--quiet"] + args
    if "--cov-window" in args:
        argv += ["--spec", "rccp|linear|beta|static|hsp"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("causalfolio: error:") and message in err
    assert len(err.splitlines()) == 1


def test_ablate_needs_data(capsys):
    assert main(["ablate", "--spec", "rccp|linear|beta|static|hsp"]) == 2
    assert "--synthetic" in capsys.readouterr().err


def test_ablate_bad_top_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([*BASE, "--spec", "rccp|linear|beta|static|hsp", "--top", "0"])
    assert exc.value.code == 2
    assert "--top: must be an integer >= 1" in capsys.readouterr().err


def test_replicated_study_ranks_the_data_not_a_mean_over_replicas(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["datasets", "synthetic", "--out", str(data), "--n-assets", "5", "--n-days",
                 "400", "--n-noise", "3"]) == 0
    out = tmp_path / "abl"
    assert main(["ablate", "--assets", str(data / "assets.csv"), "--drivers",
                 str(data / "drivers.csv"), "--spec", "rccp(k=2)|linear|beta|static|hsp",
                 "--driver-window", "60", "--train-window", "60", "--benchmark", "hrp",
                 "--benchmark", "equal",
                 "--resample", "stationary", "--replicas", "3", "--allow-few-replicas",
                 "--reference", "equal", "--cov-window", "40", "--executor", "serial",
                 "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "by Sharpe on the data (replica 0; the other 2 markets are its bootstrap" in text
    assert "by mean Sharpe" not in text and "None" not in text
    table = pd.read_csv(out / "results.csv")
    on_data = table[table["market.replica"] == 0].set_index("label")["sharpe"]
    means = table.groupby("label")["sharpe"].mean()
    ranking = text.split("differences with their intervals follow:", 1)[1]
    for label in ("hrp", "equal"):
        line = next(ln for ln in ranking.splitlines() if ln.strip().startswith(label))
        assert f"{on_data[label]:.3f}" in line.split()
        assert abs(on_data[label] - means[label]) > 5e-4  # a mean over replicas would differ
