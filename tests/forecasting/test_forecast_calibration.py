"""Calibration recovers known parameters; simulated paths match closed-form moments.

Sample sizes and tolerances are stated per test. Tolerances are about 4 standard errors of the
estimator at that sample size (the OU AR(1) slope has sd sqrt((1 - b^2) / T) per series).
"""

from __future__ import annotations

import numpy as np
import pytest
from forecasting_sims import hull_white_series, ou_series

from causalfolio.plugins.forecasting.nets import NN, RNN
from causalfolio.plugins.forecasting.sde import HJM, HullWhite, Vasicek
from causalfolio.plugins.forecasting.timeseries import Nonlinear

KAPPA, THETA, SIGMA = 0.05, 0.8, 0.1


@pytest.fixture(scope="module")
def ou():
    """200 OU series of 2000 daily samples, kappa 0.05/day, theta 0.8, sigma 0.1/sqrt(day)."""
    return ou_series(2000, 200, kappa=KAPPA, theta=THETA, sigma=SIGMA, seed=11)


@pytest.mark.parametrize("pooled", [False, True])
@pytest.mark.parametrize("robust", [False, True])
def test_vasicek_recovers_ou_parameters(ou, pooled, robust):
    fit = Vasicek(pooled=pooled, robust=robust).calibrate(ou, np.random.default_rng(0))
    assert not fit.degenerate.any()
    # T = 2000: sd of kappa-hat per series ~ 0.007; mean of 200 series: ~0.0005 plus the
    # O(1/T) small-sample bias (~+0.002). Tolerances: mean within 0.005, every series within
    # 0.04 (5 sd).
    assert abs(fit.kappa.mean() - KAPPA) < 0.005
    assert np.all(np.abs(fit.kappa - KAPPA) < 0.04)
    # theta: stationary sd 0.1/sqrt(0.1) = 0.32, effective samples ~ T kappa / 2 = 50 -> sd ~0.045
    assert abs(fit.theta.mean() - THETA) < 0.02
    assert np.all(np.abs(fit.theta - THETA) < 0.25)
    # sigma: relative sd ~ 1/sqrt(2T) = 1.6% (robust MAD ~2.6%)
    assert abs(fit.sigma.mean() / SIGMA - 1) < 0.01
    assert np.all(np.abs(fit.sigma / SIGMA - 1) < 0.12)
    if pooled:
        assert np.ptp(fit.kappa) == 0.0


def test_robust_fit_resists_innovation_outliers():
    """1% of innovations are 15-sd jumps: Huber keeps kappa close, OLS sigma is inflated."""
    rng = np.random.default_rng(3)
    t, m, b = 2000, 50, np.exp(-KAPPA)
    sd = SIGMA * np.sqrt((1 - b * b) / (2 * KAPPA))
    e = sd * rng.standard_normal((t, m))
    jumps = rng.random((t, m)) < 0.01
    e[jumps] += 15 * sd * rng.choice([-1, 1], size=jumps.sum())
    x = np.empty((t, m))
    x[0] = THETA
    for k in range(1, t):
        x[k] = THETA + b * (x[k - 1] - THETA) + e[k]
    ols = Vasicek().calibrate(x, rng)
    rob = Vasicek(robust=True).calibrate(x, rng)
    assert abs(rob.kappa.mean() - KAPPA) < 0.006
    # the robust innovation sd is the scale of the ordinary shocks; OLS absorbs the jumps
    assert abs(np.median(rob.sd_e) / sd - 1) < 0.05
    assert np.median(ols.sd_e) / sd > 1.5


def test_hull_white_recovers_kappa_sigma_and_mean_level_slope():
    """T = 1500, 100 series, kappa 0.08/day, mean level m(t) = 0.5 + 0.0004 t, sigma 0.05."""
    kappa, m0, m1, sigma = 0.08, 0.5, 4e-4, 0.05
    x = hull_white_series(1500, 100, kappa=kappa, m0=m0, m1=m1, sigma=sigma, seed=5)
    fit = HullWhite(degree=1).calibrate(x, np.random.default_rng(0))
    assert not fit.degenerate.any()
    # the AR slope with intercept and trend has small-sample bias ~ -(2 + 4b) / T = -0.004, i.e.
    # kappa ~ +0.0045; sd of the mean over 100 series ~0.0013. Tolerance 0.01.
    assert abs(fit.kappa.mean() - kappa) < 0.01
    assert abs(fit.sigma.mean() / sigma - 1) < 0.02
    # slope of the mean level: sd per series ~ 3e-5 at this size
    assert abs(fit.slope.mean() - m1) < 2e-5
    # the level the recursion tracks at the last sample is m(t_last) - m1 / kappa
    target = m0 + m1 * 1499 - m1 / kappa
    assert abs(fit.theta.mean() - target) < 0.01
    # Vasicek on the same data sees no trend: its kappa is biased low (the trend looks persistent)
    vas = Vasicek().calibrate(x, np.random.default_rng(0))
    assert vas.kappa.mean() < fit.kappa.mean()


def test_hull_white_degree_zero_is_vasicek(ou):
    a = HullWhite(degree=0).calibrate(ou[:300, :20], np.random.default_rng(0))
    b = Vasicek().calibrate(ou[:300, :20], np.random.default_rng(0))
    np.testing.assert_allclose(a.b, b.b, rtol=1e-12)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-10)


