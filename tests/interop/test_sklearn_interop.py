"""causalfolio.sklearn against skfolio and scikit-learn themselves (no mocks).

Known answers: skfolio's HierarchicalRiskParity on SensitivityDistance is causalfolio's hsp;
skfolio's cross_val_predict(CausalPortfolio, WalkForward) is causalfolio's backtester.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("skfolio", reason="the interop tests need skfolio (pip install "
                                      "'causalfolio[skfolio]'; it is in the dev extra)")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

import sklearn  # noqa: E402
import sklearn.utils.estimator_checks  # noqa: E402
from skfolio.cluster import HierarchicalClustering, LinkageMethod  # noqa: E402
from skfolio.model_selection import (  # noqa: E402
    CombinatorialPurgedCV,
    WalkForward,
    cross_val_predict,
)
from skfolio.moments import EmpiricalCovariance  # noqa: E402
from skfolio.optimization import (  # noqa: E402
    HierarchicalEqualRiskContribution,
    HierarchicalRiskParity,
    NestedClustersOptimization,
    SchurComplementary,
)
from skfolio.prior import EmpiricalPrior  # noqa: E402
from skfolio.seriation import HierarchicalSeriation  # noqa: E402

import causalfolio as cf  # noqa: E402
from causalfolio.errors import DataError, SpecError  # noqa: E402
from causalfolio.sklearn import (  # noqa: E402
    CausalFactorModel,
    CausalPortfolio,
    SensitivityDistance,
)

UPSTREAM = "rccp(k=3)|linear|beta|static"


@pytest.fixture(scope="module")
def xy(small_market):
    """8 assets, 20 candidates, the first 300 days."""
    return small_market.assets.iloc[:300], small_market.candidates.iloc[:300]


def _hrp(distance, link, **kw):
    seriation = HierarchicalSeriation(
        hierarchical_clustering_estimator=HierarchicalClustering(
            linkage_method=LinkageMethod(link)), optimal_ordering=False)
    return HierarchicalRiskParity(
        distance_estimator=distance, seriation_estimator=seriation,
        prior_estimator=EmpiricalPrior(covariance_estimator=EmpiricalCovariance(window_size=63)),
        **kw)


def _hsp_weights(X, y, spec):
    """causalfolio's own backtester at the day after the last row (one rebalance)."""
    tau = X.index[-1] + pd.Timedelta(days=1)
    res = cf.Pipeline.run(cf.parse_spec(spec), X, y, tau, windows=cf.Windows(),
                          diagnostics=False)
    return res.weights[list(X.columns)].to_numpy()


# --- SensitivityDistance ---------------------------------------------------------------------


@pytest.mark.parametrize("psd", [True, False])
@pytest.mark.parametrize("link", ["single", "complete", "average", "ward"])
def test_skfolio_hrp_on_sensitivity_distance_is_hsp(xy, psd, link):
    """Same window (63-day sample covariance, 126/125-day upstream windows), raw leaf order."""
    X, y = xy
    ref = _hsp_weights(X, y, f"{UPSTREAM}|hsp(psd={psd},linkage='{link}')")
    # y as skfolio's positional argument (distance fitted on X, not on the prior's scenarios)
    hrp = _hrp(SensitivityDistance(spec=UPSTREAM, psd=psd), link, distance_from_prior=False)
    np.testing.assert_allclose(hrp.fit(X, y).weights_, ref, rtol=0, atol=1e-10)
    # y routed as metadata (skfolio's default distance_from_prior=True)
    with sklearn.config_context(enable_metadata_routing=True):
        sd = SensitivityDistance(spec=UPSTREAM, psd=psd).set_fit_request(drivers=True)
        routed = _hrp(sd, link).fit(X, drivers=y)
    np.testing.assert_allclose(routed.weights_, ref, rtol=0, atol=1e-10)


