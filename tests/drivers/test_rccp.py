"""rccp: the worked example, Appendix D lags, calibration, SELECT filters, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import causalfolio as cf
from causalfolio.errors import DataError, ParameterError
from causalfolio.plugins.drivers.rccp import (
    Rccp,
    calibrated_threshold,
    correlation_matrix,
    lagged_scores,
    rank_candidates,
    rccp_scores,
)

WORKED = np.array([[0.6, 0.4, 0.3], [0.8, 0.7, 0.5], [0.2, 0.6, 0.4], [0.9, 0.8, 0.7]])


def _frames(t: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=t)
    f = rng.normal(size=(t + 1, 2))
    y = pd.DataFrame({f"A{i}": f[1:, 0] * (1 + 0.2 * i) + f[:-1, 1] + rng.normal(size=t)
                      for i in range(4)}, index=idx)
    x = pd.DataFrame({"f0": f[1:, 0], "f1": f[1:, 1], "z": rng.normal(size=t)}, index=idx)
    return y, x


def test_worked_example_exactly():
    rep, strength, ind = rccp_scores(WORKED, 0.5)
    assert rep.tolist() == [1, 3, 1, 3]
    np.testing.assert_allclose(strength, [0.6, 2.0, 0.6, 2.4])
    names = ["X1", "X2", "X3", "X4"]
    order = rank_candidates(rep, strength, names)
    assert [names[k] for k in order] == ["X4", "X2", "X1", "X3"]
    assert {names[k] for k in order[:2]} == {"X4", "X2"}


def test_lagged_scores_single_lag_equals_algorithm_1_and_appendix_d_semantics():
    r1, s1, i1 = lagged_scores([WORKED], [0.5], signed=False, combine="all")
    r0, s0, i0 = rccp_scores(WORKED, 0.5)
    assert (r1 == r0).all() and np.allclose(s1, s0) and (i1 == i0).all()
    c0 = np.array([[0.6, 0.1], [0.2, 0.7]])
    c1 = np.array([[0.5, 0.6], [0.1, 0.0]])
    # all: specific iff corr0 >= T0 and corr1 >= T1 (eq. 120)
    rep, strength, ind = lagged_scores([c0, c1], [0.5, 0.4], signed=False, combine="all")
    assert ind.tolist() == [[True, False], [False, False]]
    assert rep.tolist() == [1, 0] and np.allclose(strength, [0.6, 0.0])
    rep, strength, ind = lagged_scores([c0, c1], [0.5, 0.4], signed=False, combine="any")
    assert ind.tolist() == [[True, True], [False, True]]
    np.testing.assert_allclose(strength, [0.6 + 0.6, 0.7])
    # signed: a negative correlation never passes
    rep, _, _ = lagged_scores([-WORKED], [0.5], signed=True, combine="all")
    assert rep.tolist() == [0, 0, 0, 0]


def test_calibrated_threshold_lets_k_candidates_pass():
    # per-candidate max |corr|: 0.6, 0.8, 0.6, 0.9; k=3 ties X1 and X3 at 0.6, so 4 pass
    for k, passing in ((1, 1), (2, 2), (3, 4), (4, 4)):
        thr = calibrated_threshold([WORKED], k, np.ones(4, bool), signed=False, combine="all")
        rep, _, _ = rccp_scores(WORKED, thr)
        assert (rep >= 1).sum() == passing
    assert calibrated_threshold([WORKED], 2, np.ones(4, bool), signed=False,
                                combine="all") == pytest.approx(0.8)


def test_select_matches_direct_correlations():
    y, x = _frames()
    sel = Rccp(k=2, eps=0.3).select(y, x, seed=0)
    c = np.array([[np.corrcoef(x[a], y[b])[0, 1] for b in y] for a in x])
    rep = (np.abs(c) >= 0.3).sum(axis=1)
    np.testing.assert_array_equal(sel.scores["repeatedness"], rep)
    np.testing.assert_allclose(sel.scores["strength"], (np.abs(c) * (np.abs(c) >= 0.3)).sum(1))
    # the top k=2 by (repeatedness, strength) descending, computed here from the correlations
    strength = (np.abs(c) * (np.abs(c) >= 0.3)).sum(1)
    names = list(x.columns)
    order = sorted(range(len(names)), key=lambda i: (-rep[i], -strength[i], names[i]))
    assert sel.names == tuple(names[i] for i in order[:2])
    assert sel.names[0] == "f0"  # f0 drives every asset at lag 0
    assert sel.specific_to["f0"] == tuple(y.columns[np.abs(c[0]) >= 0.3])
    np.testing.assert_allclose(correlation_matrix(x.to_numpy(), y.to_numpy()), c, atol=1e-12)


def test_lag_one_driver_found_only_with_lag_one():
    y, x = _frames()
    lag0 = Rccp(k=1, eps=0.3).select(y, x[["f1", "z"]], seed=0)
    lag1 = Rccp(k=1, eps=0.3, lags=(1,)).select(y, x[["f1", "z"]], seed=0)
    assert lag0.scores.loc["f1", "repeatedness"] == 0
    assert lag1.names == ("f1",) and lag1.scores.loc["f1", "repeatedness"] == 4
    both = Rccp(k=1, eps=0.3, lags=(0, 1), combine="all").select(y, x[["f1", "z"]], seed=0)
    assert both.scores.loc["f1", "repeatedness"] == 0  # eq. 120 needs both lags to pass
    anyl = Rccp(k=1, eps=0.3, lags=(0, 1), combine="any").select(y, x[["f1", "z"]], seed=0)
    assert anyl.names == ("f1",)


def test_synthetic_truth_lag_and_calibration(default_market):
    a, c = default_market.assets.iloc[-252:], default_market.candidates.iloc[-252:]
    truth = default_market.truth
    lag1 = [d for d in truth.common if truth.lags[d] == 1]
    s0 = Rccp(k=8).select(a, c, seed=0)
    s1 = Rccp(k=8, lags=(1,)).select(a, c, seed=0)
    both = Rccp(k=8, lags=(0, 1), combine="any").select(a, c, seed=0)
    for d in lag1:  # a lag-1 driver is far more correlated with Y(t) at lag 1
        assert s1.scores.loc[d, "strength"] > 2 * s0.scores.loc[d, "strength"]
    assert len(set(lag1) & set(both.names)) > len(set(lag1) & set(s0.names))
    cal = Rccp(k=6, lags=(0, 1), combine="any", calibrate=True).select(a, c, seed=0)
    assert (cal.scores["repeatedness"] >= 1).sum() == 6
    assert cal.info["thresholds"][0] == cal.info["thresholds"][1] > 0


def test_select_filters():
    y, x = _frames()
    rng = np.random.default_rng(3)
    x = x.assign(dup=y["A0"] + 1e-3 * rng.normal(size=len(y)), f0copy=x["f0"] * 2.0 + 1.0)
    opt = Rccp(k=3).select(y, x, seed=0)
    assert opt.info["mode"] == "opt"
    sel = Rccp(k=2, exclude=("f1",), max_asset_corr=0.99, max_r2=0.9).select(y, x, seed=0)
    st = sel.scores["status"]
    assert st["f1"] == "excluded" and st["dup"] == "duplicate"
    assert {st["f0"], st["f0copy"]} == {"selected", "collinear"}
    assert sel.scores.loc[[n for n in ("f0", "f0copy") if st[n] == "collinear"][0],
                          "r2_on_selected"] == pytest.approx(1.0)
    assert "f1" not in sel.names and "dup" not in sel.names and len(sel.names) == 2
    assert sel.info["removed"]["excluded"] == ["f1"] and sel.info["mode"] == "select"
    with pytest.raises(DataError, match="'eligible': 2, 'excluded': 1, 'duplicate': 1"):
        Rccp(k=3, exclude=("f1",), max_asset_corr=0.99, max_r2=0.9).select(y, x, seed=0)


def test_constant_candidates_never_selected_and_errors():
    y, x = _frames()
    xc = x.assign(c1=1.0, c2=-2.0)
    sel = Rccp(k=3).select(y, xc, seed=0)
    assert sel.scores.loc["c1", "status"] == "constant" and "c1" not in sel.names
    with pytest.raises(DataError, match="fewer than k=4"):
        Rccp(k=4).select(y, xc, seed=0)
    with pytest.raises(DataError, match="only 3 candidate drivers"):
        Rccp(k=4).select(y, x, seed=0)
    with pytest.raises(DataError, match=r"\['nope'\] not among"):
        Rccp(k=1, exclude=("nope",)).select(y, x, seed=0)
    with pytest.raises(DataError, match="NaN"):
        Rccp(k=1).select(y, x.assign(z=np.nan), seed=0)
    with pytest.raises(ParameterError, match="one value per lag"):
        Rccp(lags=(0, 1), thresholds=(0.2,))
    with pytest.raises(ParameterError, match="calibrate"):
        Rccp(calibrate=True, thresholds=(0.2,))


def test_spec_round_trip_and_determinism(default_market):
    spec = ("rccp(k=5,lags=[0,1],combine='any',exclude=['X001'],max_asset_corr=0.95,"
            "max_r2=0.8)|linear|beta|static|hsp")
    p = cf.parse_spec(spec)
    assert cf.parse_spec(p.spec).spec == p.spec
    a, c = default_market.assets.iloc[-126:], default_market.candidates.iloc[-126:]
    s1, s2 = p.drivers.select(a, c, seed=0), p.drivers.select(a, c, seed=1)
    assert s1.names == s2.names and s1.scores.equals(s2.scores)
