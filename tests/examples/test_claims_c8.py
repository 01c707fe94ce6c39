"""Claim C8 (invariance under distribution shift) runs its whole code path on 2 small markets per
condition: tables with intervals, Holm-adjusted p-values, verdicts and the positive control's
outcome. The verdicts themselves are not checked (CI size)."""

from __future__ import annotations

import hashlib
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


def test_shift_map_pairs_every_arm_on_the_same_markets(tmp_path, monkeypatch):
    """The shift map (issue 21 item 4) on 2 tiny markets per condition: one row per condition x
    bounds x period x comparison, every comparison of a condition on the same markets, and common
    random numbers across conditions: a shift of the candidates only (``proxy_decouple``) leaves
    the markets' assets, and so HSP on the true drivers vs HRP, exactly as without a shift."""
    claims = _claims()
    monkeypatch.setattr(claims, "_pool", _Serial)
    monkeypatch.setattr(claims, "C8_QUICK", dict(claims.C8_QUICK, n_days=470, n_assets=12,
                                                 n_noise=2))
    study = claims.Study(quick=True, out=tmp_path, workers=1, n_boot=10)
    sm = claims.shift_map(study)
    conds = list(claims.QUICK_SHIFT_MAP)
    rows = sm["rows"]
    assert len(rows) == sm["n_tests"] == (len(conds) * len(claims.SHIFT_BOUNDS)
                                          * len(claims.SHIFT_PERIODS) * len(claims.SHIFT_EDGES))
    words = (claims.HOLDS, claims.FAILS, claims.UNSURE, claims.NO_DIFFERENCE)
    for r in rows:
        assert r["seeds"] == [0, 1] and r["n_markets"] == 2
        assert r["ci_low"] <= r["edge"] <= r["ci_high"], r
        assert 0.0 <= r["p_value"] <= r["p_adjusted"] <= 1.0, r
        assert r["verdict"] in words and r["half_width"] >= 0.0
    for c in conds:  # every arm, bound and period of a condition: the same two markets
        assert len({tuple(r["markets"]) for r in rows if r["condition"] == c}) == 1
    fp = {c: next(r["markets"] for r in rows if r["condition"] == c) for c in conds}
    plain = claims.synthetic_market(seed=0, **claims.C8_QUICK).assets.to_numpy(dtype=float)
    assert fp["none"][0] == hashlib.sha256(np.ascontiguousarray(plain).tobytes()).hexdigest()[:16]
    assert fp["proxy_decouple 1"] == fp["none"] != fp["driver_vol x2"]

    def edges(c: str) -> list[float]:
        return [r["edge"] for r in rows if r["condition"] == c
                and r["comparison"] == "tree: HSP on true drivers vs HRP"]

    assert edges("proxy_decouple 1") == edges("none") != edges("driver_vol x2")
    figures = claims.shift_figures(sm, tmp_path / "claims")
    assert figures[0].stat().st_size > 10_000
    text = "\n".join(claims.shift_lines(sm, study.command("shiftmap"), figures, tmp_path / "d.md"))
    assert "Command: `python examples/claims.py --quick --only shiftmap" in text
    assert text.count("\n| none | ") == len(claims.SHIFT_BOUNDS) * len(claims.SHIFT_PERIODS)
    assert "**Power.**" in text and "**In plain words:**" in text


def test_shift_verdicts_helps_hurts_does_not_matter():
    claims = _claims()
    row = {"edge": 0.001, "ci_low": -0.002, "ci_high": 0.004, "p_adjusted": 0.6}
    assert claims.shift_verdict(row) == claims.NO_DIFFERENCE  # inside +-0.5 pp: does not matter
    assert claims.shift_verdict({**row, "ci_high": 0.006}) == claims.UNSURE
    assert claims.shift_verdict({**row, "ci_low": 0.0005, "p_adjusted": 0.01}) == claims.HOLDS
    assert claims.shift_verdict({"edge": -0.01, "ci_low": -0.02, "ci_high": -0.004,
                                 "p_adjusted": 0.01}) == claims.FAILS
