"""Start-up time of the command line and of the first spec parse (run by hand, not collected).

    .venv/bin/python tests/benchmarks/bench_startup.py [--baseline OTHER/.venv] [--repeat 7]

Times, in fresh processes, the four start-up figures of issue #15 (targets in brackets, for a
2-core machine): ``causalfolio --help`` (<= 0.3 s), ``causalfolio spec
"rccp(k=3)|linear|beta|static|hsp"`` (<= 0.5 s), ``causalfolio plugins`` (<= 0.8 s) and the first
``cf.parse_spec`` in a fresh interpreter (<= 0.4 s), plus a bare ``python -c pass`` (the
interpreter's own start). Each command runs ``--repeat`` times, interleaved with the baseline's
runs so that both see the same load; the median wall-clock time is printed. ``--baseline`` is
another virtual environment with causalfolio installed (e.g. an older checkout's ``.venv``): its
figures are measured in the same run and the ratio ours / baseline is printed. Timings on a shared
machine are noisy: the ratio is the number to compare.

The commands run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` is removed from their
environment), as after a normal install: with it set, every run recompiles each module from source
and start-up looks about 0.15 s slower than users see it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SPEC = "rccp(k=3)|linear|beta|static|hsp"
TARGETS = {"--help": 0.3, "spec": 0.5, "plugins": 0.8, "parse_spec": 0.4, "python": None}


def commands(venv: Path) -> dict[str, list[str]]:
    """The timed command lines of one virtual environment."""
    exe, py = str(venv / "bin" / "causalfolio"), str(venv / "bin" / "python")
    return {
        "python": [py, "-c", "pass"],
        "--help": [exe, "--help"],
        "spec": [exe, "spec", SPEC],
        "plugins": [exe, "plugins"],
        "parse_spec": [py, "-c", f"import causalfolio as cf; cf.parse_spec({SPEC!r})"],
    }


def once(cmd: list[str]) -> float:
    """Wall-clock seconds of one run of ``cmd`` (its output discarded; it must succeed)."""
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**env, "OPENBLAS_NUM_THREADS": "1"})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="virtual environment to compare against")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    ours = commands(Path(sys.prefix))
    base = commands(args.baseline) if args.baseline else None
    times: dict[str, list[float]] = {k: [] for k in ours}
    btimes: dict[str, list[float]] = {k: [] for k in ours}
    for name in ours:
        once(ours[name])  # warm the file-system cache
        if base:
            once(base[name])
        for _ in range(args.repeat):
            times[name].append(once(ours[name]))
            if base:
                btimes[name].append(once(base[name]))
    print(f"median of {args.repeat} runs, seconds (ours: {sys.prefix}"
          + (f"; baseline: {args.baseline}" if base else "") + ")")
    print(f"{'command':<12} {'target':>7} {'ours':>7}" + (f" {'baseline':>9} {'ratio':>6}"
                                                         if base else ""))
    for name in ours:
        med = statistics.median(times[name])
        target = TARGETS[name]
        line = f"{name:<12} {'' if target is None else f'{target:.2f}':>7} {med:7.3f}"
        if base:
            bmed = statistics.median(btimes[name])
            line += f" {bmed:9.3f} {med / bmed:6.2f}"
        print(line)


if __name__ == "__main__":
    main()
