"""Fixtures of the hierarchical-mapping tests."""

from __future__ import annotations

import pytest
from hier_helpers import make_inputs as _make_inputs


@pytest.fixture
def make_inputs():
    """Build MappingInputs from returns (T, N) and an optional distance matrix (N, N)."""
    return _make_inputs
