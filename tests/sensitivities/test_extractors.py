"""``beta``, ``aad`` and ``fd`` against closed forms and each other; aggregation, distances and
the in/out-of-sample evaluation sets of the SensitivityExtractor base."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from causalfolio import parse_spec
from causalfolio.errors import ConfigError, DataError, NumericalError, ParameterError
from causalfolio.plugins.dynamics.fnn import FNN
from causalfolio.plugins.dynamics.linear import Linear
from causalfolio.plugins.sensitivities.aad import AAD, input_jacobian
from causalfolio.plugins.sensitivities.beta import Beta
from causalfolio.plugins.sensitivities.fd import FD, central_differences
from causalfolio.stages import FittedDynamics


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class Toy(FittedDynamics):
    """f_0 = sin(x0) x1, f_1 = x0^2 + 3 x1 (no constant coefficients)."""

    def __init__(self) -> None:
        self.assets, self.drivers, self.lags = ("a", "b"), ("u", "v"), (0,)
        self.inputs = ("u@0", "v@0")
        self.train_index = pd.DatetimeIndex([])
        self.info = {}

    def _f(self, x, lib):
        return lib.stack([lib.sin(x[:, 0]) * x[:, 1], x[:, 0] ** 2 + 3 * x[:, 1]], 1)

    def predict(self, x):
        return self._f(np.asarray(x, float), np)

    def torch_forward(self):
        return lambda x: self._f(x, torch)

    @staticmethod
    def exact(x):
        s = np.zeros((len(x), 2, 2))
        s[:, 0, 0] = np.cos(x[:, 0]) * x[:, 1]
        s[:, 0, 1] = np.sin(x[:, 0])
        s[:, 1, 0] = 2 * x[:, 0]
        s[:, 1, 1] = 3.0
        return s


def _data(n=120, k=2, n_assets=3, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-01", periods=n)
    d = pd.DataFrame(0.01 * rng.standard_normal((n, k)), index=dates, columns=["D0", "D1"][:k])
    y = np.tanh(60 * d.to_numpy()) @ rng.uniform(0.2, 1.0, (k, n_assets)) * 0.01
    y += 0.002 * rng.standard_normal((n, n_assets))
    return pd.DataFrame(y, index=dates, columns=[f"A{i}" for i in range(n_assets)]), d


def test_aad_and_fd_match_closed_form():
    x = np.random.default_rng(1).normal(size=(7, 2))
    np.testing.assert_allclose(input_jacobian(Toy().torch_forward(), x), Toy.exact(x),
                               rtol=0, atol=1e-14)
    s = FD(step=1e-5, scale="absolute").per_sample(Toy(), x)
    np.testing.assert_allclose(s, Toy.exact(x), atol=1e-9)


def test_central_differences_exact_for_quadratics():
    x = np.random.default_rng(2).normal(size=(5, 3))

    def quad(z):  # f = z0^2 + z0 z1 - 2 z2, f2 = 4 z1 : the central difference is exact
        return np.stack([z[:, 0] ** 2 + z[:, 0] * z[:, 1] - 2 * z[:, 2], 4 * z[:, 1]], 1)

    s = central_differences(quad, x, np.array([0.3, 0.1, 2.0]))
    ex = np.zeros((5, 2, 3))
    ex[:, 0, 0], ex[:, 0, 1], ex[:, 0, 2] = 2 * x[:, 0] + x[:, 1], x[:, 0], -2
    ex[:, 1, 1] = 4
    np.testing.assert_allclose(s, ex, atol=1e-12)


def test_aad_equals_finite_differences_of_the_same_net():
    assets, drivers = _data()
    fit = FNN(hidden=((6,), (5, 5)), lag_sets=((0,), (0, 1)), windows=(80,), epochs=80,
              min_epochs=40, patience=10).fit(assets, drivers, window=80, seed=0)
    x = fit.design(drivers).loc[fit.train_index]
    a = AAD().extract(fit, x).series
    f = FD(step=1e-4).extract(fit, x).series  # relative step 1e-4 sd: error O(h^2) ~ 1e-8
    assert np.abs(a).max() > 0.1
    np.testing.assert_allclose(a, f, rtol=0, atol=1e-6 * np.abs(a).max())


def test_linear_model_beta_aad_fd_agree():
    assets, drivers = _data()
    fit = Linear(lags=(0, 1)).fit(assets, drivers, window=100, seed=0)
    x = fit.design(drivers).loc[fit.train_index]
    b = Beta().extract(fit, x)
    np.testing.assert_allclose(b.series, np.broadcast_to(fit.coef, b.series.shape))
    np.testing.assert_allclose(AAD().extract(fit, x).series, b.series, atol=1e-13)
    np.testing.assert_allclose(FD().extract(fit, x).series, b.series, atol=1e-9)


def test_beta_rejects_nonlinear_models():
    with pytest.raises(ConfigError, match="use 'aad'"):
        Beta().per_sample(Toy(), np.zeros((3, 2)))


def test_aggregation_options_and_distances():
    x = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, -1.0], [0.5, 0.5], [10.0, 0.0]])
    frame = pd.DataFrame(x, columns=["u@0", "v@0"],
                         index=pd.bdate_range("2022-01-03", periods=5))
    S = Toy.exact(x)
    expected = {"mean": S.mean(0), "median": np.median(S, 0), "last": S[-1],
                "trimmed": np.sort(S, axis=0)[1:-1].mean(0)}
    for how, value in expected.items():
        out = AAD(aggregate=how, trim=0.2).extract(Toy(), frame)
        np.testing.assert_allclose(out.aggregate, value, atol=1e-12, err_msg=how)
        d = np.linalg.norm(value[0] - value[1])
        np.testing.assert_allclose(out.distance, [[0, d], [d, 0]], atol=1e-12)
    city = AAD(metric="cityblock").extract(Toy(), frame)
    assert city.distance[0, 1] == pytest.approx(np.abs(S.mean(0)[0] - S.mean(0)[1]).sum())
    assert city.series.shape == (5, 2, 2) and list(city.dates) == list(frame.index)
    with pytest.raises(ParameterError, match="metric"):
        AAD(metric="nope")


def test_non_finite_inputs_and_sensitivities_are_errors():
    frame = pd.DataFrame([[np.inf, 1.0]], columns=["u@0", "v@0"],
                         index=pd.bdate_range("2022-01-03", periods=1))
    for ext in (FD(), AAD()):
        with pytest.raises(DataError, match="input 'u@0'"):
            ext.extract(Toy(), frame)
    frame.iloc[0, 0] = 1e200  # finite input, overflowing model: the base class catches it
    with pytest.raises(NumericalError, match="non-finite"):
        AAD().extract(Toy(), frame)


@pytest.mark.parametrize("sample", ["in", "out"])
def test_in_and_out_of_sample_evaluation_sets(sample):
    assets, drivers = _data(n=200)
    pipe = parse_spec(f"rccp(k=2)|linear(lags=[0,1],window=60)|beta(sample='{sample}',"
                      "oos_days=15)|static|hsp")
    date = assets.index[-1]
    res = pipe.run(assets, drivers, date, seed=0)
    sens = res.sensitivities
    past = assets.index[assets.index < date]
    if sample == "in":
        assert len(sens.dates) == 60 and sens.dates[-1] == past[-1]
    else:
        # out: the 15 days after training and before the rebalance date
        assert list(sens.dates) == list(past[-15:])
        train_end = past[-16]
        assert sens.series.shape == (15, 3, 4) and sens.dates[0] > train_end
