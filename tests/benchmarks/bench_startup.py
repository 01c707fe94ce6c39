"""Start-up time of the command line and of the first spec parse (run by hand, not collected).

    .venv/bin/python tests/benchmarks/bench_startup.py [--baseline OTHER/.venv] [--repeat 7]

Times, in fresh processes, the four start-up figures of issue #15 (targets in brackets, for a
2-core machine): ``causalfolio --help`` (<= 0.3 s), ``causalfolio spec
"rccp(k=3)|linear|beta|static|hsp"`` (<= 0.5 s), ``causalfolio plugins`` (<= 0.8 s) and the first
``cf.parse_spec`` in a fresh interpreter (<= 0.4 s), plus a bare ``python -c pass`` (the
interpreter's own start). Each command runs ``--repeat`` times, interleaved with the baseline's
runs so that both see the same load; the median wall-clock time is printed with its interquartile
range and the fastest run. ``--baseline`` is another virtual environment with causalfolio
installed (e.g. an older checkout's ``.venv``): its figures are measured in the same run and the
ratio ours / baseline is printed with a 95% bootstrap interval. Timings on a shared
machine are noisy: the ratio is the number to compare.

The commands run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` is removed from their
environment), as after a normal install: with it set, every run recompiles each module from source
and start-up looks about 0.15 s slower than users see it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

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
    print(f"{args.repeat} runs each, seconds: median [interquartile range], fastest (ours: "
          f"{sys.prefix}" + (f"; baseline: {args.baseline}" if base else "") + ")")
    print(f"{'command':<12} {'target':>6} {'ours':>7} {'IQR':>15} {'min':>6}"
          + (f" {'baseline':>9} {'ratio [95% CI]':>20}" if base else ""))
    for name in ours:
        t = np.asarray(times[name])
        q1, med, q3 = np.percentile(t, [25, 50, 75])
        target = TARGETS[name]
        line = (f"{name:<12} {'' if target is None else f'{target:.2f}':>6} {med:7.3f} "
                f"[{q1:.3f}, {q3:.3f}] {t.min():6.3f}")
        if base:
            b = np.asarray(btimes[name])
            lo, hi = ratio_interval(t, b)
            line += f" {np.median(b):9.3f} {np.median(t) / np.median(b):6.2f} [{lo:.2f}, {hi:.2f}]"
        print(line)


def ratio_interval(ours: np.ndarray, base: np.ndarray) -> tuple[float, float]:
    """95% percentile-bootstrap interval of median(ours) / median(base) (scipy.stats.bootstrap,
    the two samples resampled independently)."""
    from scipy.stats import bootstrap

    res = bootstrap((ours, base), lambda a, b, axis=-1: np.median(a, axis=axis)
                    / np.median(b, axis=axis), vectorized=True, paired=False,
                    n_resamples=2000, method="percentile", random_state=0)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)

if __name__ == "__main__":
    main()
