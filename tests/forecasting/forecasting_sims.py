"""Simulators with known parameters and Sensitivities builders for the forecasting tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causalfolio.stages import Sensitivities, distance_matrix


def ou_series(t: int, m: int, *, kappa: float, theta: float, sigma: float, seed: int,
              x0: float | None = None) -> np.ndarray:
    """Exact OU samples at unit steps, (T, M): x' = theta + b (x - theta) + sd z, b = e^-kappa."""
    rng = np.random.default_rng(seed)
    b = np.exp(-kappa)
    sd = sigma * np.sqrt((1 - b * b) / (2 * kappa))
    x = np.empty((t, m))
    x[0] = (theta + sigma / np.sqrt(2 * kappa) * rng.standard_normal(m)) if x0 is None else x0
    for k in range(1, t):
        x[k] = theta + b * (x[k - 1] - theta) + sd * rng.standard_normal(m)
    return x


def hull_white_series(t: int, m: int, *, kappa: float, m0: float, m1: float, sigma: float,
                      seed: int) -> np.ndarray:
    """Exact Hull-White samples with linear target m(t) = m0 + m1 t: dS = kappa (m(t) - S) dt +
    sigma dW. Y = S - m(t) + m1 / kappa is a zero-mean OU, so S = Y + m(t) - m1 / kappa."""
    y = ou_series(t, m, kappa=kappa, theta=0.0, sigma=sigma, seed=seed)
    tt = np.arange(t)[:, None]
    return y + m0 + m1 * tt - m1 / kappa


def as_sensitivities(series: np.ndarray, metric: str = "euclidean") -> Sensitivities:
    """Sensitivities (mean aggregate) from a series (T, N, P)."""
    t, n, p = series.shape
    agg = series.mean(axis=0)
    return Sensitivities(series=series, dates=pd.bdate_range("2020-01-01", periods=t),
                         assets=[f"A{i}" for i in range(n)], inputs=[f"x{j}@0" for j in range(p)],
                         aggregate=agg, distance=distance_matrix(agg, metric), metric=metric)
