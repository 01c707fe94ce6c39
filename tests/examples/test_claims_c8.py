"""Claim C8 (invariance under distribution shift) runs its whole code path on 2 small markets per
condition: tables with intervals, Holm-adjusted p-values, verdicts and the positive control's
outcome. The verdicts themselves are not checked (CI size)."""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import Executor, Future
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


class _Serial(Executor):
    """In-process stand-in for the study's process pool (no spawn start-up in CI)."""

    def __init__(self, *_: object, **__: object) -> None:
        pass

    def submit(self, fn, *args, **kwargs):  # type: ignore[override]
        f: Future = Future()
        f.set_result(fn(*args, **kwargs))
        return f


def _claims():
    spec = importlib.util.spec_from_file_location("claims_c8", ROOT / "examples" / "claims.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["claims_c8"] = module
    spec.loader.exec_module(module)
    return module


def test_c8_tables_intervals_holm_and_the_positive_control(tmp_path, monkeypatch):
    claims = _claims()
    monkeypatch.setattr(claims, "_pool", _Serial)
    monkeypatch.setattr(claims, "C8_QUICK", dict(claims.C8_QUICK, n_days=470, n_assets=6,
                                                 n_noise=2))
    study = claims.Study(quick=True, out=tmp_path, workers=1, n_boot=10)
    c8 = claims.claim_c8(study)
    assert set(c8["tables"]) == set(claims.C8_CONDITIONS)
    for cond, arms in c8["tables"].items():
        assert set(arms) == set(claims.C8_ARMS)
        lo, m, hi = (arms["true drivers"]["risk_error_model"][k] for k in (1, 0, 2))
        assert lo <= m <= hi and np.isfinite(m), cond
        assert np.isnan(arms["hrp"]["risk_error_model"][0])  # HRP has no model covariance
    # the true-driver arm does not see shifts of the candidates only: identical numbers
    same = c8["tables"]["proxies decouple, colliders rewire"]["true drivers"]
    assert same == c8["tables"]["no shift"]["true drivers"]
    assert {r["condition"] for r in c8["rows"]} == set(claims.C8_CONDITIONS) - {
        "control markets, no shift"}
    for r in c8["rows"]:
        assert r["ci_low"] <= r["edge"] <= r["ci_high"] or r["n_markets"] < 2, r
        assert 0.0 <= r["p_value"] <= r["p_adjusted"] <= 1.0, r
        assert r["verdict"] in (claims.HOLDS, claims.FAILS, claims.UNSURE)
    assert isinstance(c8["positive_control_detected"], bool)
    assert ("was detected" in c8["reason"]) == c8["positive_control_detected"]
    text = "\n".join(claims._c8_lines(c8))
    assert "positive control" in text and "| hrp | n/a | n/a |" in text