def test_vasicek_paths_match_closed_form_moments(ou):
    """4000 paths, 21 steps: mean and variance against the OU transition moments."""
    x = ou[:500, :3]
    fit = Vasicek().calibrate(x, np.random.default_rng(0))
    h, n = 21, 4000
    sim = fit.simulate(np.random.default_rng(1), h, n)
    k = np.arange(1, h + 1)[:, None]
    mean = fit.theta + (x[-1] - fit.theta) * fit.b**k
    var = fit.sd_e**2 * (1 - fit.b ** (2 * k)) / (1 - fit.b**2)
    z = (sim.mean(axis=0) - mean) / np.sqrt(var / n)
    assert np.abs(z).max() < 4.5
    # variance: relative sd of a sample variance with n = 4000 is sqrt(2/n) = 2.2%
    assert np.abs(sim.var(axis=0) / var - 1).max() < 0.1
    np.testing.assert_allclose(fit.mean_path(h), mean, rtol=1e-12)


def test_hjm_recovers_drift_and_volatility():
    """Arithmetic Brownian motion, 100 series x 5000 steps, mu 0.002, sigma 0.03 per day."""
    rng = np.random.default_rng(8)
    mu, sigma = 0.002, 0.03
    x = np.cumsum(mu + sigma * rng.standard_normal((5000, 100)), axis=0)
    fit = HJM(window=None).calibrate(x, rng)
    # sd of mu-hat per series: sigma / sqrt(T) = 4.2e-4
    assert abs(fit.mu.mean() - mu) < 1e-4
    assert np.all(np.abs(fit.mu - mu) < 2e-3)
    assert abs(fit.sigma.mean() / sigma - 1) < 0.005
    sim = fit.simulate(np.random.default_rng(2), 10, 3000)
    k = np.arange(1, 11)[:, None]
    np.testing.assert_allclose(sim.mean(axis=0), x[-1] + fit.mu * k,
                               atol=5 * sigma * np.sqrt(10 / 3000))
    assert np.abs(sim.var(axis=0) / (fit.sigma**2 * k) - 1).max() < 0.12
    assert not HJM(drift=False).calibrate(x, rng).mu.any()


def test_nonlinear_recovers_phi_and_theta():
    """z_t = 0.3 z_{t-1} + 0.5 tanh(z_{t-1}) + e on the standardised scale; 8 x 20000 samples.

    The generator uses the series' own sd inside tanh (fixed point found by two pilot runs), so
    the model in standardised units is exactly the one the forecaster fits."""
    rng = np.random.default_rng(4)
    phi, th, t, m = 0.3, 0.5, 20000, 8
    e = rng.standard_normal((t, m))
    s = 1.0
    for _ in range(4):
        x = np.zeros((t, m))
        for k in range(1, t):
            x[k] = phi * x[k - 1] + th * s * np.tanh(x[k - 1] / s) + e[k]
        s = float(x.std())
    fit = Nonlinear(p=1, q=1).calibrate(x, rng)
    assert not fit.degenerate.any()
    # regressors z and tanh(z) are strongly collinear: sd of each coefficient ~0.04 per series
    assert abs(fit.phi.mean() - phi) < 0.05
    assert abs(fit.theta.mean() - th) < 0.05
    assert abs((fit.phi + fit.theta).mean() - (phi + th)) < 0.01


def test_nonlinear_without_g_lags_equals_autoreg():
    """p = 1, q = 0 is an AR(1) with intercept: same slope as statsmodels AutoReg (OLS)."""
    from statsmodels.tsa.ar_model import AutoReg

    x = ou_series(400, 3, kappa=0.1, theta=0.2, sigma=0.05, seed=2)
    fit = Nonlinear(p=1, q=0).calibrate(x, np.random.default_rng(0))
    for j in range(3):
        ref = AutoReg(x[:, j], lags=1, trend="c").fit()
        assert fit.phi[j, 0] == pytest.approx(ref.params[1], rel=1e-9)


def test_nonlinear_unstable_fit_falls_back_to_linear_ar():
    """An explosive-looking series (AR(1) coefficient 1.01): no stable nonlinear fit; the linear
    AR(1) is non-stationary too, so the series is flagged degenerate (random walk)."""
    rng = np.random.default_rng(0)
    x = np.zeros((300, 2))
    for k in range(1, 300):
        x[k] = 1.01 * x[k - 1] + rng.standard_normal(2)
    fit = Nonlinear().calibrate(x, rng)
    assert fit.degenerate.all()


def _ar1_standardised(t, m, b, seed):
    x = ou_series(t, m, kappa=-np.log(b), theta=0.0, sigma=1.0, seed=seed)
    return x


def test_nn_learns_the_ar1_map():
    """Pooled net with 1 lag on 10 AR(1) series (b = 0.8, 600 samples): f(z) ~ 0.8 z on |z| < 1.5
    and one-step residual sd ~ sqrt(1 - b^2) = 0.6 on the standardised scale."""
    torch = pytest.importorskip("torch")
    x = _ar1_standardised(600, 10, 0.8, seed=6)
    fit = NN(lags=1, hidden=8, epochs=150, lr=0.03).calibrate(x, np.random.default_rng(0))
    grid = np.linspace(-1.5, 1.5, 13)
    with torch.no_grad():
        f = fit.net(torch.from_numpy(grid[:, None]))[:, 0].numpy()
    assert np.abs(f - 0.8 * grid).max() < 0.12
    assert abs(np.median(fit.sd) - 0.6) < 0.05


def test_rnn_one_step_error_is_the_innovation():
    """GRU on the same data: residual sd within 10% of the innovation sd 0.6 (a persistence
    forecast would give sqrt(2 (1 - b)) = 0.63, white noise 1.0)."""
    pytest.importorskip("torch")
    x = _ar1_standardised(600, 20, 0.8, seed=6)
    fit = RNN(hidden=8, epochs=60, lr=0.02, seq_len=20).calibrate(x, np.random.default_rng(0))
    assert abs(np.median(fit.sd) - 0.6) < 0.06
