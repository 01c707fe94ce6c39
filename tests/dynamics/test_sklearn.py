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


def test_sklearn_path_estimator_is_fitted_and_matches_ridge(make_linear):
    """'sklearn.linear_model.Ridge' (allow-listed by its public path) is really fitted: its
    coefficients equal sklearn's Ridge and the closed form on the standardised data."""
    from sklearn.linear_model import Ridge

    assets, drivers, _, _ = make_linear(n_days=120, noise=0.004, seed=2)
    spec = ("rccp|sklearn(estimator='sklearn.linear_model.Ridge',options='alpha=2.0',lags=[0])"
            "|fd|static|hsp")
    model = parse_spec(spec).dynamics
    assert model.estimator == "sklearn.linear_model.Ridge"
    fit = model.fit(assets, drivers, window=100, seed=0)
    x = drivers.iloc[-100:].to_numpy()
    xs = (x - x.mean(0)) / x.std(0)
    for i, col in enumerate(assets.columns):
        y = assets[col].iloc[-100:].to_numpy()
        ys = (y - y.mean()) / y.std()
        core = fit.models[i].regressor_.steps[-1][1]
        assert type(core) is Ridge and core.alpha == 2.0
        ref = Ridge(alpha=2.0).fit(xs, ys)
        closed = np.linalg.solve(xs.T @ xs + 2.0 * np.eye(xs.shape[1]), xs.T @ ys)
        np.testing.assert_allclose(core.coef_, ref.coef_, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(core.coef_, closed, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(fit.predict(x)[:, i], ref.predict(xs) * y.std() + y.mean(),
                                   rtol=1e-9, atol=1e-12)
    # the class name alone resolves to the same estimator
    by_name = SklearnModel(estimator="Ridge", options="alpha=2.0").fit(assets, drivers,
                                                                      window=100, seed=0)
    np.testing.assert_array_equal(by_name.predict(x), fit.predict(x))


def test_allow_list_covers_every_scikit_learn_regressor():
    """Every regressor sklearn.utils.all_estimators lists resolves by name and public path;
    the allow-list's modules are exactly the modules those regressors live in."""
    from sklearn.utils import all_estimators

    from causalfolio.plugins.dynamics._estimators import SKLEARN_MODULES, sklearn_regressor

    found_modules = set()
    for name, cls in all_estimators(type_filter="regressor"):
        path, got = sklearn_regressor(name)
        assert got is cls, name
        assert sklearn_regressor(path) == (path, cls)
        found_modules.add(path.rsplit(".", 1)[0])
    assert found_modules == set(SKLEARN_MODULES)
    for text in ("sklearn.linear_model._ridge.Ridge", "sklearn.base.BaseEstimator",
                 "sklearn.linear_model.LogisticRegression", "KMeans", "StandardScaler"):
        assert sklearn_regressor(text) is None, text  # private, not a regressor, or not public


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
