"""Combinatorial search on G(S), shared by ``greedy`` and ``dp`` (private module, SPEC §1b).

G(S) = sum_{i != j} |dep(Y_i, Y_j | S)|, the conditional dependence left between constituents once
the inputs S are known, estimated from the OLS residuals of every constituent on S (SPEC
Decision): ``pcorr`` uses the residual (partial) correlation, ``cov`` the residual covariance.
The regularised objective of §5.4.1 is J(S) = G(S) - lam * sum_{X in S} R(X), R(X) the rccp
repeatedness of X at threshold eps.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar, Literal

import attrs

from causalfolio._lazy import np, pd
from causalfolio.errors import DataError, ParameterError
from causalfolio.params import in_range, non_empty, non_negative, param, positive, unique_items
from causalfolio.plugins.drivers._common import (
    Pool,
    Residuals,
    build_pool,
    correlation_matrix,
    g_from_cross,
    specific_by_regression,
)
from causalfolio.stages import DriverSelection, DriverSelector

NUMERICAL_TIE = 1e-12
"""Decreases of the objective below this share of G(empty set) are rounding, not improvements."""

Measure = Literal["pcorr", "cov"]
Stop = Literal["k", "score", "constraint"]


def greedy_path(pool: Pool, k: int, measure: str, penalty: np.ndarray, stop: str, tol: float
                ) -> dict[str, Any]:
    """Forward selection on J(S) = G(S) - sum_{p in S} penalty[p] (indices into the pool).

    At each step every addable input is scored by one rank-one update (see
    :class:`~causalfolio.plugins.drivers._common.Residuals`) and the one with the lowest J is
    added (ties: the first in pool order). The first driver is always added. Stopping:
    ``'k'`` at k drivers; ``'score'`` also when no input lowers J (by more than
    ``NUMERICAL_TIE`` x G(empty set), eq. 16); ``'constraint'``
    also when the best decrease of J is below ``tol`` x G(empty set).
    """
    res = Residuals(pool.y, pool.x)
    t = pool.y.shape[0]
    g0 = float(g_from_cross(res.c, measure, t))
    cur, pen = g0, 0.0
    path: list[int] = []
    g_path: list[float] = []
    single: np.ndarray | None = None
    reason = "k"
    while len(path) < k:
        g, ok = res.candidate_g(measure)
        if single is None:
            single = g.copy()
        if not ok.any():
            reason = "no addable candidate (the rest are collinear with the selection)"
            break
        j = g - pen - penalty
        b = int(np.argmin(j))
        drop = cur - float(j[b])
        if path and stop == "score" and drop <= NUMERICAL_TIE * g0:
            reason = "score: no candidate lowers the objective"
            break
        if path and stop == "constraint" and drop < tol * g0:
            reason = f"constraint: best decrease {drop:.6g} < tol x G(empty) = {tol * g0:.6g}"
            break
        res.add(b)
        path.append(b)
        pen += float(penalty[b])
        cur = float(j[b])
        g_path.append(float(g[b]))
    if single is None:
        raise ParameterError(f"greedy driver search: k must be >= 1 (drivers to select), got {k}")
    return {"path": path, "g_path": g_path, "g0": g0, "single": single, "objective": cur,
            "reason": reason}


def swap_refine(pool: Pool, chosen: list[int], measure: str, penalty: np.ndarray,
                max_passes: int) -> dict[str, Any]:
    """Swap local search after forward selection: for each position in turn, replace the driver
    by the input that gives the lowest J together with the others, when that lowers J by more
    than rounding; repeat until a pass changes nothing or ``max_passes`` passes.

    Forward selection cannot undo an early choice: a collider, the best single proxy of the
    constituents' common movement, is often added first and kept, although the true common
    causes without it give a lower G (Remark 3). Swapping removes such choices. Returns the new
    subset (positions kept), its objective and the swaps made.
    """
    t = pool.y.shape[0]
    s = list(chosen)

    def objective(sub: list[int]) -> tuple[float, Residuals]:
        res = Residuals.on_subset(pool.y, pool.x, sub)
        return float(g_from_cross(res.c, measure, t)) - float(penalty[sub].sum()), res

    cur, _ = objective(s)
    g0 = float(g_from_cross(pool.y.T @ pool.y, measure, t))
    swaps: list[list[int]] = []
    for _ in range(max_passes):
        changed = False
        for pos in range(len(s)):
            rest = s[:pos] + s[pos + 1:]
            _, res = objective(rest)
            g, ok = res.candidate_g(measure)
            if not ok.any():
                continue
            j = g - float(penalty[rest].sum()) - penalty
            b = int(np.argmin(j))
            if b != s[pos] and j[b] < cur - NUMERICAL_TIE * g0:
                swaps.append([s[pos], b])
                s[pos] = b
                cur = float(j[b])
                changed = True
        if not changed:
            break
    return {"subset": s, "objective": cur, "swaps": swaps}


def dp_path(pool: Pool, k: int, measure: str, penalty: np.ndarray) -> dict[str, Any]:
    """The recurrence of §5.4.3 over the pool order: D(j, m) = min{D(j-1, m),
    D(j-1, m-1) + Delta(j)}, Delta evaluated exactly for the subset on the path
    (J(S(j-1, m-1) + {x_j}) computed by a rank-one update of that subset's residuals).

    Returns the best subset of every size m = 1..k found by the recurrence (exact when J is
    additive over inputs; otherwise a heuristic whose gap :func:`exhaustive` measures).
    """
    t = pool.y.shape[0]
    x2 = (pool.x**2).sum(axis=0)
    # state per size m: (objective J, subset, orthonormal basis Q (T, m), residuals E, E'E)
    c0 = pool.y.T @ pool.y
    g0 = float(g_from_cross(c0, measure, t))
    states: list[tuple | None] = [(g0, [], np.zeros((t, 0)), pool.y.copy(), c0)]
    states += [None] * k
    for j in range(pool.x.shape[1]):
        x = pool.x[:, j]
        for m in range(min(j + 1, k), 0, -1):
            prev = states[m - 1]
            if prev is None:
                continue
            jp, sub, q, e, c = prev
            xr = x - q @ (q.T @ x)
            n2 = float(xr @ xr)
            if n2 <= 1e-10 * x2[j]:
                continue  # collinear with the subset: not addable
            qn = xr / math.sqrt(n2)
            a = e.T @ qn
            cn = c - np.outer(a, a)
            pen = sum(float(penalty[p]) for p in sub) + float(penalty[j])
            val = float(g_from_cross(cn, measure, t)) - pen
            cur = states[m]
            if cur is None or val < cur[0]:
                states[m] = (val, [*sub, j], np.column_stack([q, qn]), e - np.outer(qn, a), cn)
    best = {m: (s[0], s[1]) for m, s in enumerate(states) if s is not None and m > 0}
    return {"g0": g0, "by_size": best}


def subset_cross(pool: Pool, subsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residual cross-products E'E (B, N, N) of the constituents on each row of ``subsets``
    (B, m) of pool indices, by batched normal equations on standardised inputs, and the mask of
    valid rows: a subset whose inputs are collinear (det of their correlation matrix below 1e-10)
    is invalid (its rows are left at 0)."""
    xs = pool.x / np.sqrt((pool.x**2).sum(axis=0))
    gram = xs.T @ xs
    xty = xs.T @ pool.y
    cyy = pool.y.T @ pool.y
    n = pool.y.shape[1]
    out = np.zeros((len(subsets), n, n))
    gs = gram[subsets[:, :, None], subsets[:, None, :]]
    ok = np.linalg.det(gs) > 1e-10
    if ok.any():
        xy = xty[subsets[ok]]
        beta = np.linalg.solve(gs[ok], xy)
        out[ok] = cyy[None] - np.einsum("bkn,bkm->bnm", xy, beta)
    return out, ok


def subset_objectives(pool: Pool, subsets: np.ndarray, measure: str, penalty: np.ndarray
                      ) -> np.ndarray:
    """J for each row of ``subsets`` (B, m) of pool indices; +inf for collinear subsets."""
    t = pool.y.shape[0]
    out = np.full(len(subsets), np.inf)
    for lo in range(0, len(subsets), 2048):
        sub = subsets[lo: lo + 2048]
        c, ok = subset_cross(pool, sub)
        if ok.any():
            out[lo: lo + 2048][ok] = (g_from_cross(c[ok], measure, t)
                                      - penalty[sub[ok]].sum(axis=1))
    return out


def exhaustive(pool: Pool, k: int, measure: str, penalty: np.ndarray, max_subsets: int
               ) -> dict[str, Any]:
    """The exact minimiser of J over all k-subsets of the pool (ties: first in lexicographic
    order of pool indices). Raises DataError when there are more than ``max_subsets``."""
    p = pool.x.shape[1]
    count = math.comb(p, k)
    if count > max_subsets:
        raise DataError(f"exhaustive search over C({p}, {k}) = {count} subsets exceeds "
                        f"max_subsets={max_subsets}; lower prescreen or k, or raise max_subsets")
    best_val, best_sub = np.inf, None
    it = itertools.combinations(range(p), k)
    while True:
        chunk = np.array(list(itertools.islice(it, 65536)), dtype=int)
        if chunk.size == 0:
            break
        vals = subset_objectives(pool, chunk.reshape(-1, k), measure, penalty)
        i = int(np.argmin(vals))
        if vals[i] < best_val:
            best_val, best_sub = float(vals[i]), [int(v) for v in chunk[i]]
    if best_sub is None:
        raise DataError(f"every {k}-subset of the pool is collinear; lower k")
    return {"objective": best_val, "subset": best_sub, "n_subsets": count}


@attrs.define(frozen=True, kw_only=True)
class GSearchBase(DriverSelector):
    """Parameters and evidence shared by the G(S) searches (not registered)."""

    method: ClassVar[str] = ""

    k: int = param(10, doc="number of drivers to select (at most)", validator=positive)
    window: int | None = param(None, doc="selection window in trading days (default: the "
                                         "backtest's driver window)", validator=positive)
    lags: tuple[int, ...] = param((0, 1), doc="lags l at which a candidate may act, X(t-l) vs "
                                  "Y(t); each enters at its most correlated lag",
                                  validator=[non_empty, unique_items, non_negative])
    measure: Measure = param("pcorr", doc="dependence left between constituents: 'pcorr' "
                             "partial correlation or 'cov' residual covariance")
    prescreen: int | None = param(200, doc="keep the candidates with the largest summed |corr| "
                                  "(rccp, eps=0) before the search; None keeps all",
                                  validator=positive)
    lam: float = param(0.0, doc="lambda of the regularised objective G(S) - lambda * sum R(X)",
                       validator=non_negative)
    eps: float = param(0.1, doc="threshold |corr| >= eps defining the repeatedness R(X) used "
                       "with lam", validator=in_range(0.0, 1.0))
    stop: Stop = param("score", doc="'k': exactly k; 'score': also stop when no candidate lowers "
                       "the objective; 'constraint': also when the decrease < tol x G(empty)")
    tol: float = param(0.01, doc="relative decrease of G required per driver with "
                       "stop='constraint'", validator=non_negative)
    alpha: float = param(0.05, doc="significance level defining which constituents a driver "
                         "is specific to (t-test of its coefficient)",
                         validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))

    def _prepare(self, assets: pd.DataFrame, candidates: pd.DataFrame
                 ) -> tuple[Pool, np.ndarray, np.ndarray]:
        pool = build_pool(self.name, assets, candidates, k=self.k, lags=self.lags,
                          prescreen=self.prescreen)
        if pool.y.shape[0] <= self.k + 2:
            raise DataError(f"{self.name}: {pool.y.shape[0]} usable observations for k={self.k} "
                            "drivers; need more than k + 2 (use a longer window or lower k)")
        rep = (np.abs(correlation_matrix(pool.x, pool.y)) >= self.eps).sum(axis=1)
        return pool, rep, self.lam * rep

    def _result(self, assets: pd.DataFrame, candidates: pd.DataFrame, pool: Pool,
                chosen: list[int], objective: float, g_after: list[float],
                single: np.ndarray | None, rep: np.ndarray, info: dict[str, Any]
                ) -> DriverSelection:
        names_all = [str(c) for c in candidates.columns]
        pos = {n: i for i, n in enumerate(pool.names)}
        frame = pd.DataFrame(index=pd.Index(names_all, name="candidate"))
        frame["lag"] = [pool.lag_of.get(n, -1) for n in names_all]
        frame["strength"] = [pool.strength.get(n, 0.0) for n in names_all]
        frame["prescreened"] = [n in pos for n in names_all]
        frame["repeatedness"] = [int(rep[pos[n]]) if n in pos else 0 for n in names_all]
        if single is not None:
            frame["g_single"] = [float(single[pos[n]]) if n in pos else np.nan for n in names_all]
        step = {pool.names[p]: s + 1 for s, p in enumerate(chosen)}
        frame["step"] = [step.get(n, 0) for n in names_all]
        after = {pool.names[p]: g for p, g in zip(chosen, g_after, strict=False)}
        frame["g_after"] = [after.get(n, np.nan) for n in names_all]
        spec = specific_by_regression(pool.y, pool.x[:, chosen], self.alpha)
        specific = {pool.names[p]: tuple(str(a) for a in assets.columns[spec[s]])
                    for s, p in enumerate(chosen)}
        info = {"method": self.method, "measure": self.measure,
                "lags": {pool.names[p]: int(pool.lags[p]) for p in chosen},
                "pool_size": len(pool.names), "n_candidates": len(names_all),
                "constant": pool.constant, **info}
        return DriverSelection(names=[pool.names[p] for p in chosen], scores=frame,
                               specific_to=specific, objective=float(objective), info=info)
