"""Driver-selection benchmark on the synthetic market (run by hand, not collected by pytest).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_drivers.py [--seeds 3]

(single-threaded BLAS: on a loaded 2-core machine a multi-threaded OpenBLAS spins on the many
small matrix products and the G-based methods run 5-15x slower; ``--skip-slow`` skips bayesnet
on the large case.)

For each selector and two market sizes it reports the share of the k selected drivers that are
true common drivers, proxies, colliders, asset-specific drivers and noise (k = the number of true
common drivers, averaged over seeds), and the median wall time. Times are also given as a ratio to
a baseline measured in the same run: computing the (M, N) correlation matrix of all candidates
with all constituents once. Timings on a shared machine are noisy; compare ratios.

Small case: 14 assets, 252 days, 50 candidates (4 common of which 2 act at lag 1, 4 proxies,
4 colliders, 14 specific, 24 noise). Large case: 30 assets, 252 days, 2,000 candidates (6 common,
3 at lag 1, 10 proxies, 10 colliders, 30 specific, 1,944 noise).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import causalfolio as cf
from causalfolio.data import synthetic_market
from causalfolio.plugins.drivers._common import correlation_matrix

CASES = {
    "small": dict(n_assets=14, n_days=252, n_common=4, n_proxies=4, n_colliders=4, n_noise=24),
    "large": dict(n_assets=30, n_days=252, n_common=6, n_proxies=10, n_colliders=10,
                  n_noise=1944),
}
LABELS = ("common", "proxy", "collider", "specific", "noise")


def methods(k: int, case: str) -> list[str]:
    out = [
        f"rccp(k={k})",
        f"rccp(k={k},lags=[0,1],combine='any')",
        f"rccp(k={k},lags=[0,1],combine='any',max_asset_corr=0.9,max_r2=0.5)",
        f"greedy(k={k},stop='k',refine=0)",
        f"greedy(k={k},stop='k')",
        f"greedy(k={k},stop='k',measure='cov')",
        f"dp(k={k},stop='k')",
        f"mlcorr(k={k},stop='k')",
        f"bayesnet(k={k})",
        f"bayesnet(k={k},start='empty')",
        f"bayesnet(k={k},prescreen=12)",
    ]
    if case == "small":
        out.insert(6, f"dp(k={k},stop='k',prescreen=14,exhaustive='always')")
        out.insert(8, f"mlcorr(k={k},search='exhaustive',prescreen=14)")
    return out


def run(seeds: list[int], skip_slow: bool) -> None:
    for case, kw in CASES.items():
        k = kw["n_common"]
        markets = [synthetic_market(**kw, seed=s) for s in seeds]
        base = []
        for m in markets:
            t0 = time.perf_counter()
            correlation_matrix(m.candidates.to_numpy(), m.assets.to_numpy())
            base.append(time.perf_counter() - t0)
        b = statistics.median(base)
        m0 = markets[0]
        print(f"\n### {case}: {m0.assets.shape[1]} assets, {m0.assets.shape[0]} days, "
              f"{m0.candidates.shape[1]} candidates, k = {k}, seeds {seeds}")
        print(f"baseline (correlation matrix, {m0.candidates.shape[1]} x "
              f"{m0.assets.shape[1]}): {b * 1e3:.2f} ms\n")
        print("| selector | common | proxy | collider | specific | noise | selected | time (s) "
              "| time / baseline |")
        print("|---|---|---|---|---|---|---|---|---|")
        for spec in methods(k, case):
            if skip_slow and spec.startswith("bayesnet") and case == "large":
                continue
            sel = cf.parse_spec(spec + "|linear|beta|static|hsp").drivers
            shares = {lab: [] for lab in LABELS}
            times, sizes = [], []
            for m in markets:
                t0 = time.perf_counter()
                out = sel.select(m.assets, m.candidates, seed=0)
                times.append(time.perf_counter() - t0)
                labs = [m.truth.labels[n] for n in out.names]
                sizes.append(len(labs))
                for lab in LABELS:
                    shares[lab].append(labs.count(lab) / k)
            t = statistics.median(times)
            row = " | ".join(f"{np.mean(shares[lab]):.2f}" for lab in LABELS)
            print(f"| `{spec}` | {row} | {np.mean(sizes):.1f} | {t:.3f} | {t / b:.0f} |",
                  flush=True)
    # speed targets on the large case
    m = synthetic_market(**CASES["large"], seed=seeds[0])
    print("\n### speed targets (large case, one seed)\n")
    print("| selector | time (s) |\n|---|---|")
    for spec in ("rccp(k=20)", "rccp(k=20,lags=[0,1],combine='any',calibrate=True)",
                 "greedy(k=20,stop='k',refine=0)", "greedy(k=20,stop='k')",
                 "greedy(k=20,stop='k',refine=0,prescreen=None)",
                 "greedy(k=20,stop='k',prescreen=None)",
                 "dp(k=20,stop='k')", "mlcorr(k=20,stop='k')", "bayesnet(k=20)"):
        sel = cf.parse_spec(spec + "|linear|beta|static|hsp").drivers
        ts = []
        for _ in range(1 if spec.startswith("bayesnet") else 3):
            t0 = time.perf_counter()
            sel.select(m.assets, m.candidates, seed=0)
            ts.append(time.perf_counter() - t0)
        print(f"| `{spec}` | {min(ts):.3f} |", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="number of market seeds (default 3)")
    ap.add_argument("--skip-slow", action="store_true", help="skip bayesnet on the large case")
    args = ap.parse_args()
    run(list(range(args.seeds)), args.skip_slow)
