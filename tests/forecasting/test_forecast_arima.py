"""``arima`` against statsmodels: Hannan-Rissanen estimates, forecasts, and MLE on long series."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from causalfolio.plugins.forecasting.timeseries import Arima, hannan_rissanen

sm_hr = pytest.importorskip("statsmodels.tsa.arima.estimators.hannan_rissanen")
from statsmodels.tsa.arima.model import ARIMA  # noqa: E402


def arma_series(t, m, ar, ma, seed, mean=1.0):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((t + 100, m))
    y = np.zeros((t + 100, m))
    for k in range(max(len(ar), len(ma)), t + 100):
        y[k] = e[k]
        for i, a in enumerate(ar, 1):
            y[k] += a * y[k - i]
        for j, b in enumerate(ma, 1):
            y[k] += b * e[k - j]
    return y[100:] + mean


@pytest.fixture(scope="module")
def arma21():
    """ARMA(2, 1): y = 0.5 y1 - 0.2 y2 + e + 0.4 e1, mean 1, 300 samples, 4 series."""
    return arma_series(300, 4, [0.5, -0.2], [0.4], seed=1)


@pytest.mark.parametrize(("p", "q"), [(0, 0), (1, 0), (3, 0), (0, 2), (1, 1), (2, 1)])
def test_hannan_rissanen_equals_statsmodels(arma21, p, q):
    est = hannan_rissanen(arma21.T, p, q)
    for j in range(arma21.shape[1]):
        ref, _ = sm_hr.hannan_rissanen(arma21[:, j], ar_order=p, ma_order=q, demean=True,
                                       unbiased=False)
        np.testing.assert_allclose(est["ar"][j], ref.ar_params, atol=1e-10)
        np.testing.assert_allclose(est["ma"][j], ref.ma_params, atol=1e-10)
        assert est["sigma2"][j] == pytest.approx(ref.sigma2, rel=1e-10)
        assert est["mu"][j] == pytest.approx(arma21[:, j].mean(), rel=1e-12)


@pytest.mark.parametrize("p", [1, 2])
def test_ar_forecast_equals_statsmodels(arma21, p):
    """Given the same parameters, the conditional mean path equals statsmodels' forecast."""
    fit = Arima(p=p).calibrate(arma21, np.random.default_rng(0))
    path = fit.mean_path(10)
    for j in range(2):
        params = [fit.mu[j], *fit.ar[j], fit.sd[j] ** 2]
        res = ARIMA(arma21[:, j], order=(p, 0, 0), trend="c").filter(params)
        np.testing.assert_allclose(path[:, j], res.forecast(10), atol=1e-10)


def test_integrated_model_is_the_integrated_arma(arma21):
    """d = 1 on the cumulated series: same ARMA estimates as d = 0 on its differences, and the
    level forecast is the cumulated difference forecast."""
    level = np.cumsum(arma21, axis=0)
    f1 = Arima(p=2, d=1, q=1).calibrate(level, np.random.default_rng(0))
    f0 = Arima(p=2, d=0, q=1).calibrate(np.diff(level, axis=0), np.random.default_rng(0))
    np.testing.assert_allclose(f1.ar, f0.ar, atol=1e-12)
    np.testing.assert_allclose(f1.ma, f0.ma, atol=1e-12)
    np.testing.assert_allclose(f1.mean_path(5), level[-1] + np.cumsum(f0.mean_path(5), axis=0),
                               atol=1e-10)


def test_arma_close_to_statsmodels_mle_on_long_series():
    """T = 3000: Hannan-Rissanen and exact MLE agree within 0.05 (both within ~0.02 of truth)."""
    y = arma_series(3000, 1, [0.6], [0.3], seed=9)
    est = hannan_rissanen(y.T, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mle = ARIMA(y[:, 0], order=(1, 0, 1), trend="c").fit()
    assert est["ar"][0, 0] == pytest.approx(mle.arparams[0], abs=0.05)
    assert est["ma"][0, 0] == pytest.approx(mle.maparams[0], abs=0.05)
    assert est["ar"][0, 0] == pytest.approx(0.6, abs=0.05)
    assert est["ma"][0, 0] == pytest.approx(0.3, abs=0.05)


def test_ar1_paths_have_the_closed_form_variance():
    """AR(1) b = 0.7, 3000 paths: var of step k = s^2 (1 - b^2k) / (1 - b^2) within 10%."""
    y = arma_series(2000, 2, [0.7], [], seed=3)
    fit = Arima(p=1).calibrate(y, np.random.default_rng(0))
    sim = fit.simulate(np.random.default_rng(1), 8, 3000)
    b, s2 = fit.ar[:, 0], fit.sd**2
    k = np.arange(1, 9)[:, None]
    var = s2 * (1 - b ** (2 * k)) / (1 - b**2)
    assert np.abs(sim.var(axis=0) / var - 1).max() < 0.1
    assert np.abs(sim.mean(axis=0) - fit.mean_path(8)).max() < 5 * np.sqrt(var.max() / 3000)


def test_nonstationary_ar_is_flagged():
    """Explosive AR(1) (1.01 and 1.005): spectral radius >= 0.999, flagged degenerate;
    a stationary AR(1) (0.5) is kept."""
    rng = np.random.default_rng(0)
    e = rng.standard_normal((600, 3))
    y = np.zeros((600, 3))
    for k in range(1, 600):
        y[k] = np.array([1.01, 1.005, 0.5]) * y[k - 1] + e[k]
    fit = Arima(p=1).calibrate(y, rng)
    assert fit.degenerate.tolist() == [True, True, False]
    assert fit.info["n_nonstationary"] == 2


def test_pooled_arima_shares_coefficients(arma21):
    fit = Arima(p=2, q=1, pooled=True).calibrate(arma21, np.random.default_rng(0))
    assert np.ptp(fit.ar, axis=0).max() == 0 and np.ptp(fit.ma, axis=0).max() == 0
    assert fit.ar[0, 0] == pytest.approx(0.5, abs=0.15)


def test_min_samples_follows_the_order():
    assert Arima(p=1).min_samples == 11
    assert Arima(p=1, d=1).min_samples == 12
    # q > 0 needs the long AR of step 1 (order floor(log(n)^2)) plus 10 observations
    n = Arima(p=1, q=1).min_samples
    assert n - int(np.floor(np.log(n) ** 2)) - 2 >= 10
