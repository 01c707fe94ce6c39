"""CausalFactorModel, a skfolio prior: the known answer against skfolio's TimeSeriesFactorModel,
the factor structure of its moments, skfolio's optimisers on it, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skfolio", reason="the interop tests need skfolio (pip install "
                                      "'causalfolio[skfolio]'; it is in the dev extra)")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

from skfolio.optimization import (  # noqa: E402
    HierarchicalRiskParity,
    MeanRisk,
    RiskBudgeting,
)
from skfolio.prior import LoadingMatrixRegression, TimeSeriesFactorModel  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402

from causalfolio.errors import DataError, ParameterError, SpecError  # noqa: E402
from causalfolio.sklearn import CausalFactorModel  # noqa: E402


@pytest.fixture(scope="module")
def xf(small_market):
    """8 assets and 4 candidates (the true drivers first), 200 days."""
    return small_market.assets.iloc[:200], small_market.candidates.iloc[:200, :4]


def test_fixed_linear_beta_is_skfolios_time_series_factor_model(xf):
    X, F = xf
    names = ", ".join(f"'{c}'" for c in F.columns)
    ours = CausalFactorModel(spec=f"fixed(names=[{names}])|linear|beta|static",
                             driver_window=200, train_window=200).fit(X, F)
    ref = TimeSeriesFactorModel(loading_matrix_estimator=LoadingMatrixRegression(
        linear_regressor=LinearRegression())).fit(X, factors=F)
    a, b = ours.return_distribution_, ref.return_distribution_
    for field in ("mu", "covariance", "returns"):
        assert np.abs(getattr(a, field) - getattr(b, field)).max() <= 1e-10, field
    fa, fb = a.factor_model, b.factor_model
    assert np.abs(fa.loading_matrix - fb.loading_matrix).max() <= 1e-10
    assert np.abs(fa.idio_returns - np.asarray(fb.idio_returns)).max() <= 1e-10
    assert ours.factor_names_ == [f"{c}@0" for c in F.columns]
    # the same minimum-variance weights from skfolio's optimiser on either prior
    w_ours = MeanRisk(prior_estimator=clone(ours)).fit(X, F).weights_
    with __import__("sklearn").config_context(enable_metadata_routing=True):
        w_ref = MeanRisk(prior_estimator=clone(ref)).fit(X, factors=F).weights_
    assert np.abs(w_ours - w_ref).max() <= 1e-6


def test_moments_follow_the_factor_structure(xf):
    """Selected drivers, lags, alpha off, a full residual covariance: mu = B mean(x),
    cov = B Sigma_x B' + cov(r - x B') on the training rows, by hand."""
    X, F = xf
    m = CausalFactorModel(spec="rccp(k=2)|linear(lags=[0,1])|beta|static", train_window=100,
                          alpha=False, residual="full").fit(X, F)
    assert len(m.drivers_) == 2 and len(m.factor_names_) == 4
    x = np.column_stack([F[d].shift(lag).to_numpy()[-100:] for d, lag in
                         (n.split("@") for n in m.factor_names_) for lag in [int(lag)]])
    r = X.to_numpy()[-100:]
    b = m.loading_matrix_
    assert np.allclose(b, m.rebalance_.sensitivities.aggregate, atol=0)  # sorted names: same order
    dist = m.return_distribution_
    assert np.allclose(dist.mu, b @ x.mean(axis=0), atol=1e-15)
    cov = b @ np.cov(x, rowvar=False) @ b.T + np.cov(r - x @ b.T, rowvar=False)
    assert np.allclose(dist.covariance, cov, rtol=1e-10, atol=1e-16)
    assert np.allclose(dist.returns, x @ b.T, atol=1e-15)


@pytest.mark.parametrize("optimiser", [MeanRisk, RiskBudgeting, HierarchicalRiskParity])
def test_skfolio_optimisers_take_it(xf, optimiser):
    X, F = xf
    opt = optimiser(prior_estimator=CausalFactorModel(spec="rccp(k=2)|linear|beta|static"))
    w = opt.fit(X, F).weights_
    assert w.shape == (X.shape[1],) and abs(w.sum() - 1) < 1e-8 and (w >= -1e-10).all()
    assert len(opt.prior_estimator_.drivers_) == 2


def test_factor_model_errors(xf):
    X, F = xf
    with pytest.raises(ParameterError, match="loadings must be one of"):
        CausalFactorModel(loadings="mean").fit(X, F)
    with pytest.raises(SpecError, match="takes the four stages"):
        CausalFactorModel(spec="rccp(k=2)|linear|beta|static|hsp").fit(X, F)
    with pytest.raises(DataError, match="needs candidate driver returns"):
        CausalFactorModel().fit(X)
    with pytest.raises(DataError, match="given twice"):
        CausalFactorModel().fit(X, F, drivers=F)


def test_forecast_loadings_are_the_mean_forecast_sensitivities(xf):
    """A path forecaster: B is the mean of the forecast sensitivity paths over paths and
    horizon; loadings='aggregate' keeps the in-sample aggregate."""
    X, F = xf
    spec = ("rccp(k=2)|sklearn(estimator='random_forest')|fd|"
            "vasicek(n_paths=20, keep_paths=20)")
    m = CausalFactorModel(spec=spec, horizon=5).fit(X, F)
    fc, sens = m.rebalance_.forecast, m.rebalance_.sensitivities
    assert fc.paths.shape == (20, 5, X.shape[1], 2)
    assert np.array_equal(m.loading_matrix_, fc.paths.mean(axis=(0, 1)))
    assert not np.allclose(m.loading_matrix_, sens.aggregate)
    agg = CausalFactorModel(spec=spec, horizon=5, loadings="aggregate").fit(X, F)
    assert np.array_equal(agg.loading_matrix_, sens.aggregate)
