"""Data layer: reading, validation errors, transforms, alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causalfolio.data import Market, apply_transforms, read_table, write_table
from causalfolio.errors import DataError


def _frame(values, start="2021-01-04", cols=("a", "b")):
    idx = pd.bdate_range(start, periods=len(values), name="date")
    return pd.DataFrame(values, index=idx, columns=list(cols), dtype=float)


def test_read_csv_and_parquet_round_trip(tmp_path):
    f = _frame([[100, 50], [101, 49.5], [102.01, 50]])
    for name in ("x.csv", "x.parquet"):
        write_table(f, tmp_path / name)
        back = read_table(tmp_path / name)
        pd.testing.assert_frame_equal(back, f, check_freq=False)


@pytest.mark.parametrize("text,fragment", [
    ("date,a\n2021-01-04,1\nnot-a-date,2\n", "unparseable date 'not-a-date' in row 2"),
    ("date\n2021-01-04\n", "no data"),
])
def test_read_errors(tmp_path, text, fragment):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=fragment):
        read_table(p)


def test_read_missing_and_unknown_type(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "none.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        read_table(tmp_path / "x.xlsx")


def _market(a, c, **kw):
    return Market.from_frames(a, c, **kw)


GOOD_C = _frame([[1, 2], [1.1, 2.2], [1.05, 2.1], [1.2, 2.0]], cols=("x", "y"))
GOOD_A = _frame([[10, 20], [11, 19], [10.5, 19.5], [10.8, 20.5]])


def test_returns_by_percentage_change():
    m = _market(GOOD_A, GOOD_C)
    assert np.allclose(m.assets["a"].to_numpy(), [0.1, 10.5 / 11 - 1, 10.8 / 10.5 - 1])
    assert m.assets.index[0] == GOOD_A.index[1]


def test_transforms_per_series():
    levels = _frame([[1.0, 0.5], [1.5, -0.25], [0.75, 0.0]], cols=("px", "yield"))
    out = apply_transforms(levels, {"yield": "diff", "px": "log"})
    assert np.allclose(out["yield"], [-0.75, 0.25])
    assert np.allclose(out["px"], np.log([1.5, 0.5]))
    with pytest.raises(DataError, match=r"'yield' has a non-positive level -0.25 on 2021-01-05.*"
                                        r"use transform 'diff'"):
        apply_transforms(levels, "pct", what="candidates")
    with pytest.raises(DataError, match="unknown transform 'logit'"):
        apply_transforms(levels, {"px": "logit"})


@pytest.mark.parametrize("mutate,fragment", [
    (lambda a: a.iloc[[0, 2, 1, 3]], "dates are not sorted"),
    (lambda a: pd.concat([a, a.iloc[[1]]]).sort_index(), "duplicate date 2021-01-05"),
    (lambda a: a.assign(a=["1", "x", "2", "3"]), "non-numeric value 'x' on 2021-01-05"),
    (lambda a: a.assign(a=[1.0, np.inf, 2.0, 3.0]), "infinite value on 2021-01-05"),
    (lambda a: a.assign(a=[1.0, np.nan, 2.0, 3.0]), "'a' is missing a value on 2021-01-05"),
    (lambda a: a.assign(b=5.0), "assets series 'b' is constant"),
    (lambda a: a.iloc[:0], "the frame is empty"),
    (lambda a: a.reset_index(drop=True), "the index must hold dates"),
    (lambda a: a.rename(columns={"b": "x"}), "names used both as asset and as candidate"),
])
def test_validation_errors(mutate, fragment):
    with pytest.raises(DataError, match=fragment):
        _market(mutate(GOOD_A), GOOD_C)


def test_nan_policies():
    a = GOOD_A.copy()
    a.iloc[1, 0] = np.nan
    ff = _market(a, GOOD_C, nan_policy="ffill")
    assert ff.assets["a"].iloc[0] == 0.0 and len(ff.dates) == 3
    dropped = _market(a, GOOD_C, nan_policy="drop")
    assert len(dropped.dates) == 2


def test_alignment_policies():
    c = GOOD_C.drop(GOOD_C.index[2])
    inner = _market(GOOD_A, c, kind="prices")
    assert len(inner.dates) == 2
    on_assets = _market(GOOD_A, c, align="assets")
    assert len(on_assets.dates) == 3
    # the missing candidate level is carried forward: zero return that day
    assert on_assets.candidates.loc[GOOD_A.index[2], "x"] == 0.0


def test_returns_kind_used_as_is():
    m = _market(GOOD_A.pct_change().iloc[1:], GOOD_C.pct_change().iloc[1:], kind="returns")
    assert len(m.dates) == 3 and np.isclose(m.assets["a"].iloc[0], 0.1)


def test_before_is_strict():
    m = _market(GOOD_A, GOOD_C)
    assert m.before(m.dates[1]).dates.tolist() == [m.dates[0]]
