"""Library robustness: specific errors instead of asserts, value classes that compare safely."""

from __future__ import annotations

import attrs
import numpy as np
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


def test_no_assert_statements_in_library_code():
    """``python -O`` strips asserts and users get AssertionError otherwise: raise errors."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    for folder in ("engine", "plugins"):
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Assert):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []


def test_schur_failure_at_gamma_zero_is_a_numerical_error(monkeypatch):
    from causalfolio.errors import NumericalError
    from causalfolio.plugins.mapping import schur

    monkeypatch.setattr(schur, "schur_bisection", lambda *a, **k: (None, [], 0))
    with pytest.raises(NumericalError, match="gamma = 0"):
        schur.monotonic_gamma(np.eye(3), np.arange(3), 0.5, (0.0, 1.0))


def _check_identity_semantics(obj, twin):
    """Equality never raises, is identity for values holding arrays, and hashing works."""
    assert obj == obj and not (obj == twin) and obj != twin
    assert len({obj, twin, obj}) == 2
    assert isinstance(hash(obj), int)


def test_value_classes_holding_arrays_compare_and_hash(small_market):
    from causalfolio.backtest import BacktestConfig, run_backtest
    from causalfolio.data import Market

    m = small_market
    _check_identity_semantics(m, Market(m.assets.copy(), m.candidates.copy()))
    _check_identity_semantics(m.truth, attrs.evolve(m.truth))
    pipe = cf.parse_spec(SPEC)
    date = m.dates[200]
    a = pipe.run(m.assets, m.candidates, date, windows=WINDOWS)
    b = pipe.run(m.assets, m.candidates, date, windows=WINDOWS)
    assert np.array_equal(a.weights, b.weights)  # the same values...
    for name in ("selection", "sensitivities", "forecast", "allocation"):
        _check_identity_semantics(getattr(a, name), getattr(b, name))  # ...distinct objects
    _check_identity_semantics(a, b)
    cfg = BacktestConfig(windows=WINDOWS, bounds=(0.05, 0.4))
    r1, r2 = run_backtest(m, SPEC, cfg), run_backtest(m, SPEC, cfg)
    _check_identity_semantics(r1, r2)
    s1, s2 = (next(iter(r.strategies.values())) for r in (r1, r2))
    _check_identity_semantics(s1, s2)
