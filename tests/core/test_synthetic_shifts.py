"""Distribution shifts of the synthetic market (issue #21 item 1): known answers per kind, the
truth records every event, and the CLI/grid-file vocabulary takes them."""

from __future__ import annotations

import numpy as np
import pytest

from causalfolio.ablation.markets import MarketGrid, market_options_from_toml
from causalfolio.data import Shift, synthetic_market
from causalfolio.data.shifts import parse_shifts, shifts_text
from causalfolio.errors import ParameterError

BASE = dict(n_assets=8, n_days=600, n_noise=2, collider_noise=0.0, n_pair_colliders=1, seed=3)


@pytest.fixture(scope="module")
def base():
    return synthetic_market(**BASE)


def shifted(text):
    return synthetic_market(**BASE, shifts=text)


def test_driver_vol_scales_the_drivers_in_its_regimes_and_nothing_causal_moves(base):
    m = shifted("driver_vol:every=150:strength=2.5")
    t = m.truth
    (ev,) = t.shifts
    assert ev["day_ranges"] == [[0, 150], [300, 450]] and ev["days"] == 300
    assert ev["windows"][0] == ["2015-01-01", f"{m.dates[149]:%Y-%m-%d}"]
    on = t.shift_mask("driver_vol")
    drift = t.params["driver_drift"]
    for a, b in zip(t.common, base.truth.common, strict=True):
        ratio = (m.candidates[a] - drift) / (base.candidates[b] - drift)
        np.testing.assert_allclose(ratio[on], 2.5)
        np.testing.assert_allclose(ratio[~on], 1.0)
        # within sampling error: a robust scale ratio of the regimes
        x = m.candidates[a].to_numpy() - drift
        mad = [np.median(np.abs(x[s])) for s in (on, ~on)]
        assert abs(mad[0] / mad[1] - 2.5) < 0.5
    assert sorted(ev["drivers"]) == sorted(t.common)
    assert np.array_equal(t.betas, base.truth.betas)  # sensitivities unchanged
    lin = [j for j, d in enumerate(t.common) if d not in t.nonlinear]
    assert np.array_equal(t.sensitivities[:, :, lin], base.truth.sensitivities[:, :, lin])

    def mean_abs_corr(x):
        c = np.corrcoef(x.T)
        return np.abs(c[np.triu_indices_from(c, 1)]).mean()
    a = m.assets.to_numpy()
    assert mean_abs_corr(a[on]) > mean_abs_corr(a[~on])  # correlations move


def test_intervention_changes_one_driver_only(base):
    m = shifted("intervention:start=300:driver=1:level=0.002:strength=1")
    t, on = m.truth, m.truth.shift_mask()
    assert on.sum() == 300 and not on[:300].any()
    diff = m.candidates[t.common[1]] - base.candidates[base.truth.common[1]]
    np.testing.assert_allclose(diff[on], 0.002)
    assert (diff[~on] == 0).all()
    for j in (0, 2, 3):
        assert m.candidates[t.common[j]].equals(base.candidates[base.truth.common[j]])
    assert np.array_equal(t.betas, base.truth.betas)


def test_proxy_decouple_cuts_the_proxies_from_their_driver(base):
    m = shifted("proxy_decouple:start=2016-01-01")
    t, on = m.truth, m.truth.shift_mask()
    (ev,) = t.shifts
    assert ev["windows"][0][0] == "2016-01-01" and sorted(ev["proxies"]) == sorted(t.proxy_of)
    for p, d in t.proxy_of.items():
        x, y = m.candidates[p], m.candidates[d]
        assert np.corrcoef(x[~on], y[~on])[0, 1] > 0.7
        assert abs(np.corrcoef(x[on], y[on])[0, 1]) < 0.2
    assert np.array_equal(t.betas, base.truth.betas)
    assert m.assets.equals(base.assets)


def test_collider_rewire_moves_each_collider_to_its_recorded_new_members(base):
    m = shifted("collider_rewire:start=400")
    t, on = m.truth, m.truth.shift_mask()
    (ev,) = t.shifts
    assert set(ev["colliders"]) == set(t.collider_of) and len(ev["colliders"]) == 3
    for c, new in ev["colliders"].items():
        old = list(t.collider_of[c])
        assert len(new) == len(old) and new != old
        np.testing.assert_allclose(m.candidates[c][on], m.assets[new].mean(axis=1)[on],
                                   atol=1e-15)
        np.testing.assert_allclose(m.candidates[c][~on], m.assets[old].mean(axis=1)[~on],
                                   atol=1e-15)
    assert m.assets.equals(base.assets)


