"""Shared code of the Monte Carlo sensitivity forecasters (SPEC §4, monograph §11.14).

Every forecaster here calibrates a model on the sensitivity series S[t, i, j] (one series per
(asset, input) pair, M = N * P series, vectorised across series), simulates ``n_paths`` Monte Carlo
paths over the horizon H from the last observed state, and turns every simulated step into a
sensitivity distance matrix (§11.14.2). The path-wide matrix is the mean over steps (Sigma-bar) or
their sum (Sigma-tilde, "cumulative"), averaged over paths.

Documented numerical choices shared by all models
-------------------------------------------------
* time step: one evaluation sample (one trading day); rates such as kappa are per day.
* too few samples for the model (``min_samples``): no forecast; the static matrix is returned and
  ``info['fallback']`` says so.
* constant series (sample sd <= 1e-12 x max(1, |mean|), e.g. the ``linear|beta`` pipeline whose
  sensitivities are the betas repeated): held at their last value; when every series is constant
  the result is the static matrix of the last values, reported in ``info['fallback']`` and by a
  :class:`~causalfolio.errors.ConstantSensitivitiesWarning` (shown once per message by Python's
  default filter; an ablation re-emits it once per study).
* degenerate fits of one series (non-mean-reverting or explosive persistence, non-stationary AR
  part, non-finite parameters, non-finite simulated values): that series is simulated as a
  driftless random walk with the sd of its daily changes (the kappa -> 0 limit of the OU); the
  count is ``info['n_random_walk']``.
"""

from __future__ import annotations

import abc
import warnings
from typing import Any, ClassVar, Literal

import attrs

from causalfolio._lazy import np
from causalfolio.errors import ConfigError, ConstantSensitivitiesWarning, DataError
from causalfolio.params import non_negative, param, positive
from causalfolio.stages import DistanceForecast, Sensitivities, SensitivityForecaster

MAD_SCALE = 1.4826
"""MAD -> Gaussian sd."""
HUBER_C = 1.345
"""Huber tuning constant (95% efficiency under Gaussian errors)."""
CONST_TOL = 1e-12


# --- robust scale and batched regression ------------------------------------------------------


