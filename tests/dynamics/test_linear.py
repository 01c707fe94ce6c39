"""``linear``: OLS/ridge against closed forms, and the bad-input errors of the training window."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from causalfolio.errors import DataError
from causalfolio.plugins.dynamics.linear import Linear


def test_ols_recovers_noiseless_coefficients(make_linear):
    assets, drivers, B, a = make_linear(noise=0.0, lag1=True)
    fit = Linear(lags=(0, 1)).fit(assets, drivers, window=100, seed=0)
    assert fit.inputs == ("D0@0", "D0@1", "D1@0", "D1@1")
    np.testing.assert_allclose(fit.coefficients(), B, atol=1e-10)
    np.testing.assert_allclose(fit.intercept, a, atol=1e-12)
    assert len(fit.train_index) == 100 and fit.train_index[-1] == assets.index[-1]


def test_ridge_matches_sklearn(make_linear):
    assets, drivers, _, _ = make_linear(noise=0.01, seed=3)
    lam = 0.05
    fit = Linear(ridge=lam).fit(assets, drivers, window=80, seed=0)
    x = drivers.iloc[-80:].to_numpy()
    for i, col in enumerate(assets.columns):
        ref = Ridge(alpha=lam * 80).fit(x, assets[col].iloc[-80:].to_numpy())
        np.testing.assert_allclose(fit.coef[i], ref.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fit.intercept[i], ref.intercept_, rtol=1e-9, atol=1e-12)


def test_torch_forward_equals_predict(make_linear):
    assets, drivers, _, _ = make_linear()
    fit = Linear().fit(assets, drivers, window=60, seed=0)
    x = fit.design(drivers).to_numpy()[-10:]
    out = fit.torch_forward()(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(out, fit.predict(x), rtol=1e-12)


def test_bad_inputs(make_linear):
    assets, drivers, _, _ = make_linear(n_days=50)
    with pytest.raises(DataError, match="needs 50 samples after lags"):
        Linear(lags=(0, 1)).fit(assets, drivers, window=50, seed=0)
    nan = assets.copy()
    nan.iloc[-5, 1] = np.nan
    with pytest.raises(DataError, match="NaN in the training window.*'A1'"):
        Linear().fit(nan, drivers, window=30, seed=0)
    flat = assets.copy()
    flat["A2"] = 0.001
    with pytest.raises(DataError, match="'A2' has a constant return"):
        Linear().fit(flat, drivers, window=30, seed=0)
