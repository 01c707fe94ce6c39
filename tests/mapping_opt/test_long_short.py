"""Long-short optimisers (mvo, cvar, closed_form): closed forms, gross/net constraints, errors,
and the accounting of short positions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from mapopt_helpers import exact_returns, make_inputs

import causalfolio as cf
from causalfolio.backtest import simulate
from causalfolio.errors import SpecError

# A covariance whose minimum-variance portfolio shorts asset 2: a high-variance asset strongly
# correlated with a low-variance one is a hedge.
SD = np.array([0.010, 0.012, 0.020, 0.015])
CORR = np.array([[1.0, 0.2, 0.8, 0.1],
                 [0.2, 1.0, 0.3, 0.2],
                 [0.8, 0.3, 1.0, 0.1],
                 [0.1, 0.2, 0.1, 1.0]])
COV = CORR * np.outer(SD, SD)
MU = np.array([0.0004, 0.0003, 0.0002, 0.0005])


def _closed_form(cov: np.ndarray, net: float = 1.0) -> np.ndarray:
    x = np.linalg.solve(cov, np.ones(len(cov)))
    return net * x / x.sum()


def _alloc(spec: str, inputs) -> np.ndarray:
    return cf.parse_spec(f"fixed(names=['X'])|linear|beta|static|{spec}").mapping.allocate(
        inputs).weights.to_numpy()


def test_unconstrained_long_short_min_variance_is_the_closed_form():
    inputs = make_inputs(exact_returns(MU, COV, seed=1))
    truth = _closed_form(COV)
    assert truth.min() < -0.05  # the known answer has a short position
    w = _alloc("mvo(long_short=True)", inputs)
    assert np.allclose(w, truth, atol=1e-6)
    assert np.isclose(w.sum(), 1.0, atol=1e-12)
    w2 = _alloc("mvo(long_short=True, net=0.5)", inputs)
    assert np.allclose(w2, _closed_form(COV, 0.5), atol=1e-6)


def test_gross_one_is_the_long_only_solution():
    inputs = make_inputs(exact_returns(MU, COV, seed=1))
    long_only = _alloc("mvo", inputs)
    assert long_only.max() < 1 - 1e-6  # no binding upper bound
    w = _alloc("mvo(long_short=True, gross=1)", inputs)
    assert np.allclose(w, long_only, atol=1e-5)
    assert np.abs(w).sum() <= 1 + 1e-9
    # cvar: the same identity for the LP
    lo = _alloc("cvar", inputs)
    ls = _alloc("cvar(long_short=True, gross=1)", inputs)
    from causalfolio.plugins.mapping._optim import cvar_of

    r = inputs.returns.to_numpy()
    assert np.abs(ls).sum() <= 1 + 1e-9 and np.isclose(ls.sum(), 1, atol=1e-12)
    assert np.isclose(cvar_of(r @ ls, 0.95), cvar_of(r @ lo, 0.95), rtol=1e-6)  # LP optimum
    free = _alloc("cvar(long_short=True)", inputs)
    assert cvar_of(r @ free, 0.95) <= cvar_of(r @ lo, 0.95) + 1e-12


def test_gross_limit_binds_between_long_only_and_unconstrained():
    inputs = make_inputs(exact_returns(MU, COV, seed=1))
    free = _closed_form(COV)
    g = 0.5 * (1 + np.abs(free).sum())
    w = _alloc(f"mvo(long_short=True, gross={g})", inputs)
    assert np.isclose(np.abs(w).sum(), g, atol=1e-6) and np.isclose(w.sum(), 1, atol=1e-12)
    var = lambda x: x @ COV @ x  # noqa: E731
    assert var(free) - 1e-12 <= var(w) <= var(_alloc("mvo", inputs)) + 1e-12


def test_closed_form_kernel_long_short_is_the_unprojected_formula():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(6, 2))
    inputs = make_inputs(exact_returns(np.zeros(6), np.eye(6) * 1e-4, seed=2), points=points)
    d = inputs.distance
    h = float(np.median(d[~np.eye(6, dtype=bool)]))
    k = np.exp(-(d ** 2) / (2 * h * h))
    x = np.linalg.solve(k, np.ones(6))
    truth = x / x.sum()
    w = _alloc("closed_form(long_short=True)", inputs)
    assert np.allclose(w, truth, atol=1e-10)
    assert truth.min() < -0.1  # long-only projects it; long-short keeps the short
    assert not np.allclose(_alloc("closed_form", inputs), truth)


@pytest.mark.parametrize("spec,fragment", [
    ("mvo(long_short=True, gross=0.5)", "'gross' (sum |w|) must be >= |net|"),
    ("cvar(long_short=True, gross=1, net=-2)", "'gross' (sum |w|) must be >= |net|"),
    ("hrp(long_short=True)", "hrp is long-only"),
    ("hsp(gross=2)", "hsp is long-only"),
])
def test_bad_long_short_specs(spec, fragment):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        cf.parse_spec(spec)


def test_short_positions_in_the_accounting_by_hand():
    idx = pd.bdate_range("2021-01-04", periods=2)
    r = pd.DataFrame({"a": [0.02, 0.01], "b": [0.05, -0.04]}, index=idx)
    targets = pd.DataFrame({"a": [1.5], "b": [-0.5]}, index=idx[:1])
    nav, _, to = simulate(r, targets, risk_free=0.0001, cost_bps=10)
    # day 0: buy 150 of a, short 50 of b (proceeds in cash: cash = 100 - 150 + 50 = 0);
    # traded 200 -> cost 0.2
    after = 100 * (1 - 10e-4 * 2.0)
    a, b = 1.5 * after * 1.02, -0.5 * after * 1.05       # the short loses 5%
    n0 = a + b
    cash = n0 - a - b                                    # 0: no cash, no interest
    a, b = a * 1.01, b * 0.96                            # the short gains 4%
    n1 = a + b + cash
    assert np.allclose(nav.to_numpy(), [100, n0, n1], rtol=1e-13)
    assert np.isclose(to.iloc[0], 1.0)


def test_backtest_long_short_reports_gross_exposure(small_market):
    from causalfolio.backtest import BacktestConfig, run_backtest
    from causalfolio.pipeline import Windows

    cfg = BacktestConfig(windows=Windows(drivers=60, train=60, cov=40))
    res = run_backtest(small_market, ["mvo(long_short=True,gross=1.6)", "mvo"], cfg)
    ls = res.strategies["mvo(long_short=True,gross=1.6)"]
    lo = res.strategies["mvo"]
    assert (ls.weights.to_numpy() < -1e-4).any()
    assert np.allclose(ls.weights.sum(axis=1), 1.0, atol=1e-9)
    assert 1.0 < ls.metrics["gross_exposure"] <= 1.6 + 1e-6
    assert np.isclose(lo.metrics["gross_exposure"], 1.0)