def scale(x: np.ndarray, *, robust: bool, ddof: int = 0, axis: int = -1,
          center: bool = True) -> np.ndarray:
    """Standard deviation along ``axis`` (root mean square about 0 when ``center`` is False,
    divisor n - ddof), or the Gaussian-consistent MAD when ``robust``."""
    if robust:
        med = np.median(x, axis=axis, keepdims=True)
        return MAD_SCALE * np.median(np.abs(x - med), axis=axis)
    n = x.shape[axis]
    c = x - x.mean(axis=axis, keepdims=True) if center else x
    return np.sqrt(np.sum(c**2, axis=axis) / max(n - ddof, 1))


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched solve of a x = b with a pseudo-inverse (minimum-norm answer when singular)."""
    if a.shape[-1] == 0:
        return np.zeros(b.shape)
    return np.einsum("...kl,...l->...k", np.linalg.pinv(a, rcond=1e-12, hermitian=True), b)


@attrs.frozen
class Regression:
    """Result of :func:`regress`: coefficients, residuals and IRLS weights.

    Attributes
    ----------
    shared
        (M, k) coefficients of the lagged regressors (identical rows when pooled).
    own
        (M, j) coefficients of the deterministic time design (intercept, trend), per series.
    resid
        (M, n) residuals.
    weights
        (M, n) final Huber weights (ones unless robust).
    """

    shared: np.ndarray
    own: np.ndarray
    resid: np.ndarray
    weights: np.ndarray


def regress(z: np.ndarray, y: np.ndarray, own: np.ndarray | None = None, *, pooled: bool = False,
            robust: bool = False, iters: int = 20) -> Regression:
    """Vectorised (weighted) least squares of M series at once.

    Model: y[m, t] = z[m, t, :] @ c_m + own[t, :] @ a_m + e[m, t].

    Parameters
    ----------
    z
        (M, n, k) regressors built from the series itself (its lags, lagged residuals, g(lags)).
    y
        (M, n) targets.
    own
        (n, j) deterministic design shared in form by every series (column of ones, time trend);
        its coefficients are always per series. ``None`` for no such columns.
    pooled
        Share ``c`` across series (fixed-effects panel estimator: ``own`` partialled out per
        series). Each series is first divided by its sd, so every series weighs the same; this
        assumes ``z`` scales with ``y`` (true for lags of the series and of its residuals).
    robust
        Huber M-estimation by ``iters`` iterations of reweighted least squares (residual scale by
        MAD per series); fixed iteration count, so the result is deterministic.

    Singular normal equations (collinear regressors) get the minimum-norm solution (pseudo-inverse).
    """
    m, n, k = z.shape
    d = np.zeros((n, 0)) if own is None else own
    sc = np.ones(m)
    if pooled:
        sc = y.std(axis=1)
        sc = np.where(sc > 0, sc, 1.0)
        z, y = z / sc[:, None, None], y / sc[:, None]
    w = np.ones((m, n))
    for _ in range(iters + 1 if robust else 1):
        if pooled:
            j = d.shape[1]
            if j:
                dw = w[:, :, None] * d[None]  # (M, n, j)
                inv = np.linalg.pinv(np.einsum("mtj,tl->mjl", dw, d), rcond=1e-12,
                                     hermitian=True)
                zr = z - np.einsum("tj,mjk->mtk", d, inv @ np.einsum("mtj,mtk->mjk", dw, z))
                yr = y - np.einsum("tj,mj->mt", d, np.einsum("mjl,ml->mj", inv,
                                                             np.einsum("mtj,mt->mj", dw, y)))
            else:
                zr, yr = z, y
            wz = w[:, :, None] * zr
            c = _solve(np.einsum("mtk,mtl->kl", wz, zr), np.einsum("mtk,mt->k", wz, yr))
            c = np.broadcast_to(c, (m, k)).copy()
            rest = y - np.einsum("mtk,mk->mt", z, c)
            a = (np.einsum("mjl,ml->mj", inv, np.einsum("mtj,mt->mj", dw, rest)) if j
                 else np.zeros((m, 0)))
        else:
            full = np.concatenate([z, np.broadcast_to(d, (m, n, d.shape[1]))], axis=2)
            wf = w[:, :, None] * full
            coef = _solve(np.einsum("mtk,mtl->mkl", wf, full), np.einsum("mtk,mt->mk", wf, y))
            c, a = coef[:, :k], coef[:, k:]
        resid = y - np.einsum("mtk,mk->mt", z, c) - np.einsum("tj,mj->mt", d, a)
        if robust:
            s = scale(resid, robust=True)
            s = np.where(s > 0, s, np.maximum(np.abs(resid).max(axis=1), 1e-300))
            u = np.abs(resid) / (HUBER_C * s[:, None])
            w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-300))
    return Regression(shared=c, own=a * sc[:, None], resid=resid * sc[:, None], weights=w)


def ar_stationary(phi: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """True where the AR polynomial 1 - sum phi_i L^i has all roots outside the unit circle.

    ``phi`` is (M, p); the check is max |eigenvalue of the companion matrix| < 1 - margin.
    """
    m, p = phi.shape
    if p == 0:
        return np.ones(m, dtype=bool)
    comp = np.zeros((m, p, p))
    comp[:, 0, :] = phi
    if p > 1:
        comp[:, np.arange(1, p), np.arange(p - 1)] = 1.0
    ok = np.all(np.isfinite(phi), axis=1)
    rad = np.full(m, np.inf)
    if ok.any():
        rad[ok] = np.abs(np.linalg.eigvals(comp[ok])).max(axis=1)
    return rad < 1.0 - margin


def lagged(x: np.ndarray, lags: int, start: int) -> np.ndarray:
    """(M, n, lags) matrix of x[:, t - 1], ..., x[:, t - lags] for t = start .. T-1."""
    t = x.shape[1]
    return np.stack([x[:, start - i: t - i] for i in range(1, lags + 1)], axis=2)


# --- shocks, random walk, distances ------------------------------------------------------------


def draw_shocks(rng: np.random.Generator, shape: tuple[int, ...], kind: str,
                pool: np.ndarray | None) -> np.ndarray:
    """Unit-variance shocks: standard normal, or resampled from a pool of standardised residuals."""
    if kind == "bootstrap" and pool is not None and pool.size >= 2:
        return pool[rng.integers(0, pool.size, size=shape)]
    return rng.standard_normal(shape)


def standardised_pool(resid: np.ndarray, sd: np.ndarray) -> np.ndarray | None:
    """Residuals (M, n) divided by their series' sd, pooled, centred and rescaled to unit sd."""
    ok = sd > 0
    if not ok.any():
        return None
    pool = (resid[ok] / sd[ok, None]).ravel()
    pool = pool[np.isfinite(pool)]
    if pool.size < 2 or pool.std() == 0:
        return None
    return (pool - pool.mean()) / pool.std()