def test_hsp_without_distance_of_distances(xy):
    X, y = xy
    ref = _hsp_weights(X, y, f"{UPSTREAM}|hsp(distance_of_distances=False)")
    hrp = _hrp(SensitivityDistance(spec=UPSTREAM, distance_of_distances=False), "single",
               distance_from_prior=False)
    np.testing.assert_allclose(hrp.fit(X, y).weights_, ref, rtol=0, atol=1e-10)


def test_distance_is_the_pipelines_forecast_distance(xy):
    X, y = xy
    sd = SensitivityDistance(spec=UPSTREAM, psd=False, distance_of_distances=False).fit(X, y)
    tau = X.index[-1] + pd.Timedelta(days=1)
    res = cf.parse_spec(f"{UPSTREAM}|hsp").run(X, y, tau, diagnostics=False)
    np.testing.assert_array_equal(sd.sensitivity_distance_, res.forecast.distance)
    np.testing.assert_allclose(sd.distance_, res.forecast.distance, rtol=0, atol=1e-15)
    assert sd.drivers_ == list(res.selection.names)
    full = SensitivityDistance(spec=UPSTREAM).fit(X, y)
    d = full.distance_
    assert d.shape == (8, 8) and np.allclose(d, d.T, atol=0) and np.all(np.diag(d) == 0)
    c = full.codependence_
    assert np.all(np.diag(c) == 1) and c.min() >= 0 and c.max() <= 1
    # arrays work the same as frames (names x0.. keep the column order)
    arr = SensitivityDistance(spec=UPSTREAM).fit(X.to_numpy(), y.to_numpy())
    np.testing.assert_array_equal(arr.distance_, d)


@pytest.mark.parametrize("cls", [HierarchicalRiskParity, HierarchicalEqualRiskContribution,
                                 SchurComplementary, NestedClustersOptimization])
def test_skfolio_hierarchical_optimisers_run_on_it(xy, cls):
    X, y = xy
    with sklearn.config_context(enable_metadata_routing=True):
        sd = SensitivityDistance(spec=UPSTREAM).set_fit_request(drivers=True)
        est = cls(distance_estimator=sd).fit(X, drivers=y)
    w = est.weights_
    assert w.shape == (8,) and np.all(np.isfinite(w)) and w.min() >= -1e-12
    assert abs(w.sum() - 1) < 1e-10
    assert len(est.distance_estimator_.drivers_) == 3
    ref = SensitivityDistance(spec=UPSTREAM).fit(X, y).distance_
    np.testing.assert_allclose(est.distance_estimator_.distance_, ref, rtol=0, atol=1e-15)


def test_herc_passes_y_on(xy):
    X, y = xy
    est = HierarchicalEqualRiskContribution(
        distance_estimator=SensitivityDistance(spec=UPSTREAM)).fit(X, y)
    assert abs(est.weights_.sum() - 1) < 1e-10


def test_distance_errors(xy):
    X, y = xy
    with pytest.raises(DataError, match="needs candidate driver returns.*set_fit_request"):
        HierarchicalRiskParity(distance_estimator=SensitivityDistance(spec=UPSTREAM)).fit(X, y)
    with pytest.raises(SpecError, match="four stages"):
        SensitivityDistance(spec=f"{UPSTREAM}|hsp").fit(X, y)
    with pytest.raises(DataError, match="given twice"):
        SensitivityDistance(spec=UPSTREAM).fit(X, y, drivers=y)
    with pytest.raises(DataError, match="rows"):
        SensitivityDistance(spec=UPSTREAM).fit(X, y.iloc[:-5].to_numpy())
    with pytest.raises(DataError, match="X has 300 rows but .* needs 400 with driver_window=400"):
        SensitivityDistance(spec=UPSTREAM, driver_window=400).fit(X, y)


# --- CausalPortfolio -------------------------------------------------------------------------

SPEC = "rccp(k=3)|linear|beta|static|hsp"


