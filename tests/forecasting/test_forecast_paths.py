"""The Monte Carlo forecast as a stage: path-wide distance, fallbacks, determinism, pipeline use."""

from __future__ import annotations

import json

import numpy as np
import pytest
from forecasting_sims import as_sensitivities, ou_series
from scipy.spatial.distance import cdist

from causalfolio import parse_spec
from causalfolio.errors import ConfigError, DataError, ParameterError, SpecError
from causalfolio.plugins.forecasting._common import path_distance, step_distances
from causalfolio.plugins.forecasting.sde import Vasicek
from causalfolio.plugins.forecasting.timeseries import Nonlinear
from causalfolio.registry import get_registry

FAST = {
    "static": "static",
    "vasicek": "vasicek(n_paths=40)",
    "hull_white": "hull_white(n_paths=40)",
    "hjm": "hjm(n_paths=40)",
    "arima": "arima(p=1, q=1, n_paths=40)",
    "nonlinear": "nonlinear(n_paths=40)",
    "nn": "nn(n_paths=20, epochs=20, hidden=4)",
    "rnn": "rnn(n_paths=20, epochs=5, hidden=4, max_series=8)",
}
MC = [k for k in FAST if k != "static"]


def forecaster(spec: str):
    return parse_spec(f"rccp|linear|beta|{spec}|hsp").forecasting


@pytest.fixture(scope="module")
def sens():
    """6 assets x 3 inputs, 150 samples of OU sensitivities with asset-specific levels."""
    x = ou_series(150, 18, kappa=0.1, theta=0.0, sigma=0.1, seed=2)
    levels = np.repeat(np.linspace(-1, 1, 6), 3) + np.tile([0.0, 0.5, -0.5], 6)
    return as_sensitivities((x + levels).reshape(150, 6, 3))


def test_every_model_is_registered_and_parses_in_slot_four():
    names = set(get_registry().names("forecasting"))
    assert set(FAST) <= names
    for spec in FAST.values():
        assert parse_spec(f"rccp|linear|beta|{spec}|hsp").forecasting.name in FAST


@pytest.mark.parametrize("name", list(FAST))
def test_forecast_is_a_valid_deterministic_distance_matrix(sens, name):
    fc = forecaster(FAST[name])
    a = fc.forecast(sens, horizon=7, seed=3)
    b = fc.forecast(sens, horizon=7, seed=3)
    d = a.distance
    assert d.shape == (6, 6) and np.all(np.isfinite(d))
    np.testing.assert_array_equal(d, d.T)
    assert np.all(np.diag(d) == 0) and np.all(d[~np.eye(6, dtype=bool)] > 0)
    np.testing.assert_array_equal(d, b.distance)
    assert a.assets == sens.assets
    json.dumps(a.info)  # run folders store it
    if name != "static":
        assert a.horizon == 7 and a.info["model"] == name
        assert a.paths.shape == (10, 7, 6, 3)
        assert np.all(np.isfinite(a.paths))
        assert "fallback" not in a.info
        c = fc.forecast(sens, horizon=7, seed=4)
        assert not np.array_equal(c.distance, d)


@pytest.mark.parametrize("name", MC)
def test_constant_series_give_the_static_matrix(name):
    """The linear|beta case: betas repeated over t. No crash; the static matrix, reported."""
    betas = np.random.default_rng(0).normal(size=(5, 4))
    s = as_sensitivities(np.broadcast_to(betas, (120, 5, 4)).copy())
    out = forecaster(FAST[name]).forecast(s, horizon=5, seed=0)
    np.testing.assert_allclose(out.distance, s.distance, rtol=1e-9, atol=1e-12)
    assert "constant" in out.info["fallback"]
    assert out.info["n_constant"] == 20
    json.dumps(out.info)


