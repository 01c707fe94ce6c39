"""fixed; every selector registered, documented, usable in a spec and in a pipeline run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import causalfolio as cf
from causalfolio.errors import DataError, ParameterError
from causalfolio.plugins.drivers.fixed import Fixed
from causalfolio.registry import get_registry

SELECTORS = ("rccp", "greedy", "dp", "mlcorr", "bayesnet", "fixed")
DOC = Path(__file__).resolve().parents[2] / "docs" / "components" / "drivers.md"


def test_fixed_selects_given_names_with_evidence(small_market):
    a, c = small_market.assets.iloc[-120:], small_market.candidates.iloc[-120:]
    names = list(c.columns[[3, 0]])
    sel = Fixed(names=names).select(a, c, seed=0)
    assert sel.names == tuple(names)
    corr = [np.abs([np.corrcoef(c[n], a[s])[0, 1] for s in a]).sum() for n in names]
    np.testing.assert_allclose(sel.scores["strength"], corr, rtol=1e-10)
    with pytest.raises(DataError, match=r"\['nope'\] not among the candidate drivers; "
                                        r"available: X"):
        Fixed(names=[names[0], "nope"]).select(a, c, seed=0)
    with pytest.raises(DataError, match="constant"):
        Fixed(names=["K"]).select(a, c.assign(K=1.0), seed=0)
    with pytest.raises(ParameterError, match="must not repeat"):
        Fixed(names=[names[0], names[0]])
    with pytest.raises(ParameterError, match="must not be empty"):
        Fixed(names=[])


def test_all_selectors_registered_and_documented():
    reg = get_registry()
    assert set(SELECTORS) <= set(reg.names("drivers"))
    text = DOC.read_text()
    for name in SELECTORS:
        assert re.search(rf"^### `{name}`\s*$", text, re.M), name
        cls = reg.get("drivers", name)
        for p in cls.parameters():  # every parameter appears in the component's table
            section = text.split(f"### `{name}`")[1].split("\n### ")[0]
            assert f"`{p.name}`" in section, (name, p.name)


@pytest.mark.parametrize("spec", ["rccp(k=3,lags=[0,1],combine='any')", "greedy(k=3)",
                                  "dp(k=2,prescreen=10)", "mlcorr(k=3)",
                                  "bayesnet(k=2,prescreen=6)", "fixed(names=['X001'])"])
def test_pipeline_run_with_each_selector(small_market, spec):
    p = cf.parse_spec(spec + "|linear|beta|static|hsp")
    date = small_market.dates[300]
    out = p.run(small_market.assets, small_market.candidates, date, seed=0)
    assert out.selection is not None and len(out.selection.names) >= 1
    assert out.weights.sum() == pytest.approx(1.0)
    json.dumps(dict(out.selection.info))
    assert list(out.selection.scores.index) == list(small_market.candidates.columns) or \
        spec.startswith("fixed")


@pytest.mark.parametrize("spec", ["rccp", "greedy", "dp", "mlcorr", "bayesnet"])
def test_bad_input_is_a_specific_error_for_every_selector(spec):
    import pandas as pd

    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2022-01-03", periods=60)
    f = rng.normal(size=(60, 2))
    y = pd.DataFrame(f @ rng.uniform(0.5, 1, (2, 4)) + rng.normal(size=(60, 4)), index=idx,
                     columns=[f"A{i}" for i in range(4)])
    x = pd.DataFrame({"F0": f[:, 0], "F1": f[:, 1], "N": rng.normal(size=60)}, index=idx)
    sel = cf.parse_spec(f"{spec}(k=2)|linear|beta|static|hsp").drivers
    with pytest.raises(DataError, match="k=4 but only 3 candidate"):
        sel.with_params(k=4).select(y, x, seed=0)
    with pytest.raises(DataError, match="constant"):  # all candidates constant
        sel.select(y, pd.DataFrame(1.0, index=idx, columns=["C0", "C1", "C2"]), seed=0)
    with pytest.raises(DataError, match="NaN"):
        sel.select(y, x.assign(N=np.where(np.arange(60) == 5, np.nan, x["N"])), seed=0)
    # perfectly collinear candidates: never both selected (rccp: with its max_r2 filter)
    dup = x.assign(F0b=2.0 * x["F0"] - 1.0)
    s = (sel.with_params(max_r2=0.99) if spec == "rccp" else sel).select(y, dup, seed=0)
    assert not {"F0", "F0b"} <= set(s.names)
    # more candidates than observations
    wide = pd.concat([x, pd.DataFrame(rng.normal(size=(60, 80)), index=idx,
                                      columns=[f"Z{i}" for i in range(80)])], axis=1)
    s = sel.select(y.iloc[-40:], wide.iloc[-40:], seed=0)
    assert 1 <= len(s.names) <= 2
