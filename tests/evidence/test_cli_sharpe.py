"""``causalfolio backtest``/``demo`` print each strategy's Sharpe difference to the first
benchmark with its interval and p-value (engine/cli.py)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from causalfolio.cli import _sharpe_vs_benchmark
from causalfolio.evidence import sharpe_diff


def test_sharpe_lines_match_sharpe_diff():
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2020-01-01", periods=300)
    r = {"hsp": pd.Series(rng.normal(0.001, 0.01, 300), index=days),
         "equal": pd.Series(rng.normal(0.0, 0.01, 300), index=days),
         "hrp": pd.Series(rng.normal(0.0, 0.01, 300), index=days)}
    result = SimpleNamespace(strategies={k: SimpleNamespace(returns=v) for k, v in r.items()})
    text = _sharpe_vs_benchmark(result, "equal", n_boot=99)
    lines = text.splitlines()
    assert "minus that of equal" in lines[0] and len(lines) == 3
    want = sharpe_diff(r["hsp"], r["equal"], n_boot=99)
    m = re.search(r"hsp\s+([+-][\d.]+)\s+\[([+-][\d.]+), ([+-][\d.]+)\]\s+p=([\d.]+)", text)
    assert m is not None
    assert [float(g) for g in m.groups()] == pytest.approx(
        [want.estimate, want.ci_low, want.ci_high, want.p_value], abs=6e-4)
    assert not any(line.lstrip().startswith("equal") for line in lines[1:])
