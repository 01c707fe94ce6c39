"""Timing and reference agreement of the optimisation-based and geometric mappings (issue 7).

Run by hand, not by pytest:

    .venv/bin/python tests/benchmarks/bench_mappings_opt.py [--repeats R] [--sizes 20 100]
        [--threads 1]

For N = 20 and 100 assets of a seeded synthetic market (its true common drivers at their true
lags, OLS sensitivities on 126 days, covariance window 63 days, bounds 0-20%), times one
``allocate`` call of every issue-7 mapping (median of R calls after a warm-up) and prints it
with its ratio to ``hrp`` (the main benchmark, measured in the same run on the same inputs).
Then the reference agreements: ``cvar`` against PyPortfolioOpt's EfficientCVaR and skfolio's
MeanRisk(CVaR), and ``mvo`` against PyPortfolioOpt's EfficientFrontier, on identical data, with
their times. Timings on a shared machine are noisy; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import causalfolio as cf
from causalfolio.stages import MappingInputs, Sensitivities, distance_matrix

warnings.filterwarnings("ignore")

SPECS = [
    "mvo", "mvo(objective='max_sharpe')", "mvo(objective='quadratic_utility')",
    "mvo_reg", "mvo_reg(term='dispersion')", "closed_form", "closed_form(method='qp')",
    "cvar", "cvar(scenarios='drivers', residuals='resample')", "copula(family='gaussian')",
    "copula", "copula(family='clayton')", "kernel", "shrinkage", "manifold",
    "manifold(embedding='tsne')", "graph", "graph(graph='mst')",
]


def build_inputs(n: int, seed: int = 0) -> MappingInputs:
    """MappingInputs from a synthetic market with n assets (true drivers, OLS betas)."""
    m = cf.synthetic_market(n_assets=n, n_days=260, n_clusters=max(3, n // 10), seed=seed)
    tr = m.truth
    a = m.assets.iloc[-126:]
    d = m.candidates[list(tr.common)].iloc[-126:]
    names = [f"{c}@{tr.lags[c]}" for c in tr.common]
    x = np.column_stack([d[c].shift(tr.lags[c]).to_numpy() for c in tr.common])[1:]
    design = np.column_stack([np.ones(len(x)), x])
    b = np.linalg.lstsq(design, a.to_numpy()[1:], rcond=None)[0][1:].T
    assets = tuple(a.columns)
    sens = Sensitivities(series=b[None].repeat(2, axis=0), dates=a.index[-2:], assets=assets,
                         inputs=names, aggregate=b, distance=distance_matrix(b))
    return MappingInputs(date=m.dates[-1], assets=assets, returns=a.iloc[-63:],
                         driver_returns=d.iloc[-63:], distance=sens.distance,
                         sensitivities=sens, bounds=(0.0, 0.2), seed=seed)


def median_time(fn, repeats: int):
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP threads (default 1: on a shared 2-core machine more threads "
                         "oversubscribe the cores and make a 100x100 eigh ~30x slower)")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    comp = lambda spec: cf.parse_spec(f"rccp|linear|beta|static|{spec}").mapping  # noqa: E731
    for n in args.sizes:
        inputs = build_inputs(n)
        base, _ = median_time(lambda inputs=inputs: comp("hrp").allocate(inputs), args.repeats)
        print(f"\nN = {n} assets, {len(inputs.returns)} days; baseline hrp {base * 1e3:.2f} ms")
        print(f"{'mapping':55s} {'ms':>10s} {'x hrp':>8s}")
        for spec in SPECS:
            c = comp(spec)
            t, alloc = median_time(lambda c=c, inputs=inputs: c.allocate(inputs), args.repeats)
            w = alloc.weights.to_numpy()
            assert abs(w.sum() - 1) < 1e-8 and w.min() >= -1e-9 and w.max() <= 0.2 + 1e-8
            print(f"{spec:55s} {t * 1e3:10.2f} {t / base:8.1f}")
        references(inputs, args.repeats)


def references(inputs: MappingInputs, repeats: int) -> None:
    """Agreement and time against PyPortfolioOpt and skfolio on identical data."""
    from pypfopt import EfficientCVaR, EfficientFrontier
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk

    r = inputs.returns
    lo, hi = inputs.bounds
    ours_t, ours = median_time(lambda: cf.parse_spec("cvar").mapping.allocate(inputs), repeats)

    def pyp():
        ec = EfficientCVaR(r.mean().to_numpy(), r, beta=0.95, weight_bounds=(lo, hi))
        return np.array(list(ec.min_cvar().values()))

    pyp_t, pw = median_time(pyp, repeats)
    sk_t, sk = median_time(lambda: MeanRisk(risk_measure=RiskMeasure.CVAR, cvar_beta=0.95,
                                            min_weights=lo, max_weights=hi).fit(r).weights_,
                           repeats)
    w = ours.weights.to_numpy()
    from causalfolio.plugins.mapping._optim import cvar_of

    x = r.to_numpy()
    print(f"cvar vs PyPortfolioOpt EfficientCVaR: max |dw| = {np.abs(w - pw).max():.2e}, "
          f"CVaR {cvar_of(x @ w, 0.95):.6e} vs {cvar_of(x @ pw, 0.95):.6e}; "
          f"time ours {ours_t * 1e3:.1f} ms, theirs {pyp_t * 1e3:.1f} ms")
    print(f"cvar vs skfolio MeanRisk(CVaR): max |dw| = {np.abs(w - sk).max():.2e}, "
          f"CVaR {cvar_of(x @ w, 0.95):.6e} vs {cvar_of(x @ sk, 0.95):.6e}; "
          f"time theirs {sk_t * 1e3:.1f} ms")
    mv_t, mv = median_time(lambda: cf.parse_spec("mvo").mapping.allocate(inputs), repeats)
    cov = np.cov(x, rowvar=False)

    def ef():
        e = EfficientFrontier(r.mean().to_numpy() * 252, cov * 252, weight_bounds=(lo, hi))
        e.min_volatility()
        return np.array(list(e.clean_weights(rounding=None).values()))

    ef_t, ew = median_time(ef, repeats)
    v = mv.weights.to_numpy()
    print(f"mvo min_volatility vs PyPortfolioOpt: max |dw| = {np.abs(v - ew).max():.2e}, "
          f"variance {v @ cov @ v:.6e} vs {ew @ cov @ ew:.6e}; time ours {mv_t * 1e3:.1f} ms, "
          f"theirs {ef_t * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
