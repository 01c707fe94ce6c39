"""SDE forecasters of the sensitivity process: ``vasicek``, ``hull_white``, ``hjm`` (SPEC §4,
monograph §11.14.3-11.14.5, Table 11)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.params import in_range, param, positive

from ._common import (
    Fit,
    MonteCarloForecaster,
    draw_shocks,
    median_of,
    regress,
    scale,
    standardised_pool,
)


class MeanRevertingFit(Fit):
    """AR(1) with a deterministic mean design: S[t+1] = b S[t] + a . d(tau) + sd_e z.

    ``d(tau) = (1, tau, ..., tau^degree)`` with tau = (t - t_last) / T, so degree 0 is the exact
    discretisation of the Vasicek (OU) SDE and degree >= 1 a Hull-White mean level theta(t).

    Attributes (per series, shape (M,))
    ----------
    b
        AR(1) coefficient exp(-kappa) (clipped to [0, max_persistence]).
    kappa
        Mean-reversion speed per day, -log(b) (inf where b was clipped to 0).
    sd_e
        Sd of the one-day innovation.
    sigma
        Diffusion of the SDE per sqrt(day), sd_e * sqrt(2 kappa / (1 - b^2)).
    theta
        Long-run level a_0 / (1 - b) (degree 0); for degree >= 1 the mean level at the last sample
        (exact for degree 1: m(t) = theta + slope (t - t_last)).
    slope
        Slope of the mean level per day, a_1 / T / (1 - b) (0 for degree 0).
    coef
        (M, degree + 1) coefficients a of the mean design.
    """

    def __init__(self, x: np.ndarray, *, degree: int, pooled: bool, robust: bool,
                 max_persistence: float, shocks: str) -> None:
        t, m = x.shape
        xs = x.T
        self.n_obs = t
        tau = (np.arange(1, t) - (t - 1)) / t
        own = np.stack([tau**k for k in range(degree + 1)], axis=1)
        reg = regress(xs[:, :-1, None], xs[:, 1:], own, pooled=pooled, robust=robust)
        b = reg.shared[:, 0].copy()
        coef = reg.own.copy()
        resid = reg.resid
        self.degenerate = ~np.isfinite(b) | (b >= max_persistence) | ~np.all(np.isfinite(coef), 1)
        low = np.isfinite(b) & (b < 0.0)
        if low.any():  # oscillating AR(1): not an OU; clip to b = 0 (noise around the mean design)
            r0 = regress(np.zeros((int(low.sum()), t - 1, 0)), xs[low, 1:], own, robust=robust)
            b[low], coef[low], resid[low] = 0.0, r0.own, r0.resid
        b = np.where(self.degenerate, 0.0, b)
        self.b, self.coef, self.degree = b, coef, degree
        self.sd_e = scale(resid, robust=robust, ddof=0 if pooled else 1 + own.shape[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            self.kappa = -np.log(b)
            self.sigma = self.sd_e * np.sqrt(2.0 * self.kappa / (1.0 - b**2))
            self.slope = coef[:, 1] / t / (1.0 - b) if degree >= 1 else np.zeros(m)
            self.theta = (coef[:, 0] - self.slope) / (1.0 - b)
        self.pool = standardised_pool(resid, self.sd_e) if shocks == "bootstrap" else None
        self.shocks = shocks
        self.last = x[-1]
        ok = ~self.degenerate
        self.info: dict[str, Any] = {
            "n_clipped_oscillating": int(low.sum()),
            "median_kappa_per_day": median_of(self.kappa, ok),
            "median_half_life_days": median_of(np.log(2.0) / self.kappa, ok),
            "median_sigma": median_of(self.sigma, ok),
            "median_innovation_sd": median_of(self.sd_e, ok),
            "pooled": pooled,
        }
        if degree >= 1:
            self.info["median_mean_level_slope_per_day"] = median_of(self.slope, ok)

    def mean_design(self, h: int) -> np.ndarray:
        """(H, M) deterministic part a . d(tau) of steps 1..H."""
        tau = np.arange(1, h + 1) / self.n_obs
        d = np.stack([tau**k for k in range(self.degree + 1)], axis=1)
        return d @ self.coef.T

    def simulate(self, rng: np.random.Generator, h: int, n_paths: int) -> np.ndarray:
        m = self.last.shape[0]
        drift = self.mean_design(h)
        z = draw_shocks(rng, (n_paths, h, m), self.shocks, self.pool)
        out = np.empty((n_paths, h, m))
        state = np.broadcast_to(self.last, (n_paths, m))
        for k in range(h):
            state = drift[k] + self.b * state + self.sd_e * z[:, k]
            out[:, k] = state
        return out

    def mean_path(self, h: int) -> np.ndarray:
        """Conditional mean E[S_{T+k}], k = 1..H, shape (H, M) (closed form of the recursion)."""
        drift = self.mean_design(h)
        out = np.empty((h, self.last.shape[0]))
        state = self.last.copy()
        for k in range(h):
            state = drift[k] + self.b * state
            out[k] = state
        return out


@attrs.define(frozen=True, kw_only=True)
class Vasicek(MonteCarloForecaster):
    """Ornstein-Uhlenbeck sensitivities dS = kappa (theta - S) dt + sigma dW, exact AR(1) fit."""

    name = "vasicek"

    pooled: bool = param(False, doc="share kappa across all (asset, input) series (fixed-effects "
                                    "panel fit); theta and sigma stay per series")
    max_persistence: float = param(
        0.999, doc="AR(1) coefficients b = exp(-kappa) at or above this are not mean-reverting: "
                   "the series falls back to a random walk", validator=in_range(0.0, 1.0,
                                                                                lo_open=True))

    min_samples: ClassVar[int] = 10

    def calibrate(self, x: np.ndarray, rng: np.random.Generator) -> MeanRevertingFit:
        return MeanRevertingFit(x, degree=0, pooled=self.pooled, robust=self.robust,
                                max_persistence=self.max_persistence, shocks=self.shocks)


@attrs.define(frozen=True, kw_only=True)
class HullWhite(MonteCarloForecaster):
    """Hull-White sensitivities dS = kappa (theta(t) - S) dt + sigma dW, polynomial mean level."""

    name = "hull_white"

    degree: int = param(1, doc="degree of the polynomial in time of the mean level theta(t) "
                               "(0 = Vasicek)", validator=in_range(0, 3))
    pooled: bool = param(False, doc="share kappa across all series (fixed-effects panel fit); "
                                    "theta(t) and sigma stay per series")
    max_persistence: float = param(
        0.999, doc="AR(1) coefficients at or above this fall back to a random walk",
        validator=in_range(0.0, 1.0, lo_open=True))

    min_samples: ClassVar[int] = 20

    def calibrate(self, x: np.ndarray, rng: np.random.Generator) -> MeanRevertingFit:
        return MeanRevertingFit(x, degree=self.degree, pooled=self.pooled, robust=self.robust,
                                max_persistence=self.max_persistence, shocks=self.shocks)


class DriftFit(Fit):
    """Arithmetic Brownian motion S[t+1] = S[t] + mu + sigma z from the window's daily changes."""

    def __init__(self, x: np.ndarray, *, drift: bool, robust: bool, shocks: str) -> None:
        dx = np.diff(x, axis=0).T
        if drift:
            self.mu = np.median(dx, axis=1) if robust else dx.mean(axis=1)
        else:
            self.mu = np.zeros(dx.shape[0])
        self.sigma = scale(dx, robust=robust, ddof=1 if drift else 0)
        self.pool = (standardised_pool(dx - self.mu[:, None], self.sigma)
                     if shocks == "bootstrap" else None)
        self.shocks = shocks
        self.last = x[-1]
        self.degenerate = ~np.isfinite(self.mu) | ~np.isfinite(self.sigma)
        self.info = {"median_abs_drift_per_day": median_of(np.abs(self.mu)),
                     "median_sigma": median_of(self.sigma), "drift": drift}

    def simulate(self, rng: np.random.Generator, h: int, n_paths: int) -> np.ndarray:
        z = draw_shocks(rng, (n_paths, h, self.last.shape[0]), self.shocks, self.pool)
        return self.last + np.cumsum(self.mu + self.sigma * z, axis=1)


@attrs.define(frozen=True, kw_only=True)
class HJM(MonteCarloForecaster):
    """HJM-style S[t+1] = S[t] + mu dt + sigma eps sqrt(dt), mu and sigma from the recent window."""

    name = "hjm"

    window: int | None = param(21, doc="recent window (samples) whose daily changes give mu and "
                                       "sigma (None: all samples)", validator=positive)
    drift: bool = param(True, doc="use the window's mean change as drift (False: driftless)")

    min_samples: ClassVar[int] = 3

    def calibrate(self, x: np.ndarray, rng: np.random.Generator) -> DriftFit:
        return DriftFit(x, drift=self.drift, robust=self.robust, shocks=self.shocks)


@hookimpl
def register_forecasters(register):
    register(Vasicek)
    register(HullWhite)
    register(HJM)
