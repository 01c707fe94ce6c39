"""Helpers of the hierarchical-mapping tests (imported by name; not collected)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causalfolio.stages import MappingInputs


def make_inputs(returns, distance=None, bounds=(0.0, 1.0), assets=None) -> MappingInputs:
    """MappingInputs from returns (T, N) and an optional distance matrix (N, N)."""
    returns = pd.DataFrame(returns)
    if assets is not None:
        returns.columns = list(assets)
    return MappingInputs(date=pd.Timestamp("2021-01-04"), assets=tuple(returns.columns),
                         returns=returns, distance=distance, bounds=bounds, seed=0)


def random_returns(n: int, t: int = 300, seed: int = 0) -> pd.DataFrame:
    """Correlated daily returns (t, n) with distinct volatilities; columns A00, A01, ..."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((t, n)) @ rng.standard_normal((n, n)) * 0.01
    return pd.DataFrame(x, columns=[f"A{i:02d}" for i in range(n)])


def sensitivity_distance(betas: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix (N, N) between rows of ``betas`` (N, K)."""
    diff = betas[:, None, :] - betas[None, :, :]
    return np.sqrt((diff ** 2).sum(-1))


def returns_with_cov(sigma: np.ndarray, t: int = 200, seed: int = 0,
                     names: list[str] | None = None) -> pd.DataFrame:
    """Returns (t, N) whose sample covariance (ddof = 1) is exactly ``sigma`` (N, N)."""
    n = len(sigma)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((t, n))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    x = z @ np.linalg.cholesky(sigma).T
    return pd.DataFrame(x, columns=names or [f"A{i:02d}" for i in range(n)])
