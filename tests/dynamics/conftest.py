"""Shared small data for the dynamics tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # tiny nets: one thread is fastest and makes timings independent of machine load
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def linear_data(n_days: int = 160, n_assets: int = 3, n_drivers: int = 2, noise: float = 0.002,
                lag1: bool = False, seed: int = 0):
    """Driver returns (T, k) and asset returns r = a + X B' + noise with known B (N, P).

    Inputs are the drivers at lag 0 (and lag 1 when ``lag1``), driver-major like
    ``lagged_design``.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    d = pd.DataFrame(0.01 * rng.standard_normal((n_days, n_drivers)), index=dates,
                     columns=[f"D{j}" for j in range(n_drivers)])
    lags = (0, 1) if lag1 else (0,)
    x = np.column_stack([d[c].shift(lag).to_numpy() for c in d.columns for lag in lags])
    B = rng.uniform(-1.5, 1.5, size=(n_assets, x.shape[1]))
    a = rng.uniform(-1e-3, 1e-3, size=n_assets)
    r = a + np.nan_to_num(x) @ B.T + noise * rng.standard_normal((n_days, n_assets))
    assets = pd.DataFrame(r, index=dates, columns=[f"A{i}" for i in range(n_assets)])
    return assets, d, B, a


@pytest.fixture
def make_linear():
    """The :func:`linear_data` generator."""
    return linear_data
