"""Never destroy user data (issue #14, item 2): commands replace only their own folders (run.json,
study.json, truth.json), a destination is written by one process at a time, leftovers of killed
runs are cleaned, and ``--out FILE`` is refused whatever the flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from folder_helpers import OLD, backtest_args, lock_held_elsewhere, run

from causalfolio.backtest import load_run
from causalfolio.data.folders import (
    STAMP_KEY,
    clean_stale,
    folder_lock,
    stamp,
    write_writing_stamp,
)
from causalfolio.errors import ConfigError


def _user_folder(tmp_path):
    u = tmp_path / "u"
    u.mkdir()
    (u / "thesis.txt").write_text("x")
    return u


def _assert_untouched(tmp_path, u):
    assert sorted(p.name for p in u.iterdir()) == ["thesis.txt"]
    assert (u / "thesis.txt").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u"]  # no .u.*.tmp, no .u.old


def test_demo_never_deletes_a_folder_it_did_not_write(tmp_path, capsys):
    u = _user_folder(tmp_path)
    code, _, err = run(["demo", "--out", str(u), "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "not a run folder (no run.json)" in err and str(u) in err
    _assert_untouched(tmp_path, u)


@pytest.mark.parametrize("force", [False, True])
def test_backtest_never_replaces_a_folder_it_did_not_write(data, tmp_path, capsys, force):
    u = _user_folder(tmp_path)
    code, _, err = run(backtest_args(data, u, *(["--force"] if force else [])), capsys)
    assert code == 2 and "not a run folder (no run.json)" in err and "whatever the flags" in err
    _assert_untouched(tmp_path, u)


def test_datasets_force_never_replaces_a_folder_it_did_not_write(tmp_path, capsys):
    u = _user_folder(tmp_path)
    code, _, err = run(["datasets", "synthetic", "--out", str(u), "--force"], capsys)
    assert code == 2 and "not a dataset folder (no truth.json)" in err
    _assert_untouched(tmp_path, u)


@pytest.mark.parametrize("force", [False, True])
def test_out_file_is_refused_and_nothing_is_written(data, tmp_path, capsys, force):
    target = tmp_path / "FILE"
    target.write_text("mine")
    code, _, err = run(backtest_args(data, target, *(["--force"] if force else [])), capsys)
    assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err
    assert target.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]  # no .FILE.old, no .tmp


def test_force_replaces_a_run_folder(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(backtest_args(data, out), capsys)[0] == 0
    assert run(backtest_args(data, out), capsys)[0] == 2  # no --force: refused
    assert run(["report", str(out)], capsys)[0] == 0  # our report.html is ours to replace
    (out / "metrics.csv").write_text("stale")
    assert run(backtest_args(data, out, "--force"), capsys)[0] == 0
    assert (out / "metrics.csv").read_text() != "stale" and (out / "run.json").is_file()
    assert not (out / "report.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # a file the user added to our folder: refused (nothing deleted), named in the message
    (out / "extra.txt").write_text("the user's")
    code, _, err = run(backtest_args(data, out, "--force"), capsys)
    assert code == 2 and err.count("\n") == 1 and "extra.txt" in err
    assert (out / "extra.txt").read_text() == "the user's" and (out / "run.json").is_file()


def test_a_locked_destination_is_in_use(data, tmp_path, capsys):
    """Another process (or thread) writing --out: exit 2 'in use', the folder untouched."""
    out = tmp_path / "run"
    assert run(backtest_args(data, out), capsys)[0] == 0
    before = (out / "run.json").read_bytes()
    with lock_held_elsewhere(out):
        code, _, err = run(backtest_args(data, out, "--force"), capsys)
        assert code == 2 and "is in use by another causalfolio process" in err
        proc = subprocess.run([sys.executable, "-m", "causalfolio.cli",
                               *backtest_args(data, out, "--force")],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "in use by another causalfolio process" in proc.stderr
    assert (out / "run.json").read_bytes() == before
    assert run(backtest_args(data, out, "--force"), capsys)[0] == 0  # released


def test_two_concurrent_backtests_one_wins(data, tmp_path):
    """Two ``backtest --force`` to the same --out, started together (each computes for seconds
    after claiming the folder): exactly one exits 0, the other 2 "in use"; the result is whole."""
    out = tmp_path / "run"
    args = [sys.executable, "-m", "causalfolio.cli",
            *backtest_args(data, out, "--force", "--schedule", "weekly", "--spec",
                           "rccp(k=2)|linear|beta|static|hsp")]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    loser = next(e for c, e in results if c == 2)
    assert "in use by another causalfolio process" in loser
    run_ = load_run(out)
    assert len(run_["run"]["strategies"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_stale_leftovers_of_killed_runs_are_cleaned(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(backtest_args(data, out), capsys)[0] == 0
    stale_dir = tmp_path / ".run.k2j3h4g5.tmp"  # a killed writer's temporary folder
    stale_dir.mkdir()
    write_writing_stamp(stale_dir, "run.json")
    (stale_dir / "run.json").write_text("{}")
    stale_file = out / ".metrics.csv.ab12cd34.tmp"
    stale_file.write_text("half")
    fresh_dir = tmp_path / ".run.zzzzzzzz.tmp"  # newer than the lock: not touched
    fresh_dir.mkdir()
    others = [tmp_path / ".other.k2j3h4g5.tmp", tmp_path / ".run.notours.tmp"]
    for p in others:
        p.mkdir()
    for p in (stale_dir, stale_file):
        os.utime(p, (OLD, OLD))
    with folder_lock(out) as since:
        os.utime(fresh_dir, (since + 5, since + 5))
        removed = clean_stale(out, since, "run.json")
    assert set(removed) == {stale_dir, stale_file}
    assert fresh_dir.exists() and all(p.exists() for p in others)
    # and the next run does it by itself
    os.rmdir(fresh_dir)
    stale_dir.mkdir()
    write_writing_stamp(stale_dir, "run.json")
    os.utime(stale_dir, (OLD, OLD))
    assert run(backtest_args(data, out, "--force"), capsys)[0] == 0
    assert not stale_dir.exists()


def test_a_backup_left_between_the_two_renames_is_restored(tmp_path):
    out = tmp_path / "run"
    backup = tmp_path / ".run.x1y2z3w4.old"
    backup.mkdir()
    (backup / "run.json").write_text(json.dumps({STAMP_KEY: stamp("run", ["run.json"])}))
    os.utime(backup, (OLD, OLD))
    with folder_lock(out) as since:
        clean_stale(out, since, "run.json")
    assert (out / "run.json").is_file() and not backup.exists()


def test_stale_temporary_rows_of_a_killed_ablation_are_cleaned(tmp_path):
    from causalfolio.ablation import Grid, run_ablation
    from causalfolio.data import synthetic_market

    market = synthetic_market(seed=1, n_assets=5, n_days=260, n_noise=2)
    grid = Grid.from_specs("rccp(k=2)|linear|beta|static|hsp",
                           settings={"driver_window": 60, "train_window": 60, "cov_window": 40})
    out = tmp_path / "study"
    run_ablation(market, grid, out, executor="serial", cache_dir=False)
    stale = [out / "rows" / ".0123456789abcdef.json.q1w2e3r4.tmp",
             out / ".results.csv.q1w2e3r4.tmp"]
    mine = [out / "rows" / ".notes.txt.q1w2e3r4.tmp", tmp_path / ".study.q1w2e3r4.tmp"]
    for p in [*stale, mine[0]]:
        p.write_text("half")
    mine[1].mkdir()  # look-alikes of our names, without our stamp: the user's
    (mine[1] / "data.csv").write_text("1,2")
    for p in [*stale, *mine]:
        os.utime(p, (OLD, OLD))
    res = run_ablation(market, grid, out, executor="serial", cache_dir=False)
    assert res.skipped == 1
    assert not any(p.exists() for p in stale) and all(p.exists() for p in mine)


def test_a_concurrent_ablation_into_the_same_folder_is_in_use(tmp_path):
    from causalfolio.ablation import Grid, run_ablation
    from causalfolio.data import synthetic_market

    market = synthetic_market(seed=1, n_assets=5, n_days=260, n_noise=2)
    grid = Grid.from_specs("rccp(k=2)|linear|beta|static|hsp",
                           settings={"driver_window": 60, "train_window": 60, "cov_window": 40})
    out = tmp_path / "study"
    proc = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from causalfolio.data.folders import folder_lock\n"
        f"with folder_lock({str(out)!r}):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.readline()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match="in use by another causalfolio process"):
            run_ablation(market, grid, out, executor="serial", cache_dir=False)
        assert not out.exists()
    finally:
        proc.communicate("\n", timeout=30)
    assert run_ablation(market, grid, out, executor="serial", cache_dir=False).ran == 1


def test_report_never_overwrites_a_file_it_did_not_write(tmp_path, capsys):
    from causalfolio.backtest import BacktestConfig, run_backtest, write_run
    from causalfolio.data import synthetic_market

    market = synthetic_market(seed=1, n_assets=4, n_days=200, n_noise=2)
    result = run_backtest(market, [], BacktestConfig(cov_window=40),
                          benchmarks=["equal"])
    run_dir = write_run(result, tmp_path / "run")
    mine = tmp_path / "thesis.html"
    mine.write_text("<html>my thesis</html>")
    code, _, err = run(["report", str(run_dir), "--out", str(mine)], capsys)
    assert code == 2 and "is not a causalfolio report" in err and str(mine) in err
    assert mine.read_text() == "<html>my thesis</html>"
    # our own report is replaced
    target = tmp_path / "r.html"
    assert run(["report", str(run_dir), "--out", str(target)], capsys)[0] == 0
    first = target.read_text()
    assert '<meta name="generator" content="causalfolio">' in first
    assert run(["report", str(run_dir), "--out", str(target)], capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "run", "thesis.html"]
