"""``mlcorr``: maximum-likelihood correlation method (SPEC §1c, monograph §5.4.4).

One common cause Z of X1, X2 with X_i = alpha_i Z + eps_i implies
rho_12 = alpha_1 alpha_2 Var(Z) / (sigma_1 sigma_2). Generalised (SPEC Decision): the subset Z of
candidates whose implied covariance Sigma(Z) = B Sigma_Z B' + diag(psi) (B from the OLS regressions
of the constituents on Z, psi their residual variances) gives the observed constituent returns
the highest Gaussian log-likelihood is selected. Since B Sigma_Z B' is the covariance of the
fitted values, Sigma(Z) = S_Y - offdiag(S_E): the sample covariance with the residual
off-diagonal covariances removed, so every candidate is scored by a rank-one update.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import DataError, ParameterError
from causalfolio.params import in_range, non_empty, non_negative, param, positive, unique_items
from causalfolio.plugins.drivers._common import (
    Pool,
    Residuals,
    build_pool,
    check_inputs,
    residual_cross,
    specific_by_regression,
)
from causalfolio.plugins.drivers._gsearch import subset_cross
from causalfolio.stages import DriverSelection, DriverSelector

PSI_FLOOR = 1e-10
"""Residual variances are floored at this share of the constituent's variance, so that Sigma(Z)
stays positive definite when a subset explains a constituent exactly."""

_LOG2PI = math.log(2.0 * math.pi)


def implied_covariance(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Sigma(Z) = B Sigma_Z B' + diag(psi) (N, N) for centred y (T, N) and centred z (T, k),
    maximum-likelihood (1/T) moments."""
    t = y.shape[0]
    return _sigma(y.T @ y / t, residual_cross(y, z)[None] / t)[0]


