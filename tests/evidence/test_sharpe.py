"""Within-market tests: Ledoit-Wolf Sharpe difference and variance ratio, paired bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from causalfolio.backtest import performance
from causalfolio.errors import ConfigError, DataError
from causalfolio.evidence import max_drawdown, metric_diff, sharpe_diff, variance_ratio
from causalfolio.evidence.sharpe import STATS, delta_se


def _pair(rng, n, mu=(0.0008, 0.0002), sd=(0.01, 0.012), rho=0.6):
    cov = [[sd[0] ** 2, rho * sd[0] * sd[1]], [rho * sd[0] * sd[1], sd[1] ** 2]]
    z = rng.multivariate_normal(mu, cov, size=n)
    return z[:, 0], z[:, 1]


def test_sharpe_estimate_is_the_closed_form_and_the_backtest_metric():
    a, b = _pair(np.random.default_rng(0), 400)
    res = sharpe_diff(a, b, n_boot=100)
    closed = math.sqrt(252) * (a.mean() / a.std(ddof=1) - b.mean() / b.std(ddof=1))
    assert res.estimate == pytest.approx(closed, rel=1e-12)
    nav = lambda r: pd.Series(np.concatenate([[1.0], np.cumprod(1 + r)]))  # noqa: E731
    assert res.estimate == pytest.approx(performance(nav(a))["sharpe"]
                                         - performance(nav(b))["sharpe"], rel=1e-9)
    assert res.info["sharpe_a"] == pytest.approx(performance(nav(a))["sharpe"], rel=1e-9)


def test_hac_standard_error_equals_a_hand_delta_method():
    rng = np.random.default_rng(1)
    a, b = _pair(rng, 300)
    a[1:] += 0.3 * a[:-1]                      # serial correlation: the lags matter
    n, lag = a.size, 4
    y = np.column_stack([a, b, a * a, b * b])
    m = y.mean(axis=0)
    # Bartlett-kernel long-run covariance, written out
    z = y - m
    psi = z.T @ z / n
    for j in range(1, lag + 1):
        g = z[j:].T @ z[:-j] / n
        psi += (1 - j / (lag + 1)) * (g + g.T)
    # gradient of f(m) = mu_a / s_a - mu_b / s_b (ddof=1) by central differences
    f = STATS["sharpe"][0]
    grad = np.array([(f(m + h, n) - f(m - h, n)) / (2 * 1e-7)
                     for h in np.eye(4) * 1e-7])
    hand = math.sqrt(grad @ psi @ grad / n)
    assert delta_se(y, lag + 1, "sharpe") == pytest.approx(hand, rel=1e-5)
    res = sharpe_diff(a, b, block_size=lag + 1, n_boot=100)
    assert res.info["se"] == pytest.approx(hand * math.sqrt(252), rel=1e-5)
    assert res.info["block_size"] == lag + 1


def test_sharpe_interval_covers_the_true_difference():
    """95% intervals on 100 simulated pairs with a known Sharpe difference (the benchmark runs
    600 with more replicates); the band [0.88, 1.0] is about three binomial standard errors."""
    rng = np.random.default_rng(123)
    mu, sd = (0.0008, 0.0002), (0.01, 0.012)
    truth = math.sqrt(252) * (mu[0] / sd[0] - mu[1] / sd[1])
    hits = 0
    for i in range(100):
        a, b = _pair(rng, 250, mu, sd)
        res = sharpe_diff(a, b, n_boot=99, seed=i)
        hits += res.ci_low <= truth <= res.ci_high
        assert res.ci_low < res.estimate < res.ci_high
    assert 0.88 <= hits / 100 < 1.0


def test_sharpe_test_size_and_power():
    rng = np.random.default_rng(7)
    null_rej = sum(sharpe_diff(*_pair(rng, 250, (0.0004, 0.0004), (0.01, 0.01)), n_boot=99,
                               seed=i).p_value < 0.05 for i in range(40))
    assert null_rej <= 6                        # nominal 2 of 40
    strong = sharpe_diff(*_pair(rng, 1000, (0.002, -0.001), (0.01, 0.01)), n_boot=199)
    assert strong.p_value < 0.01 and strong.ci_low > 0


def test_variance_ratio_closed_forms_and_power():
    rng = np.random.default_rng(3)
    a, b = _pair(rng, 500, sd=(0.01, 0.02))
    res = variance_ratio(a, b, n_boot=199)
    assert res.estimate == pytest.approx(math.log(a.var(ddof=1) / b.var(ddof=1)), rel=1e-12)
    vd = math.sqrt(252) * (a.std(ddof=1) - b.std(ddof=1))
    assert res.info["vol_diff"] == pytest.approx(vd, rel=1e-12)
    assert res.info["vol_ci_low"] < vd < res.info["vol_ci_high"] < 0
    assert res.p_value < 0.01 and res.ci_high < 0
    assert res.ci_low < math.log(0.25) < res.ci_high   # truth: log(0.01^2 / 0.02^2)
    same = variance_ratio(*_pair(rng, 500, sd=(0.01, 0.01)), n_boot=199)
    assert same.ci_low < 0 < same.ci_high


def test_max_drawdown_matches_the_backtest_metric():
    r = np.random.default_rng(4).normal(0.0, 0.01, 300)
    nav = pd.Series(np.concatenate([[1.0], np.cumprod(1 + r)]))
    assert max_drawdown(r) == pytest.approx(performance(nav)["max_drawdown"], rel=1e-12)
    two = max_drawdown(np.stack([r, -r]))
    assert two.shape == (2,) and two[0] == pytest.approx(max_drawdown(r))


def test_metric_diff_drawdown_interval_and_identical_series():
    rng = np.random.default_rng(5)
    a = rng.normal(0.0005, 0.005, 500)
    b = rng.normal(0.0005, 0.02, 500)            # four times the volatility: deeper drawdowns
    res = metric_diff(a, b, max_drawdown, n_boot=300, vectorized=True)
    assert res.estimate == pytest.approx(max_drawdown(a) - max_drawdown(b))
    assert res.ci_low <= res.estimate <= res.ci_high
    assert res.ci_low > 0 and res.p_value < 0.05
    loop = metric_diff(a, b, max_drawdown, n_boot=300)
    assert loop.ci_low == pytest.approx(res.ci_low) and loop.p_value == res.p_value
    same = metric_diff(a, a, max_drawdown, n_boot=100)
    assert (same.estimate, same.p_value) == (0.0, 1.0) and same.info["identical"]


def test_identical_and_constant_series():
    a = np.random.default_rng(6).normal(0, 0.01, 100)
    res = sharpe_diff(a, a, n_boot=100)
    assert (res.estimate, res.ci_low, res.ci_high, res.p_value) == (0.0, 0.0, 0.0, 1.0)
    nan = sharpe_diff(a, np.full(100, 0.001), n_boot=100)
    assert math.isnan(nan.estimate) and "zero variance" in nan.info["note"]


def test_same_seed_same_answer():
    a, b = _pair(np.random.default_rng(8), 300)
    r1, r2 = sharpe_diff(a, b, n_boot=100, seed=3), sharpe_diff(a, b, n_boot=100, seed=3)
    assert r1 == r2


@pytest.mark.parametrize("kwargs, err", [
    ({"n_boot": 10}, ConfigError), ({"alpha": 1.5}, ConfigError),
    ({"block_size": 0}, ConfigError), ({"block_size": 400}, ConfigError),
    ({"seed": -1}, ConfigError)])
def test_bad_settings(kwargs, err):
    a, b = _pair(np.random.default_rng(9), 300)
    with pytest.raises(err):
        sharpe_diff(a, b, **kwargs)


def test_bad_series():
    a = np.zeros(50)
    with pytest.raises(DataError, match="same dates"):
        sharpe_diff(a, np.zeros(40))
    bad = np.ones(50)
    bad[3] = np.nan
    with pytest.raises(DataError, match="position 3"):
        variance_ratio(bad, a)
    with pytest.raises(DataError, match="1-D"):
        sharpe_diff(np.zeros((5, 5)), np.zeros((5, 5)))


def test_one_block_rule_returns_and_squared_returns_the_larger():
    """Volatility clustering lives in the squared returns: the rule takes the larger of the
    Politis-White lengths of the returns and of the squared returns (arch), capped at sqrt(T)."""
    from arch.bootstrap import optimal_block_length

    from causalfolio.ablation.markets import default_block_days
    from causalfolio.data import Market
    from causalfolio.evidence import auto_block_days

    rng = np.random.default_rng(5)
    n, k = 1000, 3
    sig = np.full(k, 0.01)
    x = np.empty((n, k))
    for t in range(n):  # GARCH(1,1), persistence 0.97: iid-looking returns, clustered squares
        x[t] = sig * rng.standard_normal(k)
        sig = np.sqrt(1e-4 * 0.03 + 0.1 * x[t] ** 2 + 0.87 * sig ** 2)
    raw = np.median(optimal_block_length(x)["stationary"])
    sq = np.median(optimal_block_length(x ** 2)["stationary"])
    assert sq > 2 * raw
    b = auto_block_days(x)
    assert b == min(math.ceil(max(raw, sq)), math.ceil(math.sqrt(n)))
    assert auto_block_days(x[:, 0], max_len=3) == 3 and auto_block_days(np.zeros(50)) == 1
    days = pd.bdate_range("2020-01-01", periods=n)
    m = Market(pd.DataFrame(x, index=days, columns=list("abc")),
               pd.DataFrame(rng.normal(0, 0.01, (n, 2)), index=days, columns=["f", "g"]))
    assert default_block_days(m) == b  # the resampling uses the same rule
