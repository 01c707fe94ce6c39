"""Shared fixtures: small synthetic markets (seeded) and a clean plugin registry."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits

from causalfolio.data import synthetic_market
from causalfolio.registry import reset_registry

# The tests use small matrices, for which multi-threaded BLAS only adds overhead (5-15x slower
# on a busy 2-core machine): one BLAS thread for the whole session.
_BLAS_LIMIT = threadpool_limits(limits=1)


@pytest.fixture(scope="session")
def small_market():
    """8 assets, 400 days, 20 candidates: fast enough for end-to-end tests."""
    return synthetic_market(n_assets=8, n_days=400, n_noise=6, n_proxies=2, n_colliders=1,
                            seed=7)


@pytest.fixture(scope="session")
def default_market():
    """The built-in default synthetic market (14 assets, 1260 days, 54 candidates)."""
    return synthetic_market()


@pytest.fixture
def fresh_registry(monkeypatch):
    """Reset the process-wide registry before and after a test that changes the environment."""
    reset_registry()
    yield
    reset_registry()
