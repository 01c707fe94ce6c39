"""Fixtures of the evidence tests: a synthetic study (results table + daily returns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from causalfolio.evidence import max_drawdown


def make_study(n_markets: int = 3, n_days: int = 300, *, edge: float = 0.0, seed: int = 0,
               identical: bool = True) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Two factors (mapping in {a, b, c} x forecasting in {static, vasicek}) + benchmark 'equal'.

    Every pipeline is noise around the benchmark; mapping 'a' earns ``edge`` per day more. With
    ``identical``, 'vasicek' arms return exactly the 'static' arm's returns (identical arms).
    """
    rng = np.random.default_rng(seed)
    rows, rets = [], {}
    combos = [("equal", True, None, None)]
    combos += [(f"{m}|{f}", False, m, f) for m in "abc" for f in ("static", "vasicek")]
    for k in range(n_markets):
        market = f"m{k}"
        common = rng.normal(0.0003, 0.01, n_days)
        cols = {}
        for label, bench, mapping, fc in combos:
            cid = label.replace("|", "-")
            if bench:
                r = common
            elif fc == "vasicek" and identical:
                r = cols[f"{mapping}-static"]
            else:
                r = common + rng.normal(0, 0.004, n_days) + (edge if mapping == "a" else 0.0)
            cols[cid] = r
            sr = r.mean() / r.std(ddof=1) * np.sqrt(252)
            ident = (f"{mapping}|static" if (fc == "vasicek" and identical) else None)
            rows.append({"market": market, "id": cid, "label": label, "benchmark": bench,
                         "status": "ok", "identical_to": ident, "mapping": mapping,
                         "forecasting": fc, "sharpe": sr,
                         "total_return": float(np.prod(1 + r) - 1),
                         "annual_volatility": r.std(ddof=1) * np.sqrt(252),
                         "max_drawdown": max_drawdown(r),
                         "turnover": 0.0 if bench else 0.1 + 0.01 * k})
        dates = pd.bdate_range("2020-01-01", periods=n_days)
        rets[market] = pd.DataFrame(cols, index=dates)
    return pd.DataFrame(rows), rets


@pytest.fixture(scope="session")
def study():
    """The :func:`make_study` factory."""
    return make_study