def _backtest_weights(X, y, spec, dates, bounds):
    res = cf.run_backtest(cf.Market(X, y), spec,
                          cf.BacktestConfig(schedule=list(dates), min_weight=bounds[0],
                                            max_weight=bounds[1]))
    (strategy,) = res.strategies.values()
    return strategy.weights


@pytest.mark.parametrize("spec", [SPEC, "rccp(k=2)|linear(lags=[0,1])|beta|static|hsp", "hrp"])
def test_walk_forward_is_the_backtester(xy, spec):
    """Each WalkForward training window holds the rows strictly before its test start."""
    X, y = xy
    est = CausalPortfolio(spec=spec, min_weight=0.05, max_weight=0.3)
    cv = WalkForward(test_size=21, train_size=126)
    pred = cross_val_predict(est, X, y, cv=cv)
    starts = [X.index[test[0]] for _, test in cv.split(X)]
    got = pd.DataFrame([p.weights for p in pred.portfolios], index=starts, columns=X.columns)
    ref = _backtest_weights(X, y, spec, starts, (0.05, 0.3))
    assert list(ref.index) == starts and len(starts) == 8
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-10)
    assert got.min().min() >= 0.05 - 1e-12 and got.max().max() <= 0.3 + 1e-12


def test_monthly_walk_forward_is_the_monthly_backtest(xy):
    """WalkForward(freq='MS') tests start on the first trading day of each month, causalfolio's
    monthly schedule; 7 months of training hold more than the 126 rows the pipeline uses."""
    X, y = xy
    cv = WalkForward(test_size=1, train_size=7, freq="MS")
    pred = cross_val_predict(CausalPortfolio(spec=SPEC), X, y, cv=cv)
    starts = [X.index[test[0]] for _, test in cv.split(X)]
    got = pd.DataFrame([p.weights for p in pred.portfolios], index=starts, columns=X.columns)
    res = cf.run_backtest(cf.Market(X, y), SPEC, cf.BacktestConfig(schedule="monthly"))
    ref = next(iter(res.strategies.values())).weights
    common = got.index.intersection(ref.index)
    assert len(common) == len(got) >= 5
    np.testing.assert_allclose(got.loc[common].to_numpy(), ref.loc[common].to_numpy(),
                               rtol=0, atol=1e-10)


def test_combinatorial_purged_cv_gives_a_population(small_market):
    X, y = small_market.assets, small_market.candidates
    cv = CombinatorialPurgedCV(n_folds=5, n_test_folds=2, purged_size=5)
    pop = cross_val_predict(CausalPortfolio(spec=SPEC), X, y, cv=cv)
    assert len(pop) == cv.n_test_paths
    for mpp in pop:
        for p in mpp.portfolios:
            assert abs(p.weights.sum() - 1) < 1e-10 and p.weights.min() >= -1e-12
        assert np.isfinite(mpp.sharpe_ratio)


def test_predict_and_fit_predict(xy):
    X, y = xy
    est = CausalPortfolio(spec=SPEC).fit(X.iloc[:200], y.iloc[:200])
    ptf = est.predict(X.iloc[200:])
    np.testing.assert_allclose(ptf.returns, X.iloc[200:].to_numpy() @ est.weights_, atol=1e-15)
    assert list(ptf.assets) == list(X.columns)
    again = CausalPortfolio(spec=SPEC).fit_predict(X.iloc[:200], y.iloc[:200])
    np.testing.assert_array_equal(again.weights, est.weights_)
    assert len(est.drivers_) == 3 and est.pipeline_.spec == SPEC


def test_stage_parameters_in_get_and_set_params():
    est = CausalPortfolio(spec="rccp(k=6)|linear|beta|static|hsp")
    deep = est.get_params()
    assert deep["drivers__k"] == 6 and deep["mapping__linkage"] == "single"
    assert "drivers__k" not in est.get_params(deep=False)
    est.set_params(drivers__k=3, mapping__linkage="ward", min_weight=0.01)
    assert est.spec == "rccp(k=3)|linear|beta|static|hsp(linkage='ward')"
    assert est.min_weight == 0.01
    clone = sklearn.base.clone(est)
    assert clone.get_params() == est.get_params()
    with pytest.raises(SpecError, match="rccp has no parameter 'kk'"):
        est.set_params(drivers__kk=3)
    with pytest.raises(cf.CausalfolioError, match="'k'"):
        est.set_params(drivers__k=-1)


