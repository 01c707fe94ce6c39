"""No orphans (issue #14, item 5): when ``ablate``'s main process is killed (SIGKILL) or
terminated (SIGTERM), its worker processes, the fork server and the resource tracker all exit;
SIGTERM saves the finished combinations like Ctrl-C (exit status 143) and a re-run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table "
                       "from /proc (Linux)"),
]

SPEC = "rccp(k={2,3,4,5})|linear|beta|static|{hsp,hrp}"  # 8 combinations, 4 upstream groups
N = 8


def _table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            out[int(d)] = (int(fields[1]), fields[19])
    return out


def _descendants(root: int) -> set[tuple[int, str]]:
    table = _table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for kid in children.get(stack.pop(), []):
            found.add((kid, table[kid][1]))
            stack.append(kid)
    return found


def _alive(procs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    table = _table()
    return {(pid, start) for pid, start in procs if table.get(pid, (0, None))[1] == start}


def _ablate(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "causalfolio.cli", "ablate", "--synthetic", "0", "--spec", SPEC,
            "--driver-window", "60", "--train-window", "60", "--cov-window", "40",
            "--start", "2016-01-01", "--end", "2016-09-30", "--no-disk-cache", "--quiet",
            "--out", str(out), *extra]


def _start_and_signal(tmp_path: Path, sig: int) -> tuple[int, set[tuple[int, str]], str]:
    """Start ablate with 2 worker processes, send ``sig`` once a combination has been saved;
    returns (exit status, the descendants seen, stderr)."""
    out = tmp_path / "study"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(_ablate(out, "--executor", "processes", "--workers", "2"),
                                stdout=subprocess.DEVNULL, stderr=err, env=env)
    seen: set[tuple[int, str]] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= _descendants(proc.pid)
            if list((out / "rows").glob("*.json")):
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"ablate ended early: {err_path.read_text()[-2000:]}"
        assert list((out / "rows").glob("*.json")), "no combination finished in time"
        seen |= _descendants(proc.pid)
        # the workers, the fork server and the resource tracker
        assert len(seen) >= 3, seen
        os.kill(proc.pid, sig)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 30
    while _alive(seen) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _alive(seen)
    for pid, _ in left:  # do not leave them behind if the check fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"orphans left running: {sorted(left)}"
    return code, seen, err_path.read_text()


def test_sigkill_of_the_main_process_leaves_no_process_behind(tmp_path):
    code, _, _ = _start_and_signal(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL


def test_sigterm_saves_progress_and_the_rerun_resumes(tmp_path):
    code, _, err = _start_and_signal(tmp_path, signal.SIGTERM)
    assert code == 143 and "terminated (SIGTERM)" in err, (code, err[-2000:])
    out = tmp_path / "study"
    saved = len(list((out / "rows").glob("*.json")))
    assert 1 <= saved < N, (saved, err[-2000:])
    study = json.loads((out / "study.json").read_text())
    assert study["finished"] == saved and study["remaining"] == N - saved, (saved, study)
    assert not list(out.rglob(".*.tmp")), sorted(map(str, out.rglob(".*.tmp")))
    proc = subprocess.run(_ablate(out, "--executor", "serial"), capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{N - saved} combinations run, {saved} already done" in proc.stdout
    assert json.loads((out / "study.json").read_text())["remaining"] == 0
