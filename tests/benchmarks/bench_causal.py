"""Causal driver discovery benchmark: what each selector picks on markets with known truth.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_causal.py \
        [--seeds 20] [--candidates 50,240,2000] [--windows 126,252,1000] \
        [--selectors all|pcmci,rccp,...] [--tigramite 120] [--market KEY=VALUE ...]

Run by hand (not collected by pytest). For every (candidates, window) cell, ``--seeds``
independent synthetic markets (evaluation seeds 0, 1, ...: the seeds of docs/claims.md C1; the
pcmci selector was developed on seeds 1000-1009 and hand-built SCMs, never on these) are drawn
with ``causalfolio.synthetic_market``; each selector picks drivers from the first ``window``
days. Reported per selector: the shares of its picks that are true common drivers, proxies,
colliders, asset-specific drivers and noise, and the recall of the true common drivers, as the
mean and 95% t interval over markets (the unit of replication: one independent market), and
the median seconds per selection. The monograph's selectors pick k = the number of true common
drivers; ``pcmci`` chooses its own number (``k=None``); a selection of zero names counts as
shares of 0.

Markets: 50 candidates: 14 assets, 4 common drivers (2 at lag 1, 1 nonlinear), 4 proxies,
4 colliders, 14 specific, 24 noise. 240: 14 assets, 5 common, 10 proxies, 10 colliders,
14 specific, 201 noise (the issue's "independent structural market" sizes). 2,000: 30 assets,
6 common, 10 proxies, 10 colliders, 30 specific, 1,944 noise (docs/claims.md C1's large case).

``--tigramite SECONDS``: at 240 candidates and 252 days, tigramite's ``run_pcmciplus``
(ParCorr, analytic, the same alpha, tau_max=1) on (a) the identical problem, all assets and
candidates, stopped after SECONDS (a lower bound is then printed), and (b) the variables
pcmci's stage A works on (assets + screened candidates), both timed against pcmci on the same
market. Targets (issue 20): at 240 candidates and 252 days, common share >= 0.90, collider and
proxy shares <= 0.05; <= 5 s per selection at 240 and <= 20 s at 2,000; >= 10x faster than
tigramite.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
import warnings

import numpy as np
from scipy import stats

import causalfolio as cf
from causalfolio.data import synthetic_market

LABELS = ("common", "proxy", "collider", "specific", "noise")
MARKETS = {
    50: dict(n_assets=14, n_common=4, n_proxies=4, n_colliders=4, n_noise=24),
    240: dict(n_assets=14, n_common=5, n_proxies=10, n_colliders=10, n_noise=201),
    2000: dict(n_assets=30, n_common=6, n_proxies=10, n_colliders=10, n_noise=1944),
}
SELECTORS = {
    "pcmci": "pcmci()",
    "rccp": "rccp(k={k})",
    "select": "rccp(k={k},lags=[0,1],combine='any',max_asset_corr=0.9,max_r2=0.5)",
    "greedy": "greedy(k={k},stop='k')",
    "mlcorr": "mlcorr(k={k},stop='k')",
    "bayesnet": "bayesnet(k={k})",
}


def mean_ci(x: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t interval over markets."""
    a = np.asarray(x, dtype=float)
    m = float(a.mean())
    if len(a) < 2 or a.std(ddof=1) == 0:
        return m, m, m
    h = float(stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a)))
    return m, m - h, m + h


def fmt(x: list[float]) -> str:
    m, lo, hi = mean_ci(x)
    return f"{m:.2f} [{lo:.2f}, {hi:.2f}]"


EXTRA: dict[str, object] = {}
"""Extra ``synthetic_market`` arguments from ``--market KEY=VALUE`` (e.g. the harder worlds:
``collider_noise``, ``n_pair_colliders``, ``index``, ``n_derived``, ``n_latent`` where this
version of ``synthetic_market`` has them)."""


def market(m: int, window: int, seed: int):
    mk = synthetic_market(seed=seed, n_days=window, **{**MARKETS[m], **EXTRA})
    return mk.assets, mk.candidates, mk.truth


