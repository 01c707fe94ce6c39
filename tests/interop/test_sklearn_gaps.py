"""The sklearn estimators without gaps: changing universes (nan_policy), a registry of one's
own (and pickling it to workers), defaults that work on five candidates."""

from __future__ import annotations

import pickle

import attrs
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("skfolio", reason="the interop tests need skfolio (pip install "
                                      "'causalfolio[skfolio]'; it is in the dev extra)")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

from sklearn.base import clone  # noqa: E402

import causalfolio as cf  # noqa: E402
from causalfolio.errors import DataError, ParameterError, SpecError  # noqa: E402
from causalfolio.registry import build_registry  # noqa: E402
from causalfolio.sklearn import (  # noqa: E402
    CausalFactorModel,
    CausalPortfolio,
    SensitivityDistance,
)
from causalfolio.stages import Allocation, RiskMapping  # noqa: E402

SPEC = "rccp(k=2)|linear|beta|static|hsp"
WIN = {"driver_window": 60, "train_window": 60, "cov_window": 40}


@pytest.fixture(scope="module")
def changing(small_market):
    """Asset A02 lists on day 150, A01 delists after day 250, candidate 0 starts on day 100."""
    a = small_market.assets.iloc[:300].copy()
    c = small_market.candidates.iloc[:300, :6].copy()
    a.iloc[250:, 1] = np.nan
    a.iloc[:150, 2] = np.nan
    c.iloc[:100, 0] = np.nan
    return a, c


def test_nan_policy_universe_is_the_backtesters_changing_universe(changing):
    a, c = changing
    dates = [a.index[200], a.index[280]]  # A02 not investable yet at 200; A01 gone at 280
    result = cf.run_backtest(cf.Market(a, c), SPEC, cf.BacktestConfig(**WIN, schedule=dates))
    ours = result.strategies[SPEC].weights
    for day in dates:
        past = a.index < day
        est = CausalPortfolio(spec=SPEC, nan_policy="universe", **WIN).fit(a[past], c[past])
        assert np.array_equal(est.weights_, ours.loc[day].to_numpy())
    assert ours.loc[dates[0], "A02"] == 0 and ours.loc[dates[1], "A01"] == 0
    assert ours.loc[dates[1], "A02"] > 0
    # predict accepts the NaNs (skfolio counts them as zero returns)
    assert np.isfinite(est.predict(a.iloc[-20:]).returns).all()


def test_nan_errors_say_the_fix(changing):
    a, c = changing
    with pytest.raises(ValueError, match="Input X contains NaN.*pass nan_policy='universe'"):
        CausalPortfolio(spec=SPEC, **WIN).fit(a, c)
    gap = a.copy()
    gap.iloc[120, 0] = np.nan
    with pytest.raises(DataError, match=r"gap inside the life of 'A00' \(NaN on .*fill or drop"):
        CausalPortfolio(spec=SPEC, nan_policy="universe", **WIN).fit(gap, c)
    with pytest.raises(ParameterError, match="nan_policy must be one of"):
        CausalPortfolio(spec=SPEC, nan_policy="drop").fit(a, c)
    with pytest.raises(DataError, match="1 asset.* have returns on each of the last 60 rows"):
        CausalPortfolio(spec=SPEC, nan_policy="universe", **WIN).fit(a.iloc[:, 1:3], c)


def test_defaults_work_on_five_candidates_and_too_large_k_says_the_fix(small_market):
    X, y = small_market.assets.iloc[:200], small_market.candidates.iloc[:200, :5]
    assert CausalPortfolio().fit(X, y).weights_.sum() == pytest.approx(1.0)
    assert len(SensitivityDistance().fit(X, y).drivers_) == 3
    assert len(CausalFactorModel().fit(X, y).drivers_) == 3
    with pytest.raises(DataError, match=r"selects k=6 drivers but y has 5 candidate\(s\); "
                                        r"select at most 5: set_params\(drivers__k=5\)"):
        CausalPortfolio(spec="rccp(k=6)|linear|beta|static|hsp").fit(X, y)


@attrs.define(frozen=True, kw_only=True)
class HalfHalf(RiskMapping):
    """Half in the first asset, the rest spread evenly (a notebook's own mapping)."""

    name = "half_half"
    needs_sensitivities = False

    def allocate(self, inputs):
        n = len(inputs.assets)
        w = np.full(n, 0.5 / (n - 1))
        w[0] = 0.5
        return Allocation(weights=pd.Series(w, index=list(inputs.assets)))


def test_registry_reaches_the_estimators_and_pickles(small_market):
    X, y = small_market.assets.iloc[:200], small_market.candidates.iloc[:200, :5]
    reg = build_registry(autoload=False, block=[])
    reg.add("mapping", HalfHalf, "notebook")
    with pytest.raises(SpecError, match="unknown"):
        CausalPortfolio(spec="half_half").fit(X)
    est = CausalPortfolio(spec="half_half", registry=reg, max_weight=0.6).fit(X)
    assert est.weights_[0] == pytest.approx(0.5)
    again = pickle.loads(pickle.dumps(clone(est)))  # as n_jobs workers receive it
    assert np.array_equal(again.fit(X).weights_, est.weights_)
    # clone deep-copies the registry: a copy rebuilt from its recipe, the same components
    assert clone(est).get_params()["registry"].provider("mapping", "half_half") == "notebook"
    # stage parameters are read with the estimator's registry
    staged = CausalPortfolio(spec="rccp(k=2)|linear|beta|static|half_half", registry=reg)
    assert staged.set_params(drivers__k=3).spec.startswith("rccp(k=3)|")
    # the four-stage estimators resolve names in theirs: without rccp, rccp is unknown
    no_rccp = build_registry(autoload=False, block=["causalfolio.plugins.drivers.rccp"])
    for cls in (SensitivityDistance, CausalFactorModel):
        with pytest.raises(SpecError, match="driver selector 'rccp' is blocked"):
            cls(registry=no_rccp).fit(X, y)
        assert len(cls(registry=pickle.loads(pickle.dumps(reg))).fit(X, y).drivers_) == 3


def test_factor_model_universe_uses_skfolios_nan_convention(changing):
    """Not-yet-listed A02 gets NaN moments (skfolio's mark of a non-investable asset) and weight
    0; the others' moments are those of the prior fitted without A02."""
    from skfolio.optimization import MeanRisk

    a, c = changing
    a, c = a.iloc[:200], c.iloc[:200]
    spec = "rccp(k=2)|linear|beta|static"
    dist = CausalFactorModel(spec=spec, nan_policy="universe").fit(a, c).return_distribution_
    inv = np.arange(a.shape[1]) != 2
    assert np.isnan(dist.mu[2]) and np.isnan(dist.covariance[2]).all()
    assert list(dist.investable_mask) == list(inv)
    ref = CausalFactorModel(spec=spec).fit(a.drop(columns="A02"),
                                           c.iloc[:, 1:]).return_distribution_  # y0 starts late
    assert np.array_equal(dist.mu[inv], ref.mu)
    assert np.array_equal(dist.covariance[np.ix_(inv, inv)], ref.covariance)
    w = MeanRisk(prior_estimator=CausalFactorModel(spec=spec, nan_policy="universe")
                 ).fit(a, c).weights_
    assert w[2] == 0 and abs(w.sum() - 1) < 1e-8
