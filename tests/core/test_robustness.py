"""Library robustness: specific errors instead of asserts, value classes that compare safely."""

from __future__ import annotations

import pytest

import causalfolio as cf
from causalfolio.errors import DataError
from causalfolio.pipeline import Windows

SPEC = "rccp(k=3)|linear(lags=[0,1])|beta|static|hsp"
WINDOWS = Windows(drivers=60, train=60, cov=40)


def test_full_pipeline_without_candidates_raises_data_error(small_market):
    pipe = cf.parse_spec(SPEC)
    date = small_market.dates[200]
    with pytest.raises(DataError, match="candidate driver returns"):
        pipe.run(small_market.assets, None, date, windows=WINDOWS)
    # the same call with candidates works (the error is about the missing argument only)
    res = pipe.run(small_market.assets, small_market.candidates, date, windows=WINDOWS)
    assert res.weights.sum() == pytest.approx(1.0)
