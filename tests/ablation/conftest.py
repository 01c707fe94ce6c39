"""Shared fixtures for the ablation tests: a small synthetic market and short windows."""

from __future__ import annotations

import pytest

from causalfolio.data import synthetic_market


@pytest.fixture(scope="session")
def market():
    """6 assets, 20 candidates, 300 days: ~10 monthly rebalances with the short windows."""
    return synthetic_market(seed=1, n_assets=6, n_days=300, n_noise=4)
