"""``sklearn``: scikit-learn regressors as dynamics models, with finite-difference sensitivities."""

from __future__ import annotations

import numpy as np
import pytest

from causalfolio import parse_spec
from causalfolio.errors import ConfigError, DataError, ParameterError
from causalfolio.plugins.dynamics.sklearn_model import SklearnModel, parse_options
from causalfolio.plugins.sensitivities.aad import AAD
from causalfolio.plugins.sensitivities.fd import FD


def test_kernel_ridge_predictions_match_a_direct_fit(make_linear):
    from sklearn.kernel_ridge import KernelRidge

    assets, drivers, _, _ = make_linear(n_days=90, noise=0.005)
    fit = SklearnModel(options="alpha=0.3, gamma=0.2").fit(assets, drivers, window=60, seed=0)
    x = drivers.iloc[-60:].to_numpy()
    xs = (x - x.mean(0)) / x.std(0)
    y = assets["A1"].iloc[-60:].to_numpy()
    ref = KernelRidge(kernel="rbf", alpha=0.3, gamma=0.2).fit(xs, (y - y.mean()) / y.std())
    np.testing.assert_allclose(fit.predict(x)[:, 1], ref.predict(xs) * y.std() + y.mean(),
                               rtol=1e-9, atol=1e-12)


def test_spline_fd_sensitivities_recover_linear_betas(make_linear):
    assets, drivers, B, _ = make_linear(n_days=200, noise=0.0005, seed=4)
    fit = SklearnModel(estimator="spline", options="n_knots=4, alpha=1e-4").fit(
        assets, drivers, window=180, seed=0)
    s = FD().extract(fit, fit.design(drivers).loc[fit.train_index])
    np.testing.assert_allclose(s.aggregate, B, atol=0.05)


def test_seeded_estimators_are_reproducible(make_linear):
    assets, drivers, _, _ = make_linear(n_days=90, noise=0.005)
    m = SklearnModel(estimator="random_forest", options="n_estimators=20")
    x = drivers.to_numpy()[-10:]
    p = [m.fit(assets, drivers, window=60, seed=s).predict(x) for s in (0, 0, 1)]
    assert np.array_equal(p[0], p[1]) and not np.array_equal(p[0], p[2])


def test_dotted_path_and_spec():
    spec = ("rccp|sklearn(estimator='sklearn.linear_model.Ridge',options='alpha=2.0',lags=[0,1])"
            "|fd|static|hsp")
    assert parse_spec(spec).dynamics.estimator == "sklearn.linear_model.Ridge"


def test_bad_parameters_and_models(make_linear):
    with pytest.raises(ParameterError, match="'estimator' must be one of"):
        SklearnModel(estimator="nope")
    with pytest.raises(ParameterError, match="key=value"):
        SklearnModel(options="alpha=")
    with pytest.raises(ParameterError, match="bad options"):
        SklearnModel(options="not_a_kwarg=1")
    assert parse_options(" alpha=0.5, kernel='laplacian' ") == {"alpha": 0.5,
                                                                 "kernel": "laplacian"}
    assets, drivers, _, _ = make_linear(n_days=40)
    with pytest.raises(DataError, match="needs 60 samples"):
        SklearnModel().fit(assets, drivers, window=60, seed=0)
    fit = SklearnModel().fit(assets, drivers, window=30, seed=0)
    with pytest.raises(ConfigError, match="use 'fd'"):
        AAD().extract(fit, fit.design(drivers))
