"""After loading, one line per data set says what was kept and which dates each step cut, why."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causalfolio.data import Market


def _levels(days, names, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (len(days), len(names))),
                                               axis=0)), index=days, columns=names)


def test_inner_alignment_gaps_and_returns_are_reported_with_their_dates():
    days = pd.bdate_range("2020-01-01", periods=12)
    a = _levels(days, ["a", "b", "c"], 0)
    c = _levels(days[3:], ["x", "y"], 1)  # the candidates start 3 dates later
    a.iloc[7, 1] = np.nan  # a gap inside b's life, dropped by nan_policy='drop'
    m = Market.from_frames(a, c, nan_policy="drop")
    assets, cands = m.loading
    assert assets == (
        "assets: 3 series on 12 dates 2020-01-01..2020-01-16 -> kept 3 assets on 7 dates "
        "2020-01-07..2020-01-16; cut 3 dates before, by align='inner' (--align inner): no "
        "candidate values; cut 1 date inside, by nan_policy='drop': a gap in some series; "
        "cut 1 date before, as returns: the first date has no previous level")
    assert cands == (
        "candidates: 2 series on 9 dates 2020-01-06..2020-01-16 -> kept 2 candidates on 7 "
        "dates 2020-01-07..2020-01-16; cut 1 date inside, by nan_policy='drop': a gap in some "
        "series; cut 1 date before, as returns: the first date has no previous level")
    assert len(m.dates) == 7


def test_asset_alignment_and_returns_as_given():
    days = pd.bdate_range("2020-01-01", periods=10)
    a = _levels(days, ["a", "b"], 2).pct_change().iloc[1:]
    extra = days.append(pd.DatetimeIndex(["2020-01-18"]))  # a Saturday: not an asset date
    c = _levels(extra, ["x"], 3).pct_change().iloc[1:]
    m = Market.from_frames(a, c, kind="returns", align="assets")
    assert m.loading[0] == ("assets: 2 series on 9 dates 2020-01-02..2020-01-14 -> kept 2 "
                            "assets on 9 dates 2020-01-02..2020-01-14")
    assert m.loading[1].endswith("-> kept 1 candidates on 9 dates 2020-01-02..2020-01-14; cut 1 "
                                 "date after, by align='assets' (--align assets): not asset "
                                 "dates")
    assert Market(m.assets, m.candidates).loading == ()
