"""Calibration and cost of the evidence statistics (``causalfolio.evidence``).

Run by hand (not collected by pytest)::

    .venv/bin/python tests/benchmarks/bench_evidence.py [--sims 600] [--markets 20]
        [--part coverage,spa,pbo,dsr,null,volatility,speed] [--null-sims 400]
        [--pooled-sims 100] [--vol-sims 400] [--vol-lw-sims 100]
        (spa_power: the power part alone)

Prints, each against its target (from issue 12):

1. coverage of the 95% Ledoit-Wolf interval of a Sharpe-ratio difference on ``--sims`` simulated
   pairs with a known difference (iid Gaussian; and fat-tailed t(5), AR(1) 0.2 returns) --
   target 93-97%; the same for the log variance ratio; the test's rejection rate at a zero
   difference (nominal 5%);
2. SPA on 20 strategies equal in distribution to the reference: share of 200 simulations with
   p > 0.05 -- target >= 90%; detection rate of a planted edge;
3. PBO on pure-noise grids (target near 0.5 or above) and on grids with one truly better
   strategy (target low);
4. DSR of the best of 100 noise strategies: share significant at 5% (target: rarely);
5. null calibration (issue 22, ``--part null``): ``--null-sims`` studies of arms with no true
   difference on a GARCH-like path resampled as ``--resample stationary --replicas 20``:
   rejection rates of SPA, StepM, MCS exclusion, DSR and the Holm-adjusted comparisons, with
   Clopper-Pearson intervals -- target <= nominal; ``--pooled-sims`` with the replicas pooled as
   markets (the old grid tests) as the control that the check can fail;
6. volatility intervals (issue 22, ``--part volatility``): coverage of the comparisons'
   EWC fixed-b interval and of the Ledoit-Wolf 2011 interval on pairs with one shared or
   separate persistent GARCH variance paths, 500/1000/2000 days -- target 93-97%;
7. speed: a ``--markets``-market study of 6 ``linear|beta`` pipelines + 2 benchmarks on the
   default synthetic market (each market a ``run_ablation``, processes executor), then
   :func:`causalfolio.ablation.evidence.analyse_study`; prints the statistics' share of the
   study's time -- target <= 10%.

Timings are wall-clock on whatever machine runs it; on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from causalfolio.evidence import deflated_sharpe, pbo, sharpe_diff, spa, variance_ratio

MU, SD, RHO = (0.0008, 0.0002), (0.01, 0.012), 0.6


def _pairs(rng, n: int, kind: str, mu=MU, sd=SD):
    cov = np.array([[1.0, RHO], [RHO, 1.0]])
    chol = np.linalg.cholesky(cov)
    if kind == "gauss":
        e = rng.standard_normal((n, 2)) @ chol.T
        return mu + e * sd
    # t(5) innovations scaled to unit variance, AR(1) 0.2: stationary sd = sd
    phi = 0.2
    e = rng.standard_t(5, (n + 200, 2)) / math.sqrt(5 / 3) @ chol.T
    x = np.zeros_like(e)
    for t in range(1, len(e)):
        x[t] = phi * x[t - 1] + math.sqrt(1 - phi ** 2) * e[t]
    return mu + x[200:] * sd


def bench_coverage(sims: int, n: int = 500, n_boot: int = 499) -> None:
    truth = math.sqrt(252) * (MU[0] / SD[0] - MU[1] / SD[1])
    lv = math.log(SD[0] ** 2 / SD[1] ** 2)
    print(f"1. Ledoit-Wolf intervals, {sims} simulated pairs of {n} days, {n_boot} replicates "
          f"(true Sharpe difference {truth:.3f}); target coverage 93-97%")
    for kind in ("gauss", "t5-ar1"):
        rng = np.random.default_rng(2024)
        t0 = time.perf_counter()
        hit_s = hit_v = 0
        blocks = []
        for i in range(sims):
            z = _pairs(rng, n, kind)
            r = sharpe_diff(z[:, 0], z[:, 1], n_boot=n_boot, seed=i)
            v = variance_ratio(z[:, 0], z[:, 1], n_boot=n_boot, seed=i)
            hit_s += r.ci_low <= truth <= r.ci_high
            hit_v += v.ci_low <= lv <= v.ci_high
            blocks.append(r.info["block_size"])
        secs = time.perf_counter() - t0
        se = math.sqrt(0.95 * 0.05 / sims)
        print(f"   {kind:7s} Sharpe coverage {hit_s / sims:.3f}, log-variance-ratio coverage "
              f"{hit_v / sims:.3f} (binomial s.e. {se:.3f}); median block "
              f"{int(np.median(blocks))} days; {secs / sims * 1000:.0f} ms per pair (both tests)")
    rng = np.random.default_rng(7)
    rej = sum(sharpe_diff(*_pairs(rng, n, "gauss", (0.0004, 0.0004), (0.01, 0.01)).T,
                          n_boot=n_boot, seed=i).p_value < 0.05 for i in range(sims // 2))
    print(f"   size at a zero difference: {rej / (sims // 2):.3f} rejections at 5% "
          f"({sims // 2} sims)")


def bench_spa(sims: int = 200, n: int = 500, reps: int = 500) -> None:
    rng = np.random.default_rng(11)
    t0 = time.perf_counter()
    ps = []
    for i in range(sims):
        r = rng.normal(0.0003, 0.01, size=(n, 21))
        ps.append(spa(-r[:, 0], -r[:, 1:], block_size=2, reps=reps, seed=i)["pvalues"][
            "consistent"])
    ps = np.array(ps)
    print(f"2. SPA, 20 strategies equal in distribution to the reference, {sims} sims of {n} "
          f"days, {reps} replicates: p > 0.05 in {np.mean(ps > 0.05):.3f} (target >= 0.90); "
          f"{(time.perf_counter() - t0) / sims:.2f} s per test")
    bench_spa_power(n=n, reps=reps)


def bench_spa_power(sims: int = 50, n: int = 500, reps: int = 500) -> None:
    rng = np.random.default_rng(12)
    for edge in (0.0015, 0.003):                   # annual Sharpe edge ~2.4 and ~4.8
        det = 0
        for i in range(sims):
            r = rng.normal(0.0003, 0.01, size=(n, 21))
            r[:, 5] += edge
            det += spa(-r[:, 0], -r[:, 1:], block_size=2, reps=reps, seed=i)["pvalues"][
                "consistent"] < 0.05
        print(f"   planted edge of {edge * 1e4:.0f} bp a day in one of 20 ({n} days): detected "
              f"(SPA p < 0.05) in {det / sims:.2f} of {sims} sims")


def bench_pbo(sims: int = 20, n: int = 1000, k: int = 20) -> None:
    rng = np.random.default_rng(5)
    noise = [pbo(rng.normal(0, 0.01, (n, k)), n_splits=16)["pbo"] for _ in range(sims)]
    better = []
    for _ in range(sims):
        r = rng.normal(0, 0.01, (n, k))
        r[:, 0] += 0.0015
        better.append(pbo(r, n_splits=16)["pbo"])
    print(f"3. PBO (CSCV, 16 splits, {k} strategies x {n} days, {sims} grids): noise "
          f"{np.mean(noise):.2f} (range {min(noise):.2f}-{max(noise):.2f}; target near 0.5 or "
          f"above); one truly better strategy {np.mean(better):.3f} (target low)")


def bench_dsr(sims: int = 100, n: int = 750, k: int = 100) -> None:
    rng = np.random.default_rng(9)
    sig, naive, dsr = 0, [], []
    for _ in range(sims):
        r = rng.normal(0, 0.01, (n, k))
        sr = r.mean(0) / r.std(0, ddof=1) * math.sqrt(252)
        b = int(sr.argmax())
        res = deflated_sharpe(r[:, b], n_trials=k, sharpe_std=float(sr.std(ddof=1)))
        sig += res["p_value"] < 0.05
        naive.append(res["sharpe"])
        dsr.append(res["dsr"])
    print(f"4. DSR of the best of {k} noise strategies ({n} days, {sims} sims): naive Sharpe "
          f"{np.mean(naive):.2f} on average, DSR {np.mean(dsr):.2f}; significant at 5% in "
          f"{sig / sims:.2f} (target: rarely)")


def _garch_pairs(rng, n: int, sims: int, *, alpha: float, beta: float, shared: bool,
                 df: float | None, sd=(0.01, 0.012), rho: float = 0.6, burn: int = 1000):
    """(sims, n, 2) pairs of GARCH(1,1) returns with correlated shocks (rho), unconditional
    sd ``sd``; ``shared``: one variance path (driven by the first series, scaled), else one
    per series. ``alpha = beta = 0``: iid."""
    z = (rng.standard_normal((n + burn, sims, 2)) if df is None
         else rng.standard_t(df, (n + burn, sims, 2)) / math.sqrt(df / (df - 2)))
    z[..., 1] = rho * z[..., 0] + math.sqrt(1 - rho ** 2) * z[..., 1]
    s2 = np.array(sd) ** 2
    h = np.broadcast_to(s2, (sims, 2)).copy()
    out = np.empty((n + burn, sims, 2))
    for t in range(n + burn):
        out[t] = np.sqrt(h) * z[t]
        if shared:
            u = (1 - alpha - beta) + alpha * out[t, :, 0] ** 2 / s2[0] + beta * h[:, 0] / s2[0]
            h = u[:, None] * s2
        else:
            h = s2 * (1 - alpha - beta) + alpha * out[t] ** 2 + beta * h
    return out[burn:].transpose(1, 0, 2)


VOL_CASES = (("iid Gaussian", 0.0, 0.0, False, None),
             ("one shared GARCH(0.08,0.90) path", 0.08, 0.90, True, None),
             ("separate GARCH(0.08,0.90) paths", 0.08, 0.90, False, None),
             ("separate GARCH(0.05,0.94) paths", 0.05, 0.94, False, None),
             ("separate GARCH(0.08,0.90), t(5) shocks", 0.08, 0.90, False, 5))


def bench_volatility(sims: int, lw_sims: int, lengths=(500, 1000, 2000)) -> None:
    """Issue 22: coverage of the 95% interval of the log variance ratio: the comparisons' EWC
    fixed-b interval (volatility_diff) and the Ledoit-Wolf 2011 bootstrap (variance_ratio)."""
    from causalfolio.evidence import volatility_diff

    truth = math.log(0.01 ** 2 / 0.012 ** 2)
    print(f"6. Volatility intervals (log variance ratio, nominal 95%, correlation 0.6): EWC "
          f"fixed-b (volatility_diff, B = 4) over {sims} pairs; Ledoit-Wolf 2011 "
          f"(variance_ratio, 299 replicates) over {lw_sims} pairs where run")
    for label, a_, b_, shared, df in VOL_CASES:
        cells = []
        for n in lengths:
            x = _garch_pairs(np.random.default_rng(n + int(100 * a_) + shared),
                             n, sims, alpha=a_, beta=b_, shared=shared, df=df)
            hit = sum(r.ci_low <= truth <= r.ci_high
                      for r in (volatility_diff(p[:, 0], p[:, 1]) for p in x))
            cell = f"{n} d: EWC {hit / sims:.3f}"
            if lw_sims and n in (500, 2000) and "separate GARCH(0.08,0.90) paths" == label:
                hl = sum(r.ci_low <= truth <= r.ci_high
                         for r in (variance_ratio(p[:, 0], p[:, 1], n_boot=299, seed=i)
                                   for i, p in enumerate(x[:lw_sims])))
                cell += f", LW {hl / lw_sims:.3f}"
            cells.append(cell)
        print(f"   {label:40s} " + "; ".join(cells))
    print(f"   (binomial s.e. at 0.95: {math.sqrt(0.95 * 0.05 / sims):.3f} for EWC, "
          f"{math.sqrt(0.95 * 0.05 / max(lw_sims, 1)):.3f} for LW)")
    if lw_sims:
        bench_sharpe_garch(2 * lw_sims)


def bench_sharpe_garch(sims: int) -> None:
    """Coverage of the Ledoit-Wolf 2008 Sharpe interval under GARCH(0.08, 0.90) variance paths,
    one shared or one per series (means 0.08% and 0.02% a day)."""
    mu = np.array(MU)
    truth = math.sqrt(252) * (MU[0] / SD[0] - MU[1] / SD[1])
    for n in (500, 2000):
        cells = []
        for shared in (False, True):
            x = _garch_pairs(np.random.default_rng(n + shared), n, sims, alpha=0.08, beta=0.90,
                             shared=shared, df=None) + mu
            hit = sum(r.ci_low <= truth <= r.ci_high
                      for r in (sharpe_diff(p[:, 0], p[:, 1], n_boot=299, seed=i)
                                for i, p in enumerate(x)))
            cells.append(f"{'shared' if shared else 'separate'} paths {hit / sims:.3f}")
        print(f"   Ledoit-Wolf 2008 Sharpe interval, {n} days, {sims} pairs: " + ", ".join(cells))


def bench_null(sims: int, pooled_sims: int, n_days: int = 750, n_boot: int = 500) -> None:
    """Issue 22: null rejection rates of a resampled real-data-like study (tests/evidence/
    null_study.py), with 95% Clopper-Pearson intervals; the pooled replicas as a control."""
    import sys
    from pathlib import Path

    from scipy.stats import binomtest

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evidence"))
    from null_study import NOMINAL, REJECTIONS, null_study, rejections

    print(f"5. Null calibration: 6 arms with no true difference (common GARCH(0.08, 0.90) "
          f"factor + own GARCH noise, t(5) shocks, zero mean), {n_days} days, studied as "
          f"--resample stationary --replicas 20 ({n_boot} bootstrap replicates); rejection "
          f"rates with 95% Clopper-Pearson intervals; target <= nominal")
    for pooled, n in ((False, sims), (True, pooled_sims)):
        if n <= 0:
            continue
        rng = np.random.default_rng(2026 + pooled)
        hits = dict.fromkeys(REJECTIONS, 0)
        t0 = time.perf_counter()
        for i in range(n):
            table, returns = null_study(rng, n_days=n_days, replicas=20, pooled=pooled, seed=i)
            for k, v in rejections(table, returns, n_boot=n_boot, seed=i).items():
                hits[k] += v
        secs = time.perf_counter() - t0
        what = ("pooled replicas (the old grid tests, control)" if pooled else
                "data path (replica 0) + replica intervals")
        print(f"   {what}: {n} studies, {secs / n:.2f} s each")
        for k in REJECTIONS:
            ci = binomtest(hits[k], n).proportion_ci(0.95)
            print(f"     {k:6s} rejects {hits[k] / n:.3f} [{ci.low:.3f}, {ci.high:.3f}] "
                  f"(nominal {NOMINAL[k]:.2f})")


SPEC = "rccp(k=6)|linear(lags=[0,1])|beta|{static,vasicek}|{hsp,hsp(psd=True),hrp}"


def bench_speed(markets: int, workers: int) -> None:
    from causalfolio.ablation import Grid, run_ablation
    from causalfolio.ablation.evidence import analyse_study
    from causalfolio.ablation.summary import factors
    from causalfolio.data import synthetic_market

    grid = Grid.from_specs(SPEC, benchmarks=["equal", "hrp"])
    tables, rets = [], {}
    t0 = time.perf_counter()
    for seed in range(markets):
        res = run_ablation(synthetic_market(seed=seed), grid, None, executor="processes",
                           workers=workers)
        t = res.table.copy()
        t.insert(0, "market", f"seed={seed}")
        tables.append(t)
        rets[f"seed={seed}"] = res.nav.pct_change().iloc[1:]
    study = time.perf_counter() - t0
    table = pd.concat(tables, ignore_index=True)
    # identical arms: equal daily returns in a market (what the runner's weight check finds)
    ident = []
    for _, row in table.iterrows():
        r = rets[row["market"]]
        first = next((table.loc[(table["market"] == row["market"]) & (table["id"] == c),
                                "label"].iloc[0] for c in r.columns
                      if c != row["id"] and np.array_equal(r[c].to_numpy(), r[row["id"]].to_numpy())
                      and list(r.columns).index(c) < list(r.columns).index(row["id"])), None)
        ident.append(first)
    table["identical_to"] = ident
    fac = factors(table, [])
    t1 = time.perf_counter()
    import arch.bootstrap  # noqa: F401 - the statistics' libraries, timed apart
    import scipy.stats  # noqa: F401
    import statsmodels.stats.sandwich_covariance  # noqa: F401
    imports = time.perf_counter() - t1
    t1 = time.perf_counter()
    ev = analyse_study(table, rets, reference="equal", factors=fac)
    stats = time.perf_counter() - t1
    print(f"7. {markets}-market study ({len(grid.combinations())} combinations each, processes "
          f"executor, {workers} workers): backtests {study:.1f} s, statistics {stats:.1f} s = "
          f"{stats / (study + stats):.1%} of the study (target <= 10%); first import of "
          f"arch/scipy.stats/statsmodels in the parent {imports:.1f} s more "
          f"({(stats + imports) / (study + stats + imports):.1%} with it)")
    show = ev.comparisons[ev.comparisons["metric"] == "sharpe"]
    print(show[["label", "diff", "ci_low", "ci_high", "p_value", "p_adjusted", "identical_to",
                "n_markets"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    e = ev.evidence
    print(f"   SPA p={e['spa']['pvalues']['consistent']:.3f}, StepM superior "
          f"{e['stepm']['superior']}, MCS {e['mcs']['included']}, DSR {e['dsr']['dsr']:.2f} "
          f"(n_trials {e['dsr']['n_trials']}), PBO {e['pbo']['pbo']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=600)
    ap.add_argument("--markets", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--null-sims", type=int, default=400)
    ap.add_argument("--vol-sims", type=int, default=400)
    ap.add_argument("--vol-lw-sims", type=int, default=100)
    ap.add_argument("--pooled-sims", type=int, default=100)
    ap.add_argument("--part", default="coverage,spa,pbo,dsr,null,volatility,speed")
    args = ap.parse_args()
    parts = set(args.part.split(","))
    if "coverage" in parts:
        bench_coverage(args.sims)
    if "spa" in parts:
        bench_spa()
    elif "spa_power" in parts:
        bench_spa_power()
    if "pbo" in parts:
        bench_pbo()
    if "dsr" in parts:
        bench_dsr()
    if "null" in parts:
        bench_null(args.null_sims, args.pooled_sims)
    if "volatility" in parts:
        bench_volatility(args.vol_sims, args.vol_lw_sims)
    if "speed" in parts:
        bench_speed(args.markets, args.workers)


if __name__ == "__main__":
    main()