def cell(m: int, window: int, seeds: list[int], names: list[str]) -> None:
    k = MARKETS[m]["n_common"]
    res = {n: {"shares": {lab: [] for lab in LABELS}, "recall": [], "time": [], "size": [],
               "roles": {}} for n in names}
    for seed in seeds:
        y, x, truth = market(m, window, seed)
        for n in names:
            sel = cf.parse_spec(SELECTORS[n].format(k=k) + "|linear|beta|static|hsp").drivers
            t0 = time.perf_counter()
            picked = sel.select(y, x, seed=0).names
            res[n]["time"].append(time.perf_counter() - t0)
            labs = [truth.labels[p] for p in picked]
            for lab in LABELS:
                res[n]["shares"][lab].append(labs.count(lab) / max(len(labs), 1))
            res[n]["recall"].append(labs.count("common") / k)
            res[n]["size"].append(len(labs))
            for p in picked:  # finer roles (index, pair_collider, latent_proxy...) if any
                role = getattr(truth, "roles", {}).get(p, truth.labels[p])
                res[n]["roles"][role] = res[n]["roles"].get(role, 0) + 1
    print(f"\n#### {m:,} candidates, {window} days ({len(seeds)} markets; mean [95% CI])\n")
    print("| selector | common | proxy | collider | specific | noise | recall | picks "
          "| s / selection |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in names:
        r = res[n]
        row = " | ".join(fmt(r["shares"][lab]) for lab in LABELS)
        print(f"| `{SELECTORS[n].format(k=k)}` | {row} | {fmt(r['recall'])} | "
              f"{np.mean(r['size']):.1f} | {statistics.median(r['time']):.3f} |", flush=True)
    if EXTRA:
        print("\npicks by role, summed over markets: " + "; ".join(
            f"{n}: " + ", ".join(f"{ro} {c}" for ro, c in sorted(res[n]["roles"].items()))
            for n in names))


def _tigramite_job(data: np.ndarray, alpha: float, queue) -> None:
    from tigramite import data_processing as pp
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        PCMCI(pp.DataFrame(data), ParCorr(significance="analytic"), verbosity=0).run_pcmciplus(
            tau_min=0, tau_max=1, pc_alpha=alpha)
        queue.put(time.perf_counter() - t0)


def tigramite_time(data: np.ndarray, alpha: float, limit: float) -> tuple[float, bool]:
    """Seconds tigramite's run_pcmciplus takes on data, or (limit, True) when stopped."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_tigramite_job, args=(data, alpha, q))
    p.start()
    p.join(limit)
    if p.is_alive():
        p.terminate()
        p.join()
        return limit, True
    return q.get(), False


def versus_tigramite(seeds: list[int], limit: float) -> None:
    print(f"\n#### pcmci vs tigramite run_pcmciplus (240 candidates, 252 days, alpha 0.05, "
          f"tau_max 1, {len(seeds)} markets)\n")
    print("| market | pcmci (s) | tigramite, all 254 variables (s) | ratio | tigramite, "
          "stage-A variables (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for seed in seeds:
        y, x, _ = market(240, 252, seed)
        sel = cf.parse_spec("pcmci()|linear|beta|static|hsp").drivers
        t0 = time.perf_counter()
        out = sel.select(y, x, seed=0)
        tp = time.perf_counter() - t0
        screened = [c for c, v in out.scores["screen"].items() if v == "passed"]
        full, stopped = tigramite_time(np.column_stack([y, x]), 0.05, limit)
        small, stopped2 = tigramite_time(np.column_stack([y, x[screened]]), 0.05, limit)
        ge, ge2 = (">" if stopped else ""), (">" if stopped2 else "")
        print(f"| seed {seed} | {tp:.3f} | {ge}{full:.1f} | {ge}{full / tp:.0f}x | "
              f"{ge2}{small:.1f} ({y.shape[1] + len(screened)} vars) | "
              f"{ge2}{small / tp:.0f}x |", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--candidates", default="50,240,2000")
    ap.add_argument("--windows", default="126,252,1000")
    ap.add_argument("--selectors", default="all",
                    help=f"comma list of {', '.join(SELECTORS)} (default all)")
    ap.add_argument("--tigramite", type=float, default=0.0,
                    help="time limit (s) of each tigramite run; 0 skips the comparison")
    ap.add_argument("--tigramite-seeds", type=int, default=2)
    ap.add_argument("--market", action="append", default=[], metavar="KEY=VALUE",
                    help="extra synthetic_market argument (a Python literal), repeatable")
    args = ap.parse_args(argv)
    import ast

    for item in args.market:
        key, _, value = item.partition("=")
        EXTRA[key.strip()] = ast.literal_eval(value.strip())
    names = list(SELECTORS) if args.selectors == "all" else args.selectors.split(",")
    seeds = list(range(args.seeds))
    print("command: " + " ".join(["python", *sys.argv]))
    for m in (int(c) for c in args.candidates.split(",") if c):
        for w in (int(v) for v in args.windows.split(",") if v):
            cell(m, w, seeds, names)
    if args.tigramite > 0:
        versus_tigramite(list(range(args.tigramite_seeds)), args.tigramite)


if __name__ == "__main__":
    main()