def random_walk_paths(x: np.ndarray, h: int, n_paths: int, rng: np.random.Generator, *,
                      robust: bool) -> np.ndarray:
    """Driftless random walk from the last value of each series, (n_paths, H, M).

    ``x`` is (T, M); the step sd is the (robust) sd of the daily changes.
    """
    m = x.shape[1]
    if m == 0:
        return np.zeros((n_paths, h, 0))
    sd = scale(np.diff(x, axis=0), robust=robust, axis=0) if x.shape[0] > 2 else np.zeros(m)
    sd = np.where(np.isfinite(sd), sd, 0.0)
    steps = sd * rng.standard_normal((n_paths, h, m))
    return x[-1] + np.cumsum(steps, axis=1)


def step_distances(points: np.ndarray, metric: str) -> np.ndarray:
    """Distance matrices of many point sets: (B, N, P) -> (B, N, N), symmetric, zero diagonal.

    Euclidean uses a batched Gram computation on centred points (rounding ~1e-8 relative to the
    point norms); other metrics call ``scipy.spatial.distance.cdist`` per set.
    """
    from scipy.spatial.distance import cdist

    b, n, _ = points.shape
    if metric == "euclidean":
        c = points - points.mean(axis=1, keepdims=True)
        sq = np.einsum("bnp,bnp->bn", c, c)
        d2 = sq[:, :, None] + sq[:, None, :] - 2.0 * (c @ np.swapaxes(c, 1, 2))
        d = np.sqrt(np.maximum(d2, 0.0))
    else:
        d = np.stack([cdist(p, p, metric=metric) for p in points]) if b else np.zeros((0, n, n))
    d = 0.5 * (d + np.swapaxes(d, 1, 2))
    d[:, np.arange(n), np.arange(n)] = 0.0
    return d


