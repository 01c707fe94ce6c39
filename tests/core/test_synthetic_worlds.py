"""The harder synthetic worlds (issue #20 item 3): each candidate is what its truth label says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from causalfolio.data import LABELS, prices_from_returns, synthetic_market

HARD = dict(n_assets=8, n_days=300, n_noise=3, n_pair_colliders=2, index=True, n_derived=2,
            n_latent=2, collider_noise=0.0, seed=4)


@pytest.fixture(scope="module")
def hard():
    return synthetic_market(**HARD)


def test_defaults_leave_the_market_as_it_was_and_each_world_has_its_own_stream(hard):
    plain = synthetic_market(**{k: HARD[k] for k in ("n_assets", "n_days", "n_noise", "seed")},
                             collider_noise=0.0)
    t, t0 = hard.truth, plain.truth
    # the common drivers, their coefficients and the asset-specific drivers are drawn as before
    assert np.array_equal(t.betas, t0.betas) and np.array_equal(t.mean_betas, t0.mean_betas)
    for a, b in zip(t.common, t0.common, strict=True):
        assert np.array_equal(hard.candidates[a], plain.candidates[b])
    assert t0.roles == t0.labels and "roles" not in t0.to_json()
    assert set(t0.params) == {*t.params} - {"n_pair_colliders", "index", "n_derived", "n_latent",
                                           "n_latent_proxies"}


def test_every_candidate_has_a_label_and_a_role(hard):
    t = hard.truth
    assert set(t.roles) == set(t.labels) == set(hard.candidates.columns)
    assert set(t.labels.values()) <= set(LABELS)
    counts = {r: sum(v == r for v in t.roles.values()) for r in set(t.roles.values())}
    assert counts == {"common": 4, "proxy": 4, "latent_proxy": 2, "collider": 2,
                      "pair_collider": 2, "index": 1, "price_weighted": 1, "price_ratio": 1,
                      "specific": 8, "noise": 3}
    coarse = {"latent_proxy": "proxy", "pair_collider": "collider", "index": "collider",
              "price_weighted": "collider", "price_ratio": "collider"}
    for name, role in t.roles.items():
        assert t.labels[name] == coarse.get(role, role)
    assert set(t.proxy_of) == set(t.of_label("proxy"))
    assert set(t.collider_of) == set(t.of_label("collider"))
    json.dumps(t.to_json())  # JSON-ready


def test_colliders_and_price_series_are_exact_functions_of_same_day_assets(hard):
    t, a, c = hard.truth, hard.assets, hard.candidates
    prices = prices_from_returns(a).to_numpy()
    for name, role in t.roles.items():
        members = list(t.collider_of.get(name, ()))
        idx = [a.columns.get_loc(m) for m in members]
        if role in ("pair_collider", "index"):
            assert len(members) == (2 if role == "pair_collider" else a.shape[1])
            np.testing.assert_allclose(c[name], a[members].mean(axis=1), atol=1e-15)
        elif role == "price_weighted":
            pw = prices[1:, idx].sum(axis=1) / prices[:-1, idx].sum(axis=1) - 1
            np.testing.assert_allclose(c[name], pw, atol=1e-12)
        elif role == "price_ratio":
            ratio = prices[:, idx[0]] / prices[:, idx[1]]
            np.testing.assert_allclose(c[name], ratio[1:] / ratio[:-1] - 1, atol=1e-12)


def test_latent_drivers_act_on_the_assets_and_only_their_proxies_are_candidates(hard):
    t, m = hard.truth, hard
    assert t.latent == ("L0", "L1") and not set(t.latent) & set(m.candidates.columns)
    assert t.latent_paths.shape == (300, 2) and t.latent_loadings.shape == (8, 2)
    # regress the assets on the true common inputs and the latent paths: the loadings come back
    X = np.column_stack([m.candidates[d].shift(t.lags[d]).to_numpy() for d in t.common]
                        + [t.latent_paths])[1:]
    B = np.linalg.lstsq(np.column_stack([np.ones(len(X)), X]), m.assets.to_numpy()[1:],
                        rcond=None)[0][1 + len(t.common):].T
    assert np.abs(B - t.latent_loadings).mean() < 0.15
    for p in [n for n, r in t.roles.items() if r == "latent_proxy"]:
        j = t.latent.index(t.proxy_of[p])
        assert np.corrcoef(m.candidates[p], t.latent_paths[:, j])[0, 1] > 0.7


def test_near_deterministic_colliders_follow_collider_noise():
    def gap(noise):
        m = synthetic_market(n_assets=6, n_days=200, n_noise=0, n_colliders=1, seed=2,
                             collider_noise=noise)
        (name, members), = m.truth.collider_of.items()
        return np.std(m.candidates[name] - m.assets[list(members)].mean(axis=1))
    assert gap(0.0) == 0.0 and 0 < gap(0.01) < 0.1 * gap(0.3)
