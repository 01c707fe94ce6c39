"""Timing and reference agreement of the hierarchical mappings (run by hand, not by pytest).

    .venv/bin/python tests/benchmarks/bench_hierarchical.py [--repeats R] [--sizes 20 100 500]

For N = 20, 100, 500 assets (252 days of correlated returns, seeded), times one allocation
from returns to weights, in the same run:

- ``hrp`` against PyPortfolioOpt's ``HRPOpt`` and skfolio's ``HierarchicalRiskParity``
  configured identically (single linkage, raw dendrogram order): target ratio >= 10 at 100
  and 500 assets;
- ``herc`` against skfolio's ``HierarchicalEqualRiskContribution`` (Ward, automatic k);
- ``schur(gamma=0.5)`` against skfolio's ``SchurComplementary`` (monotonic cap on both);
- ``hsp`` on a random symmetric distance matrix (no reference).

Prints the median of R calls (1 call when the warm-up call takes over 2 s), the ratio
reference / causalfolio, and the maximum absolute weight difference from the reference. BLAS
runs single-threaded (set before numpy is imported) so that both sides get the same single
core; timings on a shared machine are still noisy.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from causalfolio.plugins.mapping.herc import Herc  # noqa: E402
from causalfolio.plugins.mapping.hrp import Hrp  # noqa: E402
from causalfolio.plugins.mapping.hsp import Hsp  # noqa: E402
from causalfolio.plugins.mapping.schur import Schur  # noqa: E402
from causalfolio.stages import MappingInputs  # noqa: E402

warnings.filterwarnings("ignore")


def _returns(n: int, t: int = 252, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    k = max(3, n // 10)
    f = rng.standard_normal((t, k)) * 0.01
    load = rng.standard_normal((n, k))
    x = f @ load.T + rng.standard_normal((t, n)) * 0.01 * rng.uniform(0.5, 2, n)
    return pd.DataFrame(x, columns=[f"A{i:03d}" for i in range(n)])


def _median_time(fn, repeats: int) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = fn()  # warm-up (imports, caches)
    if time.perf_counter() - t0 > 2.0:
        repeats = 1
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), np.asarray(out, dtype=float)


def _row(n: int, label: str, t: float, base: float | None = None,
         dw: float | None = None) -> None:
    ratio = f"{base and t / base:>15.1f}" if base else " " * 15
    diff = f"{dw:>10.1e}" if dw is not None else ""
    print(f"{n:>4} {label:<30} {1e3 * t:>10.2f} {ratio} {diff}", flush=True)


def bench(n: int, repeats: int) -> None:
    x = _returns(n)
    rng = np.random.default_rng(1)
    d = np.abs(rng.standard_normal((n, n)))
    d = d + d.T
    np.fill_diagonal(d, 0.0)
    inp = MappingInputs(date=pd.Timestamp("2021-01-04"), assets=tuple(x.columns), returns=x,
                        distance=d)
    inp_alone = MappingInputs(date=pd.Timestamp("2021-01-04"), assets=tuple(x.columns),
                              returns=x)

    def ours(comp, inputs):
        return _median_time(lambda: comp.allocate(inputs).weights.to_numpy(), repeats)

    t_hrp, w_hrp = ours(Hrp(), inp_alone)
    _row(n, "causalfolio hrp", t_hrp)
    try:
        from pypfopt import HRPOpt

        t, w = _median_time(lambda: pd.Series(HRPOpt(x).optimize("single"))[x.columns],
                            repeats)
        _row(n, "PyPortfolioOpt HRPOpt", t, t_hrp, np.abs(w - w_hrp).max())
    except ImportError:
        print("PyPortfolioOpt not installed: pip install pyportfolioopt")
    try:
        from skfolio.cluster import HierarchicalClustering, LinkageMethod
        from skfolio.optimization import (
            HierarchicalEqualRiskContribution,
            HierarchicalRiskParity,
            SchurComplementary,
        )
        from skfolio.seriation import HierarchicalSeriation
    except ImportError:
        print("skfolio not installed: pip install skfolio")
        return

    def seriation():
        return HierarchicalSeriation(hierarchical_clustering_estimator=HierarchicalClustering(
            linkage_method=LinkageMethod.SINGLE), optimal_ordering=False)

    t, w = _median_time(
        lambda: HierarchicalRiskParity(seriation_estimator=seriation()).fit(x).weights_, repeats)
    _row(n, "skfolio HRP", t, t_hrp, np.abs(w - w_hrp).max())

    t_herc, w_herc = ours(Herc(), inp_alone)
    _row(n, "causalfolio herc", t_herc)
    t, w = _median_time(lambda: HierarchicalEqualRiskContribution().fit(x).weights_, repeats)
    _row(n, "skfolio HERC", t, t_herc, np.abs(w - w_herc).max())

    t_schur, w_schur = ours(Schur(gamma=0.5), inp_alone)
    _row(n, "causalfolio schur(gamma=0.5)", t_schur)
    t, w = _median_time(lambda: SchurComplementary(
        gamma=0.5, seriation_estimator=seriation()).fit(x).weights_, repeats)
    _row(n, "skfolio SchurComplementary", t, t_schur, np.abs(w - w_schur).max())

    t_hsp, _ = ours(Hsp(), inp)
    _row(n, "causalfolio hsp", t_hsp)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 500])
    args = ap.parse_args()
    print(f"{'N':>4} {'method':<30} {'median ms':>10} {'ratio ref/ours':>15} {'max |dw|':>10}")
    for n in args.sizes:
        bench(n, args.repeats)


if __name__ == "__main__":
    main()
