"""A changing universe against a fixed one (run by hand, not collected by pytest).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_universe.py

A 20-year (5040 trading days) monthly backtest of 100 assets with 20 candidate drivers, once on a
fixed universe (the baseline, measured in the same run) and once with staggered listings and
delistings (40 assets list during the first 15 years, 20 delist; 5 candidates come and go). The
strategies: a full pipeline (``fixed`` drivers, so that the stages cost the same on both
universes), ``inverse_vol`` and ``hrp``. Target: staggered / fixed <= 1.5 (the universe
bookkeeping is per-date column subsets and cumulative counts). Best of 3 runs each; wall-clock on
a shared machine.
"""

from __future__ import annotations

import time

import numpy as np

from causalfolio.backtest import BacktestConfig, run_backtest
from causalfolio.data import Market, synthetic_market

SPECS = ["fixed(names=['X000','X001','X002'])|linear|beta|static|hsp"]
BENCH = ["inverse_vol", "hrp"]


def staggered(m: Market, seed: int = 0) -> Market:
    rng = np.random.default_rng(seed)
    a, c = m.assets.copy(), m.candidates.copy()
    t = len(a)
    cols = rng.permutation(a.shape[1])
    for j in cols[:40]:  # listings over the first 15 years
        a.iloc[: int(rng.integers(1, int(0.75 * t))), j] = np.nan
    for j in cols[40:60]:  # delistings over the last 15 years
        a.iloc[int(rng.integers(int(0.25 * t), t - 1)):, j] = np.nan
    for j in range(5, 10):
        c.iloc[: int(rng.integers(1, t // 2)), j] = np.nan
    return Market(a, c, m.truth)


def best_of(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    m = synthetic_market(n_assets=100, n_days=5040, n_noise=12, n_proxies=2, n_colliders=2,
                         seed=1)
    s = staggered(m)
    cfg = BacktestConfig(diagnostics=False)
    fixed = best_of(lambda: run_backtest(m, SPECS, cfg, benchmarks=BENCH))
    moving = best_of(lambda: run_backtest(s, SPECS, cfg, benchmarks=BENCH))
    res = run_backtest(s, SPECS, cfg, benchmarks=BENCH)
    n = [u["assets"] for u in res.strategies["hrp"].universe]
    print(f"fixed universe: 100 assets, {len(res.dates)} monthly rebalances: {fixed:.2f} s "
          "(baseline)")
    print(f"staggered universe: {min(n)} to {max(n)} investable assets: {moving:.2f} s")
    print(f"ratio staggered / fixed: {moving / fixed:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