@pytest.mark.parametrize("name", MC)
def test_too_short_series_fall_back_to_static(name):
    x = ou_series(2, 6, kappa=0.1, theta=0.0, sigma=0.1, seed=1).reshape(2, 3, 2)
    s = as_sensitivities(x)
    out = forecaster(FAST[name]).forecast(s, horizon=5, seed=0)
    np.testing.assert_array_equal(out.distance, s.distance)
    assert "too short" in out.info["fallback"]


def test_explosive_series_fall_back_to_random_walks(sens):
    rng = np.random.default_rng(1)
    x = np.zeros((200, 4))
    x[0] = 0.1
    for k in range(1, 200):
        x[k] = 1.03 * x[k - 1] + 0.01 * rng.standard_normal(4)
    s = as_sensitivities(x.reshape(200, 2, 2))
    for spec in ("vasicek", "hull_white", "arima", "nonlinear"):
        out = forecaster(spec).forecast(s, horizon=5, seed=0)
        assert out.info["n_random_walk"] == 4, spec
        assert "random walk" in out.info["fallback"]
        assert np.all(np.isfinite(out.distance))
        json.dumps(out.info)


def test_mixed_constant_and_moving_series(sens):
    x = sens.series.copy()
    x[:, 0, :] = 0.3  # asset 0 constant in every input
    s = as_sensitivities(x)
    out = forecaster("vasicek").forecast(s, horizon=4, seed=0)
    assert out.info["n_constant"] == 3 and "fallback" not in out.info
    np.testing.assert_array_equal(out.paths[:, :, 0, :], 0.3)


def test_bad_input_raises_specific_errors(sens):
    bad = sens.series.copy()
    bad[5, 1, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        forecaster("vasicek").forecast(as_sensitivities(np.nan_to_num(bad)).__class__(
            series=bad, dates=sens.dates, assets=sens.assets, inputs=sens.inputs,
            aggregate=sens.aggregate, distance=sens.distance), horizon=5, seed=0)
    with pytest.raises(ConfigError, match="horizon"):
        forecaster("vasicek").forecast(sens, horizon=0, seed=0)
    with pytest.raises(ParameterError, match="n_paths"):
        Vasicek(n_paths=0)
    with pytest.raises(ParameterError, match="max_persistence"):
        Vasicek(max_persistence=1.5)
    with pytest.raises(ParameterError, match="p \\+ q"):
        Nonlinear(p=0, q=0)
    with pytest.raises(SpecError, match="aggregate"):
        forecaster("vasicek(aggregate='median')")
    with pytest.raises(SpecError, match="cell"):
        forecaster("rnn(cell='lstm')")


def test_component_horizon_overrides_the_holding_period(sens):
    out = forecaster("vasicek(horizon=3, n_paths=5)").forecast(sens, horizon=21, seed=0)
    assert out.horizon == 3 and out.paths.shape[1] == 3


def test_cumulative_is_horizon_times_mean(sens):
    a = forecaster("vasicek(n_paths=30)").forecast(sens, horizon=6, seed=1)
    b = forecaster("vasicek(n_paths=30, aggregate='cumulative')").forecast(sens, horizon=6,
                                                                           seed=1)
    np.testing.assert_allclose(b.distance, 6 * a.distance, rtol=1e-12)


def test_keep_paths_and_window(sens):
    out = forecaster("vasicek(n_paths=8, keep_paths=0)").forecast(sens, horizon=3, seed=0)
    assert out.paths is None
    out = forecaster("vasicek(n_paths=8, keep_paths=50, window=60)").forecast(sens, horizon=3,
                                                                             seed=0)
    assert out.paths.shape[0] == 8 and out.info["n_samples"] == 60


def test_deterministic_decay_worked_example():
    """No noise: asset A decays geometrically to 0 with b = 0.9, asset B sits at 0 (constant).
    The forecast path is exact, so the path-wide distance is mean_k |a_T b^k| = a_T b (1 - b^H)
    / (H (1 - b))."""
    t, b, h = 60, 0.9, 5
    a = 2.0 * b ** np.arange(t)
    x = np.stack([a, np.zeros(t)], axis=1)[:, :, None]
    out = forecaster("vasicek(n_paths=3)").forecast(as_sensitivities(x), horizon=h, seed=0)
    expected = a[-1] * b * (1 - b**h) / (h * (1 - b))
    assert out.distance[0, 1] == pytest.approx(expected, rel=1e-8)


def test_step_distances_match_cdist():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(7, 9, 4)) + 100.0  # far from the origin: tests the centring
    for metric in ("euclidean", "cityblock", "cosine"):
        d = step_distances(pts, metric)
        for k in range(7):
            ref = cdist(pts[k], pts[k], metric=metric)
            np.testing.assert_allclose(d[k], ref, atol=1e-9)


