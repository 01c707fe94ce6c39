"""Time-series forecasters of the sensitivity process: ``arima`` and ``nonlinear`` (SPEC §4,
monograph Table 11)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.errors import ParameterError
from causalfolio.params import in_range, param

from ._common import (
    Fit,
    MonteCarloForecaster,
    ar_stationary,
    draw_shocks,
    lagged,
    median_of,
    regress,
    scale,
    standardised_pool,
)


def initial_ar_order(n: int, p: int, q: int) -> int:
    """Order of the long AR of Hannan-Rissanen step 1 (Gomez and Maravall 2001, as statsmodels)."""
    return max(int(np.floor(np.log(n) ** 2)), 2 * max(p, q))


def yule_walker(y: np.ndarray, order: int) -> np.ndarray:
    """Batched Yule-Walker AR coefficients (M, order) of demeaned series y (M, n), 'mle' divisor n.

    Singular Toeplitz systems get the minimum-norm solution.
    """
    m, n = y.shape
    gam = np.stack([np.einsum("mt,mt->m", y[:, : n - k], y[:, k:]) / n
                    for k in range(order + 1)], axis=1)
    idx = np.abs(np.arange(order)[:, None] - np.arange(order)[None, :])
    r = gam[:, idx]
    return np.einsum("mkl,ml->mk", np.linalg.pinv(r, rcond=1e-12, hermitian=True),
                     gam[:, 1:])


def hannan_rissanen(y: np.ndarray, p: int, q: int, *, pooled: bool = False,
                    robust: bool = False) -> dict[str, np.ndarray]:
    """Vectorised Hannan-Rissanen ARMA(p, q) estimation (steps 1-2, no bias correction).

    Parameters
    ----------
    y
        (M, n) stationary series; each is demeaned first (the mean is returned).

    Returns
    -------
    dict
        ``mu`` (M,), ``ar`` (M, p), ``ma`` (M, q), ``sigma2`` (M,) (OLS scale SSR / (nobs - k),
        or the squared MAD when robust), ``resid`` (M, nobs) of the final regression.
        Equal to ``statsmodels.tsa.arima.estimators.hannan_rissanen(..., demean=True,
        unbiased=False)`` per series (not pooled, not robust).
    """
    m, n = y.shape
    mu = y.mean(axis=1)
    yc = y - mu[:, None]
    if p == 0 and q == 0:
        return {"mu": mu, "ar": np.zeros((m, 0)), "ma": np.zeros((m, 0)),
                "sigma2": scale(yc, robust=robust, center=False) ** 2, "resid": yc}
    if q == 0:
        z, target = lagged(yc, p, p), yc[:, p:]
    else:
        k0 = initial_ar_order(n, p, q)
        phi0 = yule_walker(yc, k0)
        e = yc[:, k0:] - np.einsum("mtk,mk->mt", lagged(yc, k0, k0), phi0)
        z = np.concatenate([lagged(yc, p, k0 + q) if p else np.zeros((m, n - k0 - q, 0)),
                            lagged(e, q, q)], axis=2)
        target = yc[:, k0 + q:]
    reg = regress(z, target, None, pooled=pooled, robust=robust)
    resid = reg.resid
    sigma = scale(resid, robust=robust, center=False, ddof=0 if pooled else p + q)
    return {"mu": mu, "ar": reg.shared[:, :p], "ma": reg.shared[:, p:], "sigma2": sigma**2,
            "resid": resid}


class ArimaFit(Fit):
    """ARIMA(p, d, q) per series: the d-th difference is ARMA(p, q) around its mean."""

    def __init__(self, x: np.ndarray, *, p: int, d: int, q: int, pooled: bool, robust: bool,
                 shocks: str, max_persistence: float = 0.999) -> None:
        xs = x.T
        y = np.diff(xs, n=d, axis=1) if d else xs
        est = hannan_rissanen(y, p, q, pooled=pooled, robust=robust)
        self.p, self.d, self.q = p, d, q
        self.mu, self.ar, self.ma = est["mu"], est["ar"], est["ma"]
        self.sd = np.sqrt(est["sigma2"])
        yc = y - self.mu[:, None]
        self.hist_y = yc[:, y.shape[1] - p:] if p else np.zeros((xs.shape[0], 0))
        resid = est["resid"]
        self.hist_e = resid[:, resid.shape[1] - q:] if q else np.zeros((xs.shape[0], 0))
        # last value of each difference level 0..d-1, to integrate back
        self.levels = [np.diff(xs, n=k, axis=1)[:, -1] for k in range(d)]
        params_ok = (np.all(np.isfinite(self.ar), 1) & np.all(np.isfinite(self.ma), 1)
                     & np.isfinite(self.sd) & np.isfinite(self.mu))
        self.stationary = ar_stationary(np.where(np.isfinite(self.ar), self.ar, 0.0),
                                        margin=1.0 - max_persistence)
        self.degenerate = ~params_ok | ~self.stationary
        self.pool = standardised_pool(resid, self.sd) if shocks == "bootstrap" else None
        self.shocks = shocks
        ok = ~self.degenerate
        self.info: dict[str, Any] = {
            "order": [p, d, q], "pooled": pooled,
            "n_nonstationary": int((~self.stationary).sum()),
            "median_ar": [median_of(self.ar[:, i], ok) for i in range(p)],
            "median_ma": [median_of(self.ma[:, i], ok) for i in range(q)],
            "median_innovation_sd": median_of(self.sd, ok),
        }

    def recursion(self, eps: np.ndarray) -> np.ndarray:
        """Series levels (..., H, M) driven by innovations eps (..., H, M); zeros: the mean path."""
        h = eps.shape[-2]
        lead = eps.shape[:-2]
        m = self.mu.shape[0]
        ys = np.concatenate([np.broadcast_to(self.hist_y.T, (*lead, self.p, m)),
                             np.zeros((*lead, h, m))], axis=-2) if self.p else None
        es = np.concatenate([np.broadcast_to(self.hist_e.T, (*lead, self.q, m)), eps], axis=-2)
        out = np.empty((*lead, h, m))
        for k in range(h):
            val = eps[..., k, :].copy()
            for i in range(1, self.p + 1):
                val += self.ar[:, i - 1] * ys[..., self.p + k - i, :]
            for j in range(1, self.q + 1):
                val += self.ma[:, j - 1] * es[..., self.q + k - j, :]
            if self.p:
                ys[..., self.p + k, :] = val
            out[..., k, :] = val
        out = out + self.mu
        for lvl in reversed(self.levels):  # integrate d times
            out = lvl + np.cumsum(out, axis=-2)
        return out

    def simulate(self, rng: np.random.Generator, h: int, n_paths: int) -> np.ndarray:
        m = self.mu.shape[0]
        z = draw_shocks(rng, (n_paths, h, m), self.shocks, self.pool)
        return self.recursion(z * np.where(np.isfinite(self.sd), self.sd, 0.0))

    def mean_path(self, h: int) -> np.ndarray:
        """Conditional mean forecast (H, M) given the estimated residuals."""
        return self.recursion(np.zeros((h, self.mu.shape[0])))


@attrs.define(frozen=True, kw_only=True)
class Arima(MonteCarloForecaster):
    """ARIMA(p, d, q) per series, Hannan-Rissanen least squares (vectorised across series)."""

    name = "arima"

    p: int = param(1, doc="autoregressive order", validator=in_range(0, 10))
    d: int = param(0, doc="order of differencing", validator=in_range(0, 2))
    q: int = param(0, doc="moving-average order", validator=in_range(0, 10))
    pooled: bool = param(False, doc="share the ARMA coefficients across series (each series "
                                    "standardised first); mean and innovation sd stay per series")
    max_persistence: float = param(
        0.999, doc="AR parts whose companion spectral radius is at or above this are not "
                   "mean-reverting: the series falls back to a random walk",
        validator=in_range(0.0, 1.0, lo_open=True))

    @property
    def min_samples(self) -> int:  # type: ignore[override]
        """Smallest T leaving 10 observations for the final least squares."""
        for n in range(1, 10_000):
            k0 = initial_ar_order(n, self.p, self.q) if self.q else 0
            if n - k0 - self.q - self.p >= 10:
                return n + self.d
        return 10_000

    def calibrate(self, x: np.ndarray, rng: np.random.Generator) -> ArimaFit:
        return ArimaFit(x, p=self.p, d=self.d, q=self.q, pooled=self.pooled, robust=self.robust,
                        shocks=self.shocks, max_persistence=self.max_persistence)


G_FUNCS = {"tanh": lambda v: np.tanh(v), "relu": lambda v: np.maximum(v, 0.0)}


class NonlinearFit(Fit):
    """Nonlinear AR on standardised z: z_t = c + sum phi_i z_{t-i} + sum th_j g(z_{t-j}) + e."""

    def __init__(self, x: np.ndarray, *, p: int, q: int, g: str, pooled: bool, robust: bool,
                 shocks: str, max_persistence: float = 0.999) -> None:
        xs = x.T
        m, t = xs.shape
        self.loc = np.median(xs, axis=1) if robust else xs.mean(axis=1)
        self.sc = scale(xs, robust=robust)
        self.sc = np.where(self.sc > 0, self.sc, xs.std(axis=1))
        z = (xs - self.loc[:, None]) / self.sc[:, None]
        self.g = G_FUNCS[g]
        lag = max(p, q)
        parts = []
        if p:
            parts.append(lagged(z, p, lag))
        if q:
            parts.append(self.g(lagged(z, q, lag)))
        reg = regress(np.concatenate(parts, axis=2), z[:, lag:], np.ones((t - lag, 1)),
                      pooled=pooled, robust=robust)
        self.p, self.q, self.lag = p, q, lag
        self.phi, self.theta = reg.shared[:, :p].copy(), reg.shared[:, p:].copy()
        self.c = reg.own[:, 0].copy()
        self.sd = scale(reg.resid, robust=robust, ddof=0 if pooled else p + q + 1)
        self.hist = z[:, t - lag:]
        far = np.zeros((m, lag))
        far[:, :p] = self.phi
        near = far.copy()
        near[:, :q] += self.theta
        # g has slopes between 0 and 1 (tanh, relu): check the AR at both extreme slopes
        margin = 1.0 - max_persistence
        self.stable = ar_stationary(far, margin) & ar_stationary(near, margin)
        finite = (np.all(np.isfinite(reg.shared), 1) & np.isfinite(self.c) & np.isfinite(self.sd)
                  & (self.sc > 0))
        # unstable or non-finite nonlinear fits: refit those series as the linear AR(p) (p >= 1)
        redo = ~(finite & self.stable)
        self.n_unstable = int(redo.sum())
        self.n_linear = 0
        if redo.any() and p >= 1:
            lin = regress(lagged(z[redo], p, lag), z[redo, lag:], np.ones((t - lag, 1)),
                          robust=robust)
            ok_lin = (np.all(np.isfinite(lin.shared), 1) & np.isfinite(lin.own[:, 0])
                      & ar_stationary(np.where(np.isfinite(lin.shared), lin.shared, 0.0), margin))
            idx = np.flatnonzero(redo)[ok_lin]
            self.phi[idx] = lin.shared[ok_lin]
            self.theta[idx] = 0.0
            self.c[idx] = lin.own[ok_lin, 0]
            self.sd[idx] = scale(lin.resid[ok_lin], robust=robust, ddof=p + 1)
            finite[idx] = True
            self.stable[idx] = True
            self.n_linear = len(idx)
        self.degenerate = ~finite | ~self.stable
        self.pool = standardised_pool(reg.resid, self.sd) if shocks == "bootstrap" else None
        self.shocks = shocks
        ok = ~self.degenerate
        self.info: dict[str, Any] = {
            "order": [p, q], "g": g, "pooled": pooled, "n_unstable": self.n_unstable,
            "n_linear_ar_fallback": self.n_linear,
            "median_phi": [median_of(self.phi[:, i], ok) for i in range(p)],
            "median_theta": [median_of(self.theta[:, j], ok) for j in range(q)],
            "median_innovation_sd_std_units": median_of(self.sd, ok),
        }

    def recursion(self, eps: np.ndarray) -> np.ndarray:
        """Levels (..., H, M) for standardised innovations times sd, eps (..., H, M)."""
        h = eps.shape[-2]
        lead = eps.shape[:-2]
        m = self.c.shape[0]
        zs = np.concatenate([np.broadcast_to(self.hist.T, (*lead, self.lag, m)),
                             np.zeros((*lead, h, m))], axis=-2)
        for k in range(h):
            val = self.c + eps[..., k, :]
            for i in range(1, self.p + 1):
                val = val + self.phi[:, i - 1] * zs[..., self.lag + k - i, :]
            for j in range(1, self.q + 1):
                val = val + self.theta[:, j - 1] * self.g(zs[..., self.lag + k - j, :])
            zs[..., self.lag + k, :] = val
        return self.loc + self.sc * zs[..., self.lag:, :]

    def simulate(self, rng: np.random.Generator, h: int, n_paths: int) -> np.ndarray:
        z = draw_shocks(rng, (n_paths, h, self.c.shape[0]), self.shocks, self.pool)
        return self.recursion(z * np.where(np.isfinite(self.sd), self.sd, 0.0))


@attrs.define(frozen=True, kw_only=True)
class Nonlinear(MonteCarloForecaster):
    """Nonlinear AR S_t = sum phi_i S_{t-i} + sum theta_j g(S_{t-j}) + eps (Table 11)."""

    name = "nonlinear"

    p: int = param(1, doc="number of linear lags phi", validator=in_range(0, 10))
    q: int = param(1, doc="number of nonlinear lags theta", validator=in_range(0, 10))
    g: Literal["tanh", "relu"] = param("tanh", doc="nonlinearity applied to the standardised "
                                                   "lagged series")
    pooled: bool = param(False, doc="share phi and theta across series (standardised series)")
    max_persistence: float = param(
        0.999, doc="fits whose linearised AR (g slope 0 or 1) has spectral radius at or above "
                   "this are unstable: linear AR(p) refit, else random walk",
        validator=in_range(0.0, 1.0, lo_open=True))

    min_samples: ClassVar[int] = 20

    def validate(self) -> None:
        if self.p + self.q == 0:
            raise ParameterError("nonlinear: p + q must be >= 1 (use p=1 for a linear AR(1))")

    def calibrate(self, x: np.ndarray, rng: np.random.Generator) -> NonlinearFit:
        return NonlinearFit(x, p=self.p, q=self.q, g=self.g, pooled=self.pooled,
                            robust=self.robust, shocks=self.shocks,
                            max_persistence=self.max_persistence)


@hookimpl
def register_forecasters(register):
    register(Arima)
    register(Nonlinear)
