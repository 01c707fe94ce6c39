"""Helpers of the optimisation-based and geometric mapping tests (issue 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causalfolio.stages import MappingInputs, Sensitivities, distance_matrix

DATE = pd.Timestamp("2021-01-04")


def exact_returns(mu: np.ndarray, cov: np.ndarray, t: int = 200, seed: int = 0) -> pd.DataFrame:
    """Returns (t, N) whose sample mean is exactly ``mu`` and sample covariance exactly ``cov``."""
    n = len(mu)
    z = np.random.default_rng(seed).standard_normal((t, n))
    z -= z.mean(axis=0)
    c = np.cov(z, rowvar=False)
    z = z @ np.linalg.inv(np.linalg.cholesky(c)).T  # sample covariance = I
    r = mu + z @ np.linalg.cholesky(cov).T
    idx = pd.bdate_range(end=DATE - pd.Timedelta(days=1), periods=t)
    return pd.DataFrame(r, index=idx, columns=[f"A{i}" for i in range(n)])


def make_inputs(returns: pd.DataFrame, *, points: np.ndarray | None = None,
                distance: np.ndarray | None = None, driver_returns: pd.DataFrame | None = None,
                inputs_names: list[str] | None = None, bounds=(0.0, 1.0), seed: int = 0
                ) -> MappingInputs:
    """MappingInputs with sensitivities at ``points`` (N, P) (constant over time)."""
    assets = tuple(returns.columns)
    sens = None
    if points is not None:
        points = np.asarray(points, dtype=float)
        names = inputs_names or [f"D{j}@0" for j in range(points.shape[1])]
        sens = Sensitivities(series=points[None].repeat(3, axis=0),
                             dates=returns.index[-3:], assets=assets, inputs=names,
                             aggregate=points, distance=distance_matrix(points))
        if distance is None:
            distance = sens.distance
    return MappingInputs(date=DATE, assets=assets, returns=returns,
                         driver_returns=driver_returns, distance=distance, sensitivities=sens,
                         bounds=bounds, seed=seed)


def ols_betas(r: np.ndarray, x: np.ndarray) -> np.ndarray:
    """OLS slopes (N, P) of r (T, N) on x (T, P) with an intercept."""
    design = np.column_stack([np.ones(len(x)), x])
    coef = np.linalg.lstsq(design, r, rcond=None)[0]
    return coef[1:].T


def random_returns(n: int, t: int = 300, seed: int = 0) -> pd.DataFrame:
    """Correlated daily returns (t, n) with distinct volatilities, dated; columns A00, A01..."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((t, n)) @ rng.standard_normal((n, n)) * 0.01
    return pd.DataFrame(x, columns=[f"A{i:02d}" for i in range(n)],
                        index=pd.bdate_range("2020-01-01", periods=t))