def test_grid_search_over_specs_and_stage_parameters(xy):
    from sklearn.model_selection import GridSearchCV

    X, y = xy
    cv = WalkForward(test_size=42, train_size=126)
    grid = GridSearchCV(CausalPortfolio(), cv=cv, param_grid={
        "spec": cf.expand_spec("rccp(k=3)|linear|beta|static|{hsp,schur(distance='sensitivity')}"),
        "drivers__k": [2, 3]})
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    # known answer: each mean test score is the mean Sharpe ratio of the refitted splits
    for params, score in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"],
                             strict=True):
        est = CausalPortfolio().set_params(**params)
        manual = [sklearn.base.clone(est).fit(X.iloc[tr], y.iloc[tr]).score(X.iloc[te])
                  for tr, te in cv.split(X)]
        assert score == pytest.approx(np.mean(manual), abs=1e-12)
    assert isinstance(grid.best_estimator_, CausalPortfolio)


def test_portfolio_errors(xy):
    X, y = xy
    with pytest.raises(DataError, match="needs candidate driver returns"):
        CausalPortfolio(spec=SPEC).fit(X)
    with pytest.raises(cf.ConfigError):
        CausalPortfolio(spec=SPEC, min_weight=0.2).fit(X, y)
    with pytest.raises(SpecError):
        CausalPortfolio(spec="rccp(k=3)|lineer|beta|static|hsp").fit(X, y)
    bad = X.copy()
    bad.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CausalPortfolio(spec=SPEC).fit(bad, y)
    w = CausalPortfolio(spec="hrp").fit(X).weights_  # a benchmark needs no drivers
    assert abs(w.sum() - 1) < 1e-12


# --- scikit-learn's estimator checks ---------------------------------------------------------

_CHECK_WINDOWS = {"driver_window": 10, "train_window": 9, "cov_window": 10}
_NOT_APPLICABLE = {
    "check_methods_sample_order_invariance":
        "predict returns one skfolio Portfolio for all rows (like every skfolio optimiser), "
        "not one prediction per row",
}
_LABELS_AS_DRIVERS = {
    "check_positive_only_tag_during_fit":
        "the check passes iris class labels as y; sorted labels are constant over the trailing "
        "windows and a constant candidate driver cannot be selected (DataError says so)",
}


def _expected_failures(est):
    out = dict(_NOT_APPLICABLE) if isinstance(est, CausalPortfolio) else {}
    if "|" in est.spec:
        out.update(_LABELS_AS_DRIVERS)
    return out


@sklearn.utils.estimator_checks.parametrize_with_checks(
    [CausalPortfolio(spec="rccp(k=1)|linear|beta|static|hsp", **_CHECK_WINDOWS),
     CausalPortfolio(spec="hrp", cov_window=10),
     SensitivityDistance(spec="rccp(k=1)|linear|beta|static", driver_window=10,
                         train_window=9),
     CausalFactorModel(spec="rccp(k=1)|linear|beta|static", driver_window=10,
                       train_window=9)],
    expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_import_causalfolio_stays_light():
    code = ("import sys, causalfolio as cf, causalfolio.backtest; "
            "print('skfolio' in sys.modules, 'causalfolio.sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_missing_skfolio_names_the_extra():
    code = "import sys; sys.modules['skfolio'] = None; import causalfolio.sklearn"
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    assert err.strip().splitlines()[-1] == (
        "ImportError: causalfolio.sklearn needs the package 'skfolio'; install the optional "
        "extra: pip install 'causalfolio[skfolio]' (or pip install skfolio)")