def _sigma(sy: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Sigma from the sample covariance sy (N, N) and residual covariances se (B, N, N)."""
    d = np.diagonal(se, axis1=-2, axis2=-1)
    psi = np.maximum(d, PSI_FLOOR * np.diag(sy))
    out = sy[None] - se
    idx = np.arange(sy.shape[0])
    out[:, idx, idx] = np.diag(sy)[None] - d + psi
    return out


def gaussian_loglik(y: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log-likelihood of centred rows y (T, N) under N(0, sigma) for a stack sigma (B, N, N);
    -inf where sigma is not positive definite."""
    t, n = y.shape
    sy = y.T @ y
    sign, logdet = np.linalg.slogdet(sigma)
    out = np.full(sigma.shape[0], -np.inf)
    ok = sign > 0
    if ok.any():
        quad = np.einsum("bij,ji->b", np.linalg.solve(sigma[ok], np.broadcast_to(
            sy, (int(ok.sum()), n, n))), np.eye(n))
        out[ok] = -0.5 * (t * n * _LOG2PI + t * logdet[ok] + quad)
    return out


def n_params(n: int, m: int) -> int:
    """Free parameters of the implied-covariance model with m drivers and n constituents:
    loadings n*m, residual variances n, driver covariance m(m+1)/2."""
    return n * m + n + m * (m + 1) // 2


@attrs.define(frozen=True, kw_only=True)
class Mlcorr(DriverSelector):
    """Common drivers maximising the likelihood of the constituents' implied covariance (§5.4.4)."""

    name = "mlcorr"

    k: int = param(10, doc="number of drivers to select (the largest size tried with a criterion)",
                   validator=positive)
    window: int | None = param(None, doc="selection window in trading days (default: the "
                                         "backtest's driver window)", validator=positive)
    lags: tuple[int, ...] = param((0, 1), doc="lags l at which a candidate may act, X(t-l) vs "
                                  "Y(t); each enters at its most correlated lag",
                                  validator=[non_empty, unique_items, non_negative])
    prescreen: int | None = param(200, doc="keep the candidates with the largest summed |corr| "
                                  "(rccp, eps=0) before the search; None keeps all",
                                  validator=positive)
    search: Literal["greedy", "exhaustive"] = param(
        "greedy", doc="forward selection, or all subsets of the pre-screened pool")
    max_subsets: int = param(20000, doc="largest number of subsets searched exhaustively",
                             validator=positive)
    criterion: Literal["none", "aic", "bic"] = param(
        "none", doc="choose the number of drivers <= k by an information criterion")
    stop: Literal["k", "score"] = param("score", doc="'score': greedy also stops when no "
                                        "candidate raises the likelihood; 'k': exactly k")
    alpha: float = param(0.05, doc="significance level defining which constituents a driver "
                         "is specific to (t-test of its coefficient)",
                         validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        check_inputs(self.name, assets, candidates, k=self.k)
        pool = build_pool(self.name, assets, candidates, k=self.k, lags=self.lags,
                          prescreen=self.prescreen)
        t, n = pool.y.shape
        if t <= self.k + 2:
            raise DataError(f"mlcorr: {t} usable observations for k={self.k} drivers; need "
                            "more than k + 2 (use a longer window or lower k)")
        sy = pool.y.T @ pool.y / t
        ll0 = float(gaussian_loglik(pool.y, _sigma(sy, (pool.y.T @ pool.y)[None] / t))[0])
        if self.search == "greedy":
            by_size, single, reason = self._greedy(pool, sy)
        else:
            by_size, single, reason = self._exhaustive(pool, sy), None, "exhaustive"
        sizes = sorted(by_size)
        ic = {m: self._ic(by_size[m][0], n, m, t) for m in sizes}
        if self.criterion != "none":
            m = min(sizes, key=lambda s: (ic[s], s))
            reason += f"; {self.criterion} chose {m} drivers"
        else:
            m = max(sizes)
        loglik, chosen = by_size[m]
        names_all = [str(c) for c in candidates.columns]
        pos = {nm: i for i, nm in enumerate(pool.names)}
        frame = pd.DataFrame(index=pd.Index(names_all, name="candidate"))
        frame["lag"] = [pool.lag_of.get(nm, -1) for nm in names_all]
        frame["strength"] = [pool.strength.get(nm, 0.0) for nm in names_all]
        frame["prescreened"] = [nm in pos for nm in names_all]
        if single is not None:
            frame["loglik_single"] = [float(single[pos[nm]]) if nm in pos else np.nan
                                      for nm in names_all]
        step = {pool.names[p]: s + 1 for s, p in enumerate(chosen)}
        frame["step"] = [step.get(nm, 0) for nm in names_all]
        spec = specific_by_regression(pool.y, pool.x[:, chosen], self.alpha)
        specific = {pool.names[p]: tuple(str(a) for a in assets.columns[spec[s]])
                    for s, p in enumerate(chosen)}
        info = {"method": "mlcorr", "search": self.search, "loglik_empty": ll0,
                "loglik_by_size": {str(s): by_size[s][0] for s in sizes},
                "ic_by_size": {str(s): ic[s] for s in sizes} if self.criterion != "none" else {},
                "criterion": self.criterion, "stop_reason": reason,
                "lags": {pool.names[p]: int(pool.lags[p]) for p in chosen},
                "pool_size": len(pool.names), "n_candidates": len(names_all),
                "constant": pool.constant}
        return DriverSelection(names=[pool.names[p] for p in chosen], scores=frame,
                               specific_to=specific, objective=float(loglik), info=info)

    def _ic(self, loglik: float, n: int, m: int, t: int) -> float:
        p = n_params(n, m)
        if self.criterion == "bic":
            return -2.0 * loglik + p * math.log(t)
        return -2.0 * loglik + 2.0 * p

    def _greedy(self, pool: Pool, sy: np.ndarray
                ) -> tuple[dict[int, tuple[float, list[int]]], np.ndarray, str]:
        t = pool.y.shape[0]
        res = Residuals(pool.y, pool.x)
        cur = -np.inf
        by_size: dict[int, tuple[float, list[int]]] = {}
        single = None
        reason = "k"
        while len(res.chosen) < self.k:
            a, ok = res.updates()
            ll = np.full(a.shape[1], -np.inf)
            idx = np.flatnonzero(ok)
            for lo in range(0, len(idx), 512):
                sel = idx[lo: lo + 512]
                at = a[:, sel].T
                se = (res.c[None] - at[:, :, None] * at[:, None, :]) / t
                ll[sel] = gaussian_loglik(pool.y, _sigma(sy, se))
            if single is None:
                single = ll.copy()
            if not np.isfinite(ll).any():
                reason = "no addable candidate (the rest are collinear with the selection)"
                break
            b = int(np.argmax(ll))
            if res.chosen and self.stop == "score" and ll[b] <= cur:
                reason = "score: no candidate raises the likelihood"
                break
            res.add(b)
            cur = float(ll[b])
            by_size[len(res.chosen)] = (cur, list(res.chosen))
        if single is None:
            raise ParameterError(f"{self.name}: parameter 'k' must be >= 1, got {self.k}")
        return by_size, single, reason

    def _exhaustive(self, pool: Pool, sy: np.ndarray) -> dict[int, tuple[float, list[int]]]:
        t = pool.y.shape[0]
        p = len(pool.names)
        sizes = range(1, self.k + 1) if self.criterion != "none" else [self.k]
        total = sum(math.comb(p, m) for m in sizes)
        if total > self.max_subsets:
            raise DataError(f"mlcorr: exhaustive search over {total} subsets exceeds "
                            f"max_subsets={self.max_subsets}; lower prescreen or k, or raise "
                            "max_subsets")
        out: dict[int, tuple[float, list[int]]] = {}
        for m in sizes:
            best, best_sub = -np.inf, None
            it = itertools.combinations(range(p), m)
            while True:
                chunk = np.array(list(itertools.islice(it, 2048)), dtype=int).reshape(-1, m)
                if chunk.size == 0:
                    break
                c, ok = subset_cross(pool, chunk)
                ll = np.full(len(chunk), -np.inf)
                if ok.any():
                    ll[ok] = gaussian_loglik(pool.y, _sigma(sy, c[ok] / t))
                i = int(np.argmax(ll))
                if ll[i] > best:
                    best, best_sub = float(ll[i]), [int(v) for v in chunk[i]]
            if best_sub is not None:
                out[m] = (best, best_sub)
        if not out:
            raise DataError("mlcorr: every subset of the pool is collinear; lower k")
        return out


@hookimpl
def register_drivers(register):
    register(Mlcorr)