def test_path_distance_aggregation():
    rng = np.random.default_rng(1)
    paths = rng.normal(size=(3, 4, 5, 2))
    mean, per_step = path_distance(paths, "euclidean", "mean")
    ref = np.mean([[cdist(paths[i, k], paths[i, k]) for k in range(4)] for i in range(3)], axis=0)
    np.testing.assert_allclose(per_step, ref, atol=1e-10)
    np.testing.assert_allclose(mean, ref.mean(axis=0), atol=1e-10)
    cum, _ = path_distance(paths, "euclidean", "cumulative")
    np.testing.assert_allclose(cum, ref.sum(axis=0), atol=1e-10)


def test_non_euclidean_metric_is_used(sens):
    s = as_sensitivities(sens.series, metric="cityblock")
    out = forecaster("vasicek(n_paths=5)").forecast(s, horizon=2, seed=0)
    manual, _ = path_distance(
        forecaster("vasicek(n_paths=5, keep_paths=5)").forecast(s, horizon=2, seed=0).paths,
        "cityblock", "mean")
    np.testing.assert_allclose(out.distance, manual, rtol=1e-12)


def test_bootstrap_shocks_keep_heavy_tails():
    """t(3) innovations: bootstrap one-step shocks have excess kurtosis, Gaussian ones do not."""
    rng = np.random.default_rng(5)
    t, m, b = 800, 30, 0.9  # kurtosis sd with 200 x 30 draws: ~0.06 (Gaussian)
    x = np.zeros((t, m))
    for k in range(1, t):
        x[k] = b * x[k - 1] + 0.1 * rng.standard_t(3, size=m)
    s = as_sensitivities(x.reshape(t, 10, 3))
    kurt = {}
    for shocks in ("normal", "bootstrap"):
        out = forecaster(f"vasicek(n_paths=200, keep_paths=200, shocks='{shocks}')").forecast(
            s, horizon=1, seed=0)
        step = out.paths[:, 0].reshape(200, 30)  # one-step values: per series mean + shock
        step = ((step - step.mean(axis=0)) / step.std(axis=0)).ravel()
        kurt[shocks] = float(np.mean(step**4))
    assert kurt["normal"] == pytest.approx(3.0, abs=0.3)
    assert kurt["bootstrap"] > 5.0


def test_pipeline_runs_every_forecaster_on_the_synthetic_market(small_market):
    """End to end at one rebalance date: linear|beta gives constant series (static fallback);
    the forecaster's matrix reaches the mapping and the weights are valid."""
    date = small_market.assets.index[-30]
    for name in ("vasicek", "arima", "nonlinear"):
        pipe = parse_spec(f"rccp(k=3)|linear|beta|{FAST[name]}|hsp")
        res = pipe.run(small_market.assets, small_market.candidates, date, seed=0, horizon=5)
        w = np.asarray(list(res.weights.values()) if isinstance(res.weights, dict)
                       else res.weights, dtype=float)
        assert np.all(np.isfinite(w)) and w.sum() == pytest.approx(1.0)
        assert "constant" in res.forecast.info["fallback"]
        np.testing.assert_allclose(res.forecast.distance, res.sensitivities.distance,
                                   rtol=1e-9, atol=1e-12)