def test_spurious_candidates_track_the_assets_only_inside_their_window():
    m = synthetic_market(**{**BASE, "collider_noise": 0.3}, shifts="spurious:start=200:end=400:n=3")
    t, on = m.truth, m.truth.shift_mask("spurious")
    (ev,) = t.shifts
    assert len(ev["candidates"]) == 3
    for c in ev["candidates"]:
        assert t.roles[c] == "spurious" and t.labels[c] == "collider"
        avg = m.assets[list(t.collider_of[c])].mean(axis=1)
        assert np.corrcoef(m.candidates[c][on], avg[on])[0, 1] > 0.9
        assert abs(np.corrcoef(m.candidates[c][~on], avg[~on])[0, 1]) < 0.25


def test_mechanism_is_the_only_kind_that_changes_the_sensitivities(base):
    m = shifted("mechanism:start=450:strength=0.5")
    t, on = m.truth, m.truth.shift_mask()
    (ev,) = t.shifts
    assert np.array_equal(t.betas[~on], base.truth.betas[~on])
    alt = np.array(ev["mean_betas"])
    np.testing.assert_allclose(t.betas[on] - base.truth.betas[on],
                               np.broadcast_to(0.5 * (alt - t.mean_betas), (on.sum(), 8, 4)),
                               atol=1e-12)
    assert set(ev["clusters"]) == set(t.assets)
    assert np.array_equal(t.mean_betas, base.truth.mean_betas)


def test_the_text_form_round_trips_and_bad_events_name_their_part():
    text = "driver_vol:every=250:strength=2;proxy_decouple:start=2018-01-02;spurious:n=4"
    shifts = parse_shifts(text)
    assert shifts_text(shifts) == text and parse_shifts(shifts_text(shifts)) == shifts
    assert parse_shifts([{"kind": "mechanism", "start": 100}]) == (Shift(kind="mechanism",
                                                                        start=100),)
    assert parse_shifts("none") == () and shifts_text(()) == "none"
    for bad, needle in [("driver_vol:level=1", "takes no 'level'"),
                        ("proxy_decouple:strength=2", "fraction in [0, 1]"),
                        ("mechanism:start", "KIND:KEY=VALUE"),
                        ("driver_vol:every=0", "every must be >= 1"),
                        ("intervention:start=notadate", "a date YYYY-MM-DD or a day index")]:
        with pytest.raises(ParameterError, match=needle.replace("[", r"\[")):
            parse_shifts(bad)
    with pytest.raises(ParameterError, match="outside the market"):
        synthetic_market(n_days=100, shifts="mechanism:start=2030-01-01")
    with pytest.raises(ParameterError, match="driver is an index"):
        synthetic_market(n_days=100, shifts="intervention:driver=9")


def test_cli_and_grid_file_take_shifts_as_a_market_axis(tmp_path):
    grid = MarketGrid.from_options(synthetic="0", synthetic_param=[
        "shifts=none,driver_vol:every=50", "n_days=120"])
    markets = grid.markets()
    assert list(markets) == ["shifts=none,seed=0", "shifts=driver_vol:every=50,seed=0"]
    assert [len(m.truth.shifts) for m in markets.values()] == [0, 1]
    (tmp_path / "g.toml").write_text(
        'specs = ["rccp(k=2)|linear|beta|static|hsp"]\n[market]\nsynthetic = 0\n'
        'synthetic_param = {n_days = 120, shifts = "mechanism:start=60;spurious:n=1"}\n')
    opts = market_options_from_toml(tmp_path / "g.toml")
    (m,) = MarketGrid.from_options(**opts).markets().values()
    assert [e["kind"] for e in m.truth.shifts] == ["mechanism", "spurious"]
    assert m.truth.params["shifts"] == "mechanism:start=60;spurious:n=1"


def test_shift_text_parses_back_to_the_same_shift():
    """truth.params records shifts as text: it must rebuild the same market."""
    for v in (1.2345678, 2.0, 0.1, 1e-7):
        s = Shift(kind="driver_vol", strength=v, every=250)
        assert parse_shifts(s.text()) == (s,)
    assert Shift(kind="driver_vol", strength=2.0).text() == "driver_vol:strength=2"
