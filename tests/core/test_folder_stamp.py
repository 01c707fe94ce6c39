"""A folder is ours by the stamp we wrote in it, not by a file name (issue #23: D01, D07, D08,
D13, D20, D24 and the umask): a user's folder holding a file named like ours (run.json,
truth.json, study.json) is never replaced, look-alikes of our temporary names are never cleaned,
an ``--out`` symbolic link is written at its target and locked by its resolved path, and what we
write honours the umask."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import pytest
from folder_helpers import OLD, backtest_args, lock_held_elsewhere, run

from causalfolio.data.folders import STAMP_KEY, folder_lock, read_stamp
from causalfolio.errors import ConfigError


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _look_alike(tmp_path: Path, marker: str) -> Path:
    u = tmp_path / "U"
    u.mkdir()
    (u / "thesis.txt").write_text("thesis")
    (u / marker).write_text('{"mine": true}')
    return u


def _refused(code: int, err: str, what: str, marker: str) -> None:
    assert code == 2 and err.count("\n") == 1, err
    assert f"not a {what} folder written by causalfolio" in err and marker in err


# --- D01: a file named like ours does not make a folder ours ------------------------------------


def test_demo_keeps_a_folder_holding_a_look_alike_run_json(tmp_path, capsys):
    u = _look_alike(tmp_path, "run.json")
    before = _snapshot(u)
    code, _, err = run(["demo", "--out", str(u), "--quiet"], capsys)
    _refused(code, err, "run", "run.json")
    assert _snapshot(u) == before and sorted(p.name for p in tmp_path.iterdir()) == ["U"]


def test_backtest_force_keeps_a_folder_holding_a_look_alike_run_json(data, tmp_path, capsys):
    u = _look_alike(tmp_path, "run.json")
    before = _snapshot(u)
    code, _, err = run(backtest_args(data, u, "--force"), capsys)
    _refused(code, err, "run", "run.json")
    assert _snapshot(u) == before and sorted(p.name for p in tmp_path.iterdir()) == ["U"]


def test_datasets_force_keeps_a_folder_holding_a_look_alike_truth_json(tmp_path, capsys):
    u = _look_alike(tmp_path, "truth.json")
    before = _snapshot(u)
    code, _, err = run(["datasets", "synthetic", "--out", str(u), "--force", "--n-assets", "4",
                        "--n-days", "200"], capsys)
    _refused(code, err, "dataset", "truth.json")
    assert _snapshot(u) == before and sorted(p.name for p in tmp_path.iterdir()) == ["U"]


ABLATE = ["ablate", "--synthetic", "0", "--synthetic-param", "n_assets=5",
          "--synthetic-param", "n_days=260", "--synthetic-param", "n_noise=2", "--spec",
          "rccp(k=2)|linear|beta|static|hsp", "--driver-window", "60", "--train-window", "60",
          "--cov-window", "40", "--schedule", "quarterly", "--executor", "serial",
          "--no-disk-cache", "--quiet"]


def test_ablate_force_keeps_a_folder_holding_a_look_alike_study_json(tmp_path, capsys):
    u = _look_alike(tmp_path, "study.json")
    (u / "rows").mkdir()
    (u / "rows" / "notes.txt").write_text("notes")
    before = _snapshot(u)
    code, _, err = run([*ABLATE, "--out", str(u), "--force"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "not an ablation folder written by causalfolio" in err
    assert _snapshot(u) == before and sorted(p.name for p in tmp_path.iterdir()) == ["U"]


def test_ablate_force_deletes_only_its_own_rows(tmp_path, capsys):
    out = tmp_path / "study"
    assert run([*ABLATE, "--out", str(out)], capsys)[0] == 0
    ours = sorted(p.name for p in (out / "rows").iterdir())
    (out / "rows" / "notes.txt").write_text("notes")
    # another study (other data) into the folder: --force discards our rows, never the notes
    code, _, err = run([*ABLATE[:2], "1", *ABLATE[3:], "--out", str(out), "--force"], capsys)
    assert code == 0, err
    assert (out / "rows" / "notes.txt").read_text() == "notes"
    assert sorted(p.name for p in (out / "rows").iterdir()) == [*ours, "notes.txt"]  # same ids
    assert read_stamp(out, "study.json") is not None


def test_the_stamp_lists_what_we_wrote(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(backtest_args(data, out), capsys)[0] == 0
    st = json.loads((out / "run.json").read_text())[STAMP_KEY]
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert (st["format"], st["version"], st["kind"]) == ("causalfolio-folder", 1, "run")
    assert set(st["files"]) == written | {"report.html"}


# --- D13: clean-up never touches look-alikes of our temporary names ------------------------------


def test_cleanup_keeps_look_alikes_of_our_leftovers(data, tmp_path, capsys):
    out = tmp_path / "r"
    assert run(backtest_args(data, out), capsys)[0] == 0
    old = tmp_path / ".r.old"  # the user's folder, named like our former backup
    old.mkdir()
    (old / "thesis.txt").write_text("thesis")
    backup = tmp_path / ".r.mybackup.tmp"  # like our temporary folders: ".r." + 8 chars + ".tmp"
    backup.mkdir()
    (backup / "data.csv").write_text("1,2")
    for p in (old, backup):
        os.utime(p, (OLD, OLD))
    assert run(backtest_args(data, out, "--force"), capsys)[0] == 0
    assert (old / "thesis.txt").read_text() == "thesis"
    assert (backup / "data.csv").read_text() == "1,2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".r.mybackup.tmp", ".r.old", "r"]


def test_a_users_dot_old_folder_is_never_restored_as_ours(data, tmp_path, capsys):
    old = tmp_path / ".r.old"
    old.mkdir()
    (old / "run.json").write_text('{"mine": true}')
    os.utime(old, (OLD, OLD))
    code, _, err = run(backtest_args(data, tmp_path / "r"), capsys)
    assert code == 0, err
    assert (old / "run.json").read_text() == '{"mine": true}'
    assert read_stamp(tmp_path / "r", "run.json") is not None


# --- D07, D08: symbolic links --------------------------------------------------------------------


def test_out_symlink_is_written_at_its_target(data, tmp_path, capsys):
    (tmp_path / "t").mkdir()
    link = tmp_path / "link"
    link.symlink_to("t")
    for extra in ((), ("--force",)):
        code, _, err = run(backtest_args(data, link, *extra), capsys)
        assert code == 0, err
        assert link.is_symlink() and (tmp_path / "t" / "run.json").is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "t"]
    dangling = tmp_path / "nowhere"
    dangling.symlink_to("missing")
    code, _, err = run(backtest_args(data, dangling), capsys)
    assert code == 2 and err.count("\n") == 1 and "symbolic link" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "nowhere", "t"]


def test_the_lock_is_keyed_by_the_resolved_path(tmp_path):
    from causalfolio.ablation import Grid, run_ablation
    from causalfolio.data import synthetic_market

    real = tmp_path / "real"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to("real")
    with lock_held_elsewhere(real):
        for spelling in (alias, tmp_path / "x" / ".." / "real"):
            with pytest.raises(ConfigError, match="in use by another causalfolio process"):
                with folder_lock(spelling):
                    pass
        market = synthetic_market(seed=1, n_assets=5, n_days=260, n_noise=2)
        grid = Grid.from_specs([], benchmarks=["equal"], settings={"cov_window": 40})
        with pytest.raises(ConfigError, match="in use"):
            run_ablation(market, grid, alias, executor="serial", cache_dir=False, force=True)
    assert list(real.iterdir()) == []


# --- D20, D24 -------------------------------------------------------------------------------------


def test_empty_out_is_refused(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(backtest_args(data, ""), capsys)
    assert code == 2 and err.count("\n") == 1 and "--out is empty" in err
    assert list(tmp_path.iterdir()) == []


def test_report_checks_its_destination_before_rendering(tmp_path, capsys, monkeypatch):
    from causalfolio.backtest import BacktestConfig, run_backtest, write_run
    from causalfolio.data import synthetic_market
    from causalfolio.report import html

    market = synthetic_market(seed=1, n_assets=4, n_days=200, n_noise=2)
    result = run_backtest(market, [], BacktestConfig(cov_window=40), benchmarks=["equal"])
    run_dir = write_run(result, tmp_path / "run")
    rendered = []
    monkeypatch.setattr(html, "render_report", lambda *a, **k: rendered.append(a) or "x")
    if os.geteuid() == 0:  # root writes into a read-only folder: refuse entries there instead
        real = tempfile.mkdtemp

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == run_dir:
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    else:
        os.chmod(run_dir, 0o555)
    try:
        code, _, err = run(["report", str(run_dir)], capsys)
    finally:
        os.chmod(run_dir, 0o755)
    assert code == 2 and err.count("\n") == 1 and "cannot create anything" in err
    assert rendered == [] and not (run_dir / "report.html").exists()


# --- also seen: the umask ----------------------------------------------------------------------


def test_what_we_write_honours_the_umask(data, tmp_path, capsys):
    from causalfolio.data.io import atomic_write_bytes

    old = os.umask(0o022)
    try:
        assert run(backtest_args(data, tmp_path / "run"), capsys)[0] == 0
        atomic_write_bytes(tmp_path / "f.bin", b"x")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "run") == 0o755
    assert mode(tmp_path / "run" / "run.json") == 0o644
    assert mode(tmp_path / "f.bin") == 0o644
