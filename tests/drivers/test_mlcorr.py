"""mlcorr: implied covariance and likelihood against a direct multivariate-normal computation,
greedy vs exhaustive, information criteria, recovery of planted drivers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import causalfolio as cf
from causalfolio.errors import DataError
from causalfolio.plugins.drivers._common import build_pool
from causalfolio.plugins.drivers.mlcorr import (
    Mlcorr,
    gaussian_loglik,
    implied_covariance,
    n_params,
)


def _planted(t=250, seed=0):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=t)
    z = rng.normal(size=(t, 2))
    load = rng.uniform(0.5, 1.5, size=(2, 6))
    y = pd.DataFrame(z @ load + rng.normal(size=(t, 6)), index=idx,
                     columns=[f"A{i}" for i in range(6)])
    x = pd.DataFrame(rng.normal(size=(t, 8)), index=idx, columns=[f"N{i}" for i in range(8)])
    x["Z0"], x["Z1"] = z[:, 0], z[:, 1]
    return y, x


def test_implied_covariance_and_loglik_match_direct_computation():
    y, x = _planted()
    yv, zv = y.to_numpy(), x[["Z0", "Z1", "N0"]].to_numpy()
    t = len(yv)
    design = np.column_stack([np.ones(t), zv])
    coef, *_ = np.linalg.lstsq(design, yv, rcond=None)
    b = coef[1:].T  # (N, k)
    resid = yv - design @ coef
    sigma_direct = b @ np.cov(zv.T, ddof=0) @ b.T + np.diag(resid.var(axis=0))
    yc, zc = yv - yv.mean(0), zv - zv.mean(0)
    sigma = implied_covariance(yc, zc)
    np.testing.assert_allclose(sigma, sigma_direct, rtol=1e-10, atol=1e-14)
    ll = gaussian_loglik(yc, sigma[None])[0]
    ref = stats.multivariate_normal(mean=yv.mean(0), cov=sigma_direct).logpdf(yv).sum()
    assert ll == pytest.approx(ref, rel=1e-10)
    # the empty set: independent constituents, Sigma = diag of the sample variances
    s0 = implied_covariance(yc, zc[:, :0])
    np.testing.assert_allclose(s0, np.diag(yv.var(axis=0)), rtol=1e-12)


def test_selection_objective_is_the_likelihood_of_the_chosen_set():
    y, x = _planted()
    sel = Mlcorr(k=2, lags=(0,), stop="k").select(y, x, seed=0)
    assert set(sel.names) == {"Z0", "Z1"}
    yv, zv = y.to_numpy(), x[list(sel.names)].to_numpy()
    ref = stats.multivariate_normal(mean=yv.mean(0), cov=implied_covariance(
        yv - yv.mean(0), zv - zv.mean(0))).logpdf(yv).sum()
    assert sel.objective == pytest.approx(ref, rel=1e-10)
    assert sel.info["loglik_by_size"]["2"] > sel.info["loglik_by_size"]["1"] \
        > sel.info["loglik_empty"]


def test_exhaustive_is_at_least_greedy_and_criteria():
    y, x = _planted(seed=3)
    g = Mlcorr(k=3, lags=(0,), stop="k").select(y, x, seed=0)
    e = Mlcorr(k=3, lags=(0,), search="exhaustive").select(y, x, seed=0)
    assert e.objective >= g.objective - 1e-9
    assert {"Z0", "Z1"} <= set(e.names)
    bic = Mlcorr(k=5, lags=(0,), stop="k", criterion="bic").select(y, x, seed=0)
    assert set(bic.names) == {"Z0", "Z1"}  # BIC keeps the two planted causes only
    t, n = len(y), 6
    for m, ll in bic.info["loglik_by_size"].items():
        assert bic.info["ic_by_size"][m] == pytest.approx(
            -2 * ll + n_params(n, int(m)) * np.log(t))
    assert n_params(6, 2) == 6 * 2 + 6 + 3
    ea = Mlcorr(k=3, lags=(0,), search="exhaustive", criterion="aic").select(y, x, seed=0)
    assert len(ea.names) <= 3 and set(ea.info["loglik_by_size"]) == {"1", "2", "3"}
    with pytest.raises(DataError, match="exceeds max_subsets"):
        Mlcorr(k=3, search="exhaustive", max_subsets=10).select(y, x, seed=0)


def test_synthetic_exhaustive_finds_common_drivers(default_market):
    a, c = default_market.assets.iloc[-252:], default_market.candidates.iloc[-252:]
    truth = default_market.truth
    sel = Mlcorr(k=4, search="exhaustive", prescreen=12).select(a, c, seed=0)
    assert len(set(sel.names) & set(truth.common)) >= 3
    for n in sel.names:  # each driver enters at its true lag when it is a true driver
        if n in truth.lags:
            assert sel.info["lags"][n] == truth.lags[n]


def test_bad_input_and_spec(default_market):
    y, x = _planted(t=12)
    with pytest.raises(DataError, match="need more than k"):
        Mlcorr(k=9, lags=(0, 1)).select(y, x, seed=0)
    with pytest.raises(DataError, match="NaN"):
        Mlcorr(k=1).select(y.assign(A0=np.nan), x, seed=0)
    y2, x2 = _planted()  # a perfectly collinear copy is never selected with its original
    sel = Mlcorr(k=3, lags=(0,), stop="k").select(y2, x2.assign(Z0b=x2["Z0"] * 2), seed=0)
    assert not {"Z0", "Z0b"} <= set(sel.names)
    p = cf.parse_spec("mlcorr(k=4,criterion='bic',search='exhaustive',prescreen=10)"
                      "|linear|beta|static|hsp")
    assert cf.parse_spec(p.spec).spec == p.spec
    a, c = default_market.assets.iloc[-126:], default_market.candidates.iloc[-126:]
    s1, s2 = p.drivers.select(a, c, seed=0), p.drivers.select(a, c, seed=9)
    assert s1.names == s2.names and s1.objective == s2.objective
    assert build_pool("mlcorr", a, c, k=4, lags=(0, 1), prescreen=10).x.shape[1] == 10
