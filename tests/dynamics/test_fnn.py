"""``fnn``: batched == one-at-a-time training, determinism, recovery of known sensitivities,
the architecture/lag/window search, and specific errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from causalfolio import parse_spec
from causalfolio.errors import ConfigError, DataError, ParameterError, SpecError
from causalfolio.plugins.dynamics.fnn import FNN
from causalfolio.plugins.sensitivities.aad import AAD

SMALL = dict(hidden=((4,), (6, 6)), lag_sets=((0,), (0, 1)), windows=(40, 60), epochs=60,
             patience=10, min_epochs=5)


def test_batched_equals_one_at_a_time_float64(make_linear):
    assets, drivers, _, _ = make_linear(n_days=90, noise=0.01)
    kw = dict(SMALL, dtype="float64")
    a = FNN(**kw).fit(assets, drivers, window=60, seed=4)
    b = FNN(batched=False, **kw).fit(assets, drivers, window=60, seed=4)
    x = a.design(drivers).to_numpy()[-60:]
    # same nets: the predictions agree to float64 reduction-order noise
    np.testing.assert_allclose(a.predict(x), b.predict(x), rtol=0, atol=1e-12)
    for k, sel in a.info["selection"].items():
        ref = b.info["selection"][k]
        assert (sel["hidden"], sel["lags"], sel["window"], sel["best_epoch"]) == (
            ref["hidden"], ref["lags"], ref["window"], ref["best_epoch"])
        assert sel["val_rmse"] == pytest.approx(ref["val_rmse"], rel=1e-10)


def test_batched_equals_one_at_a_time_float32(make_linear):
    assets, drivers, _, _ = make_linear(n_days=90, noise=0.01, seed=5)
    kw = dict(SMALL, hidden=((8, 8),), lag_sets=((0, 1),))
    a = FNN(**kw).fit(assets, drivers, window=60, seed=1)
    b = FNN(batched=False, **kw).fit(assets, drivers, window=60, seed=1)
    x = a.design(drivers).to_numpy()[-60:]
    scale = np.abs(a.predict(x)).max()
    np.testing.assert_allclose(a.predict(x), b.predict(x), rtol=0, atol=1e-4 * scale)


def test_deterministic_and_seeded(make_linear):
    assets, drivers, _, _ = make_linear(n_days=90, noise=0.01)
    m = FNN(**SMALL)
    x = drivers.to_numpy()[-20:]
    x = np.column_stack([x[:, 0], x[:, 0], x[:, 1], x[:, 1]])
    p1 = m.fit(assets, drivers, window=60, seed=0).predict(x)
    p2 = m.fit(assets, drivers, window=60, seed=0).predict(x)
    p3 = m.fit(assets, drivers, window=60, seed=1).predict(x)
    assert np.array_equal(p1, p2)
    assert not np.allclose(p1, p3)


def test_linear_truth_mean_sensitivities_approach_betas(make_linear):
    assets, drivers, B, _ = make_linear(n_days=200, n_assets=3, n_drivers=3, noise=0.001,
                                        seed=2)
    m = FNN(hidden=((8,),), lag_sets=((0,),), windows=(150,), epochs=400, patience=40,
            weight_decay=0.0, activation="tanh")
    fit = m.fit(assets, drivers, window=150, seed=0)
    x = fit.design(drivers).loc[fit.train_index]
    s = AAD().extract(fit, x)
    # noise sd 0.001 against a signal of sd ~0.015: mean sensitivities within 0.05 of the betas
    np.testing.assert_allclose(s.aggregate, B, atol=0.05)
    assert np.abs(B).max() > 0.5


def test_search_finds_the_acting_lag(make_linear):
    # assets respond to lag 1 only: the held-out RMSE must prefer the lag set {1} to {0}
    assets, drivers, B, _ = make_linear(n_days=160, n_assets=2, n_drivers=2, noise=0.002,
                                        lag1=True, seed=1)
    B[:, [0, 2]] = 0.0
    x = np.column_stack([drivers[c].shift(1).fillna(0).to_numpy() for c in drivers.columns])
    assets[:] = x @ B[:, [1, 3]].T + 0.002 * np.random.default_rng(0).standard_normal(
        assets.shape)
    fit = FNN(hidden=((4,),), lag_sets=((0,), (1,)), windows=(100,), epochs=150,
              patience=20).fit(assets, drivers, window=100, seed=0)
    assert [s["lags"] for s in fit.info["selection"].values()] == [[1], [1]]
    assert fit.inputs == ("D0@0", "D0@1", "D1@0", "D1@1")
    s = AAD().extract(fit, fit.design(drivers).loc[fit.train_index])
    # the lag-0 inputs are outside the selected lag set: exactly zero sensitivity
    assert np.all(s.series[:, :, [0, 2]] == 0.0)


def test_history_and_train_index(make_linear):
    m = FNN(**SMALL)
    assert m.history(125) == 60 + 1
    assert FNN(windows=None, lag_sets=((0,),)).history(77) == 77
    assets, drivers, _, _ = make_linear(n_days=62)
    fit = m.fit(assets, drivers, window=999, seed=0)  # windows given: the argument is unused
    longest = max(s["window"] for s in fit.info["selection"].values())
    assert len(fit.train_index) == longest and fit.train_index[-1] == assets.index[-1]


def test_lags_shorthand(make_linear):
    assert FNN(lags=[1, 0]).candidate_lag_sets == ((0, 1),)
    assert FNN(lags=[0, 1]).history(125) == 126
    assert parse_spec("rccp(k=15)|fnn(lags=[0,1])|aad|static|hsp").dynamics.lags == (0, 1)
    with pytest.raises(ParameterError, match="either lags or lag_sets"):
        FNN(lags=(0,), lag_sets=((1,),))
    assets, drivers, _, _ = make_linear(n_days=90)
    kw = dict(SMALL, lag_sets=FNN().lag_sets)
    a = FNN(lags=(0, 1), **kw).fit(assets, drivers, window=60, seed=0)
    b = FNN(**dict(kw, lag_sets=((0, 1),))).fit(assets, drivers, window=60, seed=0)
    x = a.design(drivers).to_numpy()[-5:]
    assert np.array_equal(a.predict(x), b.predict(x))


def test_spec_round_trip():
    spec = ("rccp(k=3)|fnn(hidden=[[8],[4,4]],lag_sets=[[0],[0,1]],windows=[60,90])|aad|"
            "static|hsp")
    assert parse_spec(spec).spec == spec
    assert parse_spec("rccp|fnn|aad|static|hsp").dynamics == FNN()


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(hidden=()), "'hidden' must not be empty"),
    (dict(lag_sets=()), "'lag_sets' must not be empty"),
    (dict(lag_sets=((),)), "'lag_sets' has an empty item"),
    (dict(lag_sets=((0, 0),)), "invalid item"),
    (dict(hidden=((0,),)), "invalid item"),
    (dict(windows=()), "'windows' must not be empty"),
    (dict(windows=(12,)), "window 12 leaves 7 training samples"),
    (dict(device="gpu"), "'device' must be 'cpu'"),
    (dict(epochs=10, min_epochs=20), "'min_epochs'"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        FNN(**kwargs)


def test_bad_parameters_in_spec_point_at_the_parameter():
    with pytest.raises(SpecError, match="hidden"):
        parse_spec("rccp|fnn(hidden=[])|aad|static|hsp")


def test_bad_data(make_linear):
    assets, drivers, _, _ = make_linear(n_days=70)
    m = FNN(**SMALL)
    with pytest.raises(DataError, match="needs 60 samples after lags"):
        m.fit(assets.iloc[:60], drivers.iloc[:60], window=60, seed=0)  # lag 1 eats a row
    nan = drivers.copy()
    nan.iloc[-3, 0] = np.nan
    with pytest.raises(DataError, match="NaN in the training window"):
        m.fit(assets, nan, window=60, seed=0)
    flat = assets.copy()
    flat.iloc[-70:-8, 0] = 0.0  # constant over the training part, not the validation block
    with pytest.raises(DataError, match="'A0' has a constant return over the training part"):
        m.fit(flat, drivers, window=60, seed=0)
    with pytest.raises(DataError, match="window 14 leaves"):
        FNN(**dict(SMALL, windows=None)).fit(assets, drivers, window=14, seed=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_requested_without_cuda(make_linear):
    assets, drivers, _, _ = make_linear(n_days=70)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        FNN(**dict(SMALL, device="cuda")).fit(assets, drivers, window=60, seed=0)


@pytest.mark.parametrize("sample", ["in", "out"])
def test_pipeline_end_to_end(small_market, sample):
    spec = ("rccp(k=3)|fnn(hidden=[[4]],lag_sets=[[0,1]],windows=[50],epochs=30,min_epochs=5)|"
            f"aad(sample='{sample}',oos_days=10)|static|hsp")
    pipe = parse_spec(spec)
    date = small_market.dates[300]
    res = pipe.run(small_market.assets, small_market.candidates, date, seed=3)
    assert res.weights.sum() == pytest.approx(1.0)
    sens = res.sensitivities
    assert sens.series.shape == (50 if sample == "in" else 10, 8, 6)
    assert sens.dates[-1] < date
    again = pipe.run(small_market.assets, small_market.candidates, date, seed=3)
    assert np.array_equal(again.sensitivities.series, sens.series)
