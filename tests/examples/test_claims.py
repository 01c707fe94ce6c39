"""The claims study runs end to end in CI size: every claim gets its table, intervals and a
verdict, the regime map its figures. The verdicts themselves are not checked (CI size)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("skfolio", reason="the claims study needs skfolio (pip install .[data])")
pytest.importorskip("arch", reason="the claims study needs arch (pip install .[data])")
pytest.importorskip("torch", reason="claim C7 fits neural nets (pip install .[nn])")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CLAIMS = ("C1", "C2", "C3", "C4", "C5", "C6", "C7")
VERDICTS = ("holds", "does not hold", "inconclusive")


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("claims")
    doc = out / "docs" / "claims.md"
    doc.parent.mkdir()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "claims.py"), "--quick", "--out",
         str(out / "run"), "--doc", str(doc), "--workers", "2"],
        capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, doc, json.loads((out / "run" / "claims.json").read_text())


def test_every_claim_has_a_table_with_intervals_and_a_verdict(quick_study):
    _, doc, results = quick_study
    text = doc.read_text()
    assert "CI-sized --quick run" in text
    for cid in CLAIMS:
        assert results[cid]["verdict"] in VERDICTS, cid
        section = text.split(f"## {cid}: ", 1)[1].split("\n## ", 1)[0]
        assert "Command: `python examples/claims.py --quick --only " + cid in section
        assert re.search(r"\*\*Verdict: (holds|does not hold|inconclusive)", section)
        rows = [r for r in section.splitlines() if r.startswith("| ") and " [" in r]
        assert rows, f"{cid}: no table row with an interval"
        for r in results[cid]["rows"]:
            assert r["ci_low"] <= r["edge"] <= r["ci_high"] or r.get("identical_to"), (cid, r)
            assert 0.0 <= r["p_value"] <= r["p_adjusted"] <= 1.0, (cid, r)
    assert results["C2"]["real"] and results["C2"]["real"][0]["rows"]
    assert "Verdicts" in text and text.count("| **") >= len(CLAIMS)


def test_the_evaluation_never_uses_the_development_seeds(quick_study):
    _, _, results = quick_study
    assert set(results["choose"]["dev_seeds"]).isdisjoint(range(0, 20))
    assert results["choose"]["chosen"] in results["choose"]["mean_sharpe"]


def test_linear_path_dependent_hsp_is_flagged_identical_to_static(quick_study):
    _, _, results = quick_study
    control = [r for r in results["C4"]["rows"] if "identical by construction" in r["comparison"]]
    assert control and all(r["identical_to"] for r in control)
    assert all(r["verdict"] == "does not hold" for r in control)


def test_regime_map_figures_and_tests(quick_study):
    out, doc, results = quick_study
    figures = sorted((doc.parent / "claims").glob("regime-*.png"))
    assert [p.name for p in figures] == ["regime-annual_volatility.png", "regime-sharpe.png"]
    assert all(p.stat().st_size > 10_000 for p in figures)
    text = doc.read_text()
    assert "![regime-sharpe](claims/regime-sharpe.png)" in text
    rg = results["regime"]
    cells = {(r["factor"], r["level"]) for r in rg["rows"]}
    assert len(cells) == sum(len(v) for v in rg["regimes"].values())
    assert rg["n_tests"] == len(rg["rows"])
    assert "**In plain words:**" in text


def test_the_demo_runs_the_pipeline_the_claims_study_recommends():
    """docs/claims.md's recommended pipeline and the demo's default spec never drift apart."""
    from causalfolio.cli import DEMO_SPEC

    section = (ROOT / "docs" / "claims.md").read_text().split("## The recommended pipeline", 1)[1]
    chosen = re.search(r"\*\*`([^`]+)`\*\*", section.split("\n## ", 1)[0]).group(1)
    assert chosen == DEMO_SPEC
