"""Deflated Sharpe Ratio and Probability of Backtest Overfitting: closed forms and simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from causalfolio.errors import ConfigError, DataError
from causalfolio.evidence import deflated_sharpe, pbo
from causalfolio.evidence.overfitting import expected_max_sharpe


def test_expected_max_matches_the_simulated_maximum_of_normals():
    rng = np.random.default_rng(0)
    for n in (10, 100):
        sim = rng.normal(size=(4000, n)).max(axis=1).mean()
        assert expected_max_sharpe(n, 1.0) == pytest.approx(sim, rel=0.03)
    assert expected_max_sharpe(1, 1.0) == 0.0
    assert expected_max_sharpe(50, 0.5) == pytest.approx(0.5 * expected_max_sharpe(50, 1.0))


def test_one_trial_is_the_probabilistic_sharpe_ratio():
    r = np.random.default_rng(1).standard_t(5, 500) * 0.01 + 0.0008
    res = deflated_sharpe(r, n_trials=1, sharpe_std=0.5)
    sr = r.mean() / r.std(ddof=1)
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
    psr = stats.norm.cdf(sr * math.sqrt(499) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr ** 2))
    assert res["dsr"] == pytest.approx(psr)
    assert res["expected_max_sharpe"] == 0.0
    assert res["sharpe"] == pytest.approx(sr * math.sqrt(252))
    assert res["p_value"] == pytest.approx(1 - psr)


def test_best_of_100_noise_strategies_is_not_significant():
    rng = np.random.default_rng(2)
    significant = 0
    for _ in range(20):
        r = rng.normal(0.0, 0.01, size=(500, 100))
        sr = r.mean(axis=0) / r.std(axis=0, ddof=1) * math.sqrt(252)
        best = int(sr.argmax())
        res = deflated_sharpe(r[:, best], n_trials=100, sharpe_std=sr.std(ddof=1))
        significant += res["p_value"] < 0.05
        assert res["sharpe"] > 1.0                 # the naive Sharpe of the winner looks good
        assert res["p_best_of_noise"] > 0.01
    assert significant <= 2


def test_a_real_edge_survives_deflation():
    rng = np.random.default_rng(3)
    r = rng.normal(0.0, 0.01, size=(1000, 20))
    r[:, 4] += 0.002                               # annualised Sharpe about 3
    sr = r.mean(axis=0) / r.std(axis=0, ddof=1) * math.sqrt(252)
    res = deflated_sharpe(r[:, 4], n_trials=20, sharpe_std=sr.std(ddof=1))
    assert res["p_value"] < 0.01


def test_pbo_on_noise_and_with_one_better_strategy():
    rng = np.random.default_rng(4)
    noise = [pbo(rng.normal(0, 0.01, size=(480, 20)), n_splits=8)["pbo"] for _ in range(6)]
    assert np.mean(noise) >= 0.4
    r = rng.normal(0, 0.01, size=(480, 20))
    r[:, 3] += 0.002
    res = pbo(r, n_splits=8)
    assert res["pbo"] < 0.05
    assert res["n_combinations"] == math.comb(8, 4) == len(res["logits"])
    assert res["n_strategies"] == 20 and res["n_periods"] == 480


def test_pbo_hand_example_with_two_strategies():
    """Two strategies, 2 groups: each split picks the IS winner, whose OOS rank is known."""
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.3],   # group 0: strategy 0 best
                  [0.0, 1.0], [0.1, 0.8], [0.3, 0.9]])  # group 1: strategy 1 best
    x = x * 0.01 + np.array([[0.001, -0.001]] * 3 + [[-0.001, 0.001]] * 3)
    res = pbo(x, n_splits=2)
    # IS = group 0 -> winner 0, ranked last OOS (w = 1/3, logit < 0); symmetric for IS = 1
    assert res["pbo"] == 1.0
    assert res["logits"] == pytest.approx([math.log(0.5), math.log(0.5)])


def test_dsr_and_pbo_bad_input():
    r = np.random.default_rng(5).normal(size=(100, 4))
    with pytest.raises(ConfigError, match="even"):
        pbo(r, n_splits=7)
    with pytest.raises(DataError, match="need at least"):
        pbo(r[:10], n_splits=16)
    with pytest.raises(DataError):
        pbo(r[:, :1])
    with pytest.raises(ConfigError, match="n_trials"):
        deflated_sharpe(r[:, 0], n_trials=0, sharpe_std=0.5)
    with pytest.raises(ConfigError, match="sharpe_std"):
        deflated_sharpe(r[:, 0], n_trials=5, sharpe_std=-1)
