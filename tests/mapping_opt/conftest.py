"""Shared fixtures of the optimisation-based and geometric mapping tests (issue 7)."""

from __future__ import annotations

import pandas as pd
import pytest
from mapopt_helpers import make_inputs, ols_betas


@pytest.fixture(scope="session")
def market():
    import causalfolio as cf

    return cf.synthetic_market(n_assets=12, n_days=300, seed=3)


@pytest.fixture(scope="session")
def truth_inputs(market):
    """MappingInputs built from the synthetic truth: the true common drivers at their true lags,
    OLS sensitivities on the last 126 days, bounds 3%-30%."""
    truth = market.truth
    window = 126
    a = market.assets.iloc[-window:]
    d = market.candidates[list(truth.common)].iloc[-window:]
    names = [f"{c}@{truth.lags[c]}" for c in truth.common]
    x = pd.DataFrame({n: d[c].shift(truth.lags[c]) for n, c in zip(names, truth.common,
                                                                   strict=True)}).iloc[1:]
    b = ols_betas(a.iloc[1:].to_numpy(), x.to_numpy())
    return make_inputs(a, points=b, driver_returns=d, inputs_names=names, bounds=(0.03, 0.3),
                       seed=7)
