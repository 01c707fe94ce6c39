"""``causalfolio backtest``/``demo`` print each strategy's Sharpe difference to the first
benchmark with its interval and p-value (engine/cli.py)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from causalfolio.cli import _sharpe_vs_benchmark
from causalfolio.evidence import sharpe_diff, volatility_diff


def test_sharpe_lines_match_sharpe_diff():
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2020-01-01", periods=300)
    r = {"hsp": pd.Series(rng.normal(0.001, 0.01, 300), index=days),
         "equal": pd.Series(rng.normal(0.0, 0.01, 300), index=days),
         "hrp": pd.Series(rng.normal(0.0, 0.01, 300), index=days)}
    result = SimpleNamespace(strategies={k: SimpleNamespace(returns=v) for k, v in r.items()})
    text = _sharpe_vs_benchmark(result, "equal", n_boot=99)
    lines = text.split("annualised volatility minus", 1)[0].splitlines()
    assert "minus that of equal" in lines[0] and len(lines) == 3
    want = sharpe_diff(r["hsp"], r["equal"], n_boot=99)
    m = re.search(r"hsp\s+([+-][\d.]+)\s+\[([+-][\d.]+), ([+-][\d.]+)\]\s+p=([\d.]+)", text)
    assert m is not None
    assert [float(g) for g in m.groups()] == pytest.approx(
        [want.estimate, want.ci_low, want.ci_high, want.p_value], abs=6e-4)
    assert not any(line.lstrip().startswith("equal") for line in lines[1:])
    # the risk difference follows, in percentage points, with the short-sample note once
    risk = text.split("annualised volatility minus that of equal", 1)[1]
    v = volatility_diff(r["hrp"].to_numpy(), r["equal"].to_numpy()).info
    m = re.search(r"hrp\s+([+-][\d.]+) pp\s+\[([+-][\d.]+), ([+-][\d.]+)\]", risk)
    assert m is not None
    assert [float(g) for g in m.groups()] == pytest.approx(
        [100 * v["vol_diff"], 100 * v["vol_ci_low"], 100 * v["vol_ci_high"]], abs=6e-3)
    assert risk.count("note: fewer than 2000 days") == 1


def test_p_values_below_1e_4_print_as_a_bound():
    from causalfolio.ablation.cli import format_comparisons
    from causalfolio.evidence import format_p

    assert [format_p(v) for v in (1.99e-111, 0.0, 9.9e-5, 1e-4, 0.00042, 0.0123, 1.0)] == [
        "< 1e-4", "< 1e-4", "< 1e-4", "0.0001", "0.0004", "0.012", "1.000"]
    assert format_p(float("nan")) == format_p(None) == "n/a"
    comp = pd.DataFrame({"label": ["a", "b"], "metric": "sharpe", "diff": [0.5, 0.1],
                         "ci_low": [0.4, -0.2], "ci_high": [0.6, 0.4],
                         "p_value": [1.99e-111, 0.5], "p_adjusted": [0.0, 0.5]})
    text = format_comparisons(comp, "equal")
    assert "< 1e-4" in text and "e-111" not in text and " 0.000 " not in text