def path_distance(paths: np.ndarray, metric: str, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Path-wide distance matrix of paths (n_paths, H, N, P) (§11.14.2).

    Returns the aggregate (N, N) -- per path the mean over steps (``mean``, Sigma-bar) or their sum
    (``cumulative``, Sigma-tilde = H x Sigma-bar), then the mean over paths -- and the mean over
    paths of the per-step matrices, (H, N, N).
    """
    n_paths, h, n, p = paths.shape
    per_step = np.zeros((h, n, n))
    chunk = max(1, int(2_000_000 // max(n * n, 1)))  # bounds memory to ~16 MB per batch
    for k in range(h):
        for s in range(0, n_paths, chunk):
            per_step[k] += step_distances(paths[s: s + chunk, k], metric).sum(axis=0)
    per_step /= n_paths
    agg = per_step.mean(axis=0) if how == "mean" else per_step.sum(axis=0)
    agg = 0.5 * (agg + agg.T)
    np.fill_diagonal(agg, 0.0)
    return agg, per_step


# --- the base class -----------------------------------------------------------------------------


class Fit(abc.ABC):
    """A calibrated model of the (non-constant) series: simulation and facts for ``info``."""

    degenerate: np.ndarray
    """(M,) bool: series whose fit is degenerate (simulated as a random walk instead)."""
    info: dict[str, Any]

    @abc.abstractmethod
    def simulate(self, rng: np.random.Generator, h: int, n_paths: int) -> np.ndarray:
        """Paths (n_paths, H, M) of every series (degenerate ones may hold anything finite)."""


def median_of(values: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """Median of the finite values (where ``mask``), as a float for ``info``; None if none."""
    v = np.asarray(values, float)
    if mask is not None:
        v = v[mask]
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else None


@attrs.define(frozen=True, kw_only=True)
class MonteCarloForecaster(SensitivityForecaster):
    """Common parameters and the Monte Carlo / path-wide distance machinery of every model."""

    horizon: int | None = param(None, doc="forecast horizon in trading days (default: the "
                                          "holding period until the next rebalance)",
                                validator=positive)
    n_paths: int = param(100, doc="number of Monte Carlo paths", validator=positive)
    aggregate: Literal["mean", "cumulative"] = param(
        "mean", doc="aggregation over the horizon: mean of the step matrices (Sigma-bar) or their "
                    "sum (Sigma-tilde, = H x mean)")
    window: int | None = param(None, doc="calibrate on the last `window` samples of the series "
                                         "(default: all)", validator=positive)
    robust: bool = param(False, doc="robust calibration for heavy tails (Huber regression, MAD "
                                    "scales)")
    shocks: Literal["normal", "bootstrap"] = param(
        "normal", doc="simulation shocks: Gaussian, or resampled standardised residuals (keeps "
                      "heavy tails)")
    keep_paths: int = param(10, doc="number of simulated paths kept in the result for reports",
                            validator=non_negative)

    min_samples: ClassVar[int] = 10
    """Fewer calibration samples than this: no forecast (static fallback)."""

    @abc.abstractmethod
    def calibrate(self, x: np.ndarray, rng: np.random.Generator) -> Fit:
        """Calibrate on the non-constant series x, shape (T, M)."""

    def forecast(self, sens: Sensitivities, *, horizon: int, seed: int) -> DistanceForecast:
        """Calibrate on ``sens.series``, simulate, and return the path-wide distance matrix.

        Parameters
        ----------
        sens
            Sensitivities with series S[t, i, j] of shape (T, N, P).
        horizon
            Holding period in trading days; the ``horizon`` parameter overrides it.
        seed
            Seed of the Monte Carlo simulation (and of net initialisation).

        Returns
        -------
        DistanceForecast
            ``distance`` (N, N), ``paths`` (keep_paths, H, N, P), ``info`` with the calibration
            summary and every fallback taken.
        """
        s = np.asarray(sens.series, dtype=float)
        if s.ndim != 3 or s.shape[1:] != (len(sens.assets), len(sens.inputs)):
            raise DataError(f"{self.name}: sensitivity series must have shape (T, N, P) = "
                            f"(T, {len(sens.assets)}, {len(sens.inputs)}), got {s.shape}")
        if not np.all(np.isfinite(s)):
            raise DataError(f"{self.name}: the sensitivity series contain NaN or inf; fix the "
                            "sensitivity stage output before forecasting")
        h = self.horizon or horizon
        if h is None or int(h) < 1:
            raise ConfigError(f"{self.name}: the forecast horizon must be >= 1 trading day, got "
                              f"{h!r}; set horizon=... or a positive holding period")
        h = int(h)
        if self.window is not None:
            s = s[-self.window:]
        t, n, p = s.shape
        info: dict[str, Any] = {
            "model": self.name, "horizon": h, "n_paths": self.n_paths,
            "aggregate": self.aggregate, "n_samples": t, "n_series": n * p,
            "robust": self.robust, "shocks": self.shocks,
        }
        if t < self.min_samples:
            info["fallback"] = (f"too short: {t} samples < {self.min_samples} needed by "
                                f"{self.name}; static distance matrix used")
            return DistanceForecast(distance=sens.distance, assets=sens.assets, horizon=h,
                                    info=info)
        x = s.reshape(t, n * p)
        sd = x.std(axis=0)
        const = ~(sd > CONST_TOL * np.maximum(1.0, np.abs(x.mean(axis=0))))
        info["n_constant"] = int(const.sum())
        if const.all():
            warnings.warn(ConstantSensitivitiesWarning(
                f"{self.name}: the sensitivities are constant over the window (linear|beta?); "
                "the forecast equals static"), stacklevel=2)
            last = x[-1].reshape(n, p)
            d = step_distances(last[None], sens.metric)[0]
            info["fallback"] = ("constant series (e.g. linear|beta): every series held at its "
                                "last value; the distance matrix is the static one of these values")
            paths = np.broadcast_to(last, (min(self.keep_paths, self.n_paths), h, n, p)).copy()
            return DistanceForecast(distance=d, assets=sens.assets, horizon=h,
                                    paths=paths if self.keep_paths else None, info=info)
        rng = np.random.default_rng(seed)
        xv = x[:, ~const]
        fit = self.calibrate(xv, rng)
        sim = np.asarray(fit.simulate(rng, h, self.n_paths), dtype=float)
        bad = np.asarray(fit.degenerate, bool) | ~np.all(np.isfinite(sim), axis=(0, 1))
        info["n_nonfinite_paths"] = int((~np.all(np.isfinite(sim), axis=(0, 1))
                                         & ~fit.degenerate).sum())
        if bad.any():
            sim[:, :, bad] = random_walk_paths(xv[:, bad], h, self.n_paths, rng,
                                               robust=self.robust)
        info["n_random_walk"] = int(bad.sum())
        if bad.any():
            info["fallback"] = (f"{int(bad.sum())} of {xv.shape[1]} series had a degenerate fit "
                                "(non-mean-reverting, explosive or non-finite) and were "
                                "simulated as driftless random walks")
        info.update(fit.info)
        full = np.empty((self.n_paths, h, n * p))
        full[:, :, const] = x[-1, const]
        full[:, :, ~const] = sim
        paths = full.reshape(self.n_paths, h, n, p)
        dist, _ = path_distance(paths, sens.metric, self.aggregate)
        if not np.all(np.isfinite(dist)):
            info["fallback"] = "non-finite path-wide distances; static distance matrix used"
            dist = sens.distance
        return DistanceForecast(distance=dist, assets=sens.assets, horizon=h,
                                paths=paths[: self.keep_paths].copy() if self.keep_paths else None,
                                info=info)
