"""The synthetic market: determinism and the truth it reports is the truth it generated."""

from __future__ import annotations

import numpy as np
import pytest

from causalfolio.data import Market, prices_from_returns, synthetic_market
from causalfolio.errors import ParameterError


def test_same_seed_same_market_and_different_seed_differs():
    a, b = synthetic_market(n_days=200, seed=1), synthetic_market(n_days=200, seed=1)
    assert a.assets.equals(b.assets) and a.candidates.equals(b.candidates)
    assert not synthetic_market(n_days=200, seed=2).assets.equals(a.assets)


def test_labels_cover_every_candidate(default_market):
    t = default_market.truth
    assert set(t.labels) == set(default_market.candidates.columns)
    counts = {lab: len(t.of_label(lab)) for lab in ("common", "proxy", "collider", "specific",
                                                    "noise")}
    assert counts == {"common": 4, "proxy": 4, "collider": 2, "specific": 14, "noise": 30}
    assert sorted(t.lags.values()) == [0, 0, 1, 1] and len(t.nonlinear) == 1


def test_returns_follow_the_reported_structure(default_market):
    m, t = default_market, default_market.truth
    # regress each asset on the true inputs at their true lags: betas close to the mean betas
    X = np.column_stack([m.candidates[d].shift(t.lags[d]).to_numpy() for d in t.common])[1:]
    Y = m.assets.to_numpy()[1:]
    X1 = np.column_stack([np.ones(len(X)), X])
    B = np.linalg.lstsq(X1, Y, rcond=None)[0][1:].T
    lin = [j for j, d in enumerate(t.common) if d not in t.nonlinear]
    err = np.abs(B[:, lin] - t.betas[1:, :, lin].mean(axis=0))
    assert err.mean() < 0.1, err
    # the true sensitivity of a linear input is the beta path itself
    assert np.allclose(t.sensitivities[:, :, lin], t.betas[:, :, lin])
    # lag-1 drivers explain returns only through yesterday's value
    lagged = [d for d in t.common if t.lags[d] == 1]
    for d in lagged:
        c0 = np.corrcoef(m.candidates[d], m.assets.mean(axis=1))[0, 1]
        c1 = np.corrcoef(m.candidates[d].shift(1)[1:], m.assets.mean(axis=1)[1:])[0, 1]
        assert abs(c1) > 3 * abs(c0)


def test_proxies_and_colliders_correlate_as_planted(default_market):
    m, t = default_market, default_market.truth
    for proxy, driver in t.proxy_of.items():
        assert np.corrcoef(m.candidates[proxy], m.candidates[driver])[0, 1] > 0.7
    for collider, members in t.collider_of.items():
        avg = m.assets[list(members)].mean(axis=1)
        assert np.corrcoef(m.candidates[collider], avg)[0, 1] > 0.9
    for spec_driver, asset in t.specific_of.items():
        c = m.assets.corrwith(m.candidates[spec_driver])
        assert c.abs().idxmax() == asset


def test_sensitivities_are_mean_reverting_and_heavy_tailed(default_market):
    t = default_market.truth
    dev = t.betas - t.mean_betas[None]
    x, y = dev[:-1].ravel(), dev[1:].ravel()
    phi = (x @ y) / (x @ x)
    assert abs(phi - t.params["beta_persistence"]) < 0.01
    shocks = (dev[1:] - phi * dev[:-1]).ravel()
    kurt = ((shocks - shocks.mean()) ** 4).mean() / shocks.var() ** 2
    assert kurt > 4  # Student-t(5) shocks: excess kurtosis, not Gaussian (3)


def test_prices_round_trip_to_returns(small_market):
    m = Market.from_frames(prices_from_returns(small_market.assets),
                           prices_from_returns(small_market.candidates))
    assert np.allclose(m.assets.to_numpy(), small_market.assets.to_numpy())
    assert m.dates.equals(small_market.dates)


def test_bad_generator_arguments():
    with pytest.raises(ParameterError):
        synthetic_market(n_assets=1)
    with pytest.raises(ParameterError):
        synthetic_market(tail_df=2)
