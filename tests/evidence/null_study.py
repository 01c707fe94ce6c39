"""A study with no true difference between its arms, on a real-data-like path resampled as
``--resample stationary --replicas R`` does: the null the grid tests must respect.

Used by ``tests/evidence/test_calibration.py`` (CI size) and
``tests/benchmarks/bench_evidence.py`` (>= 200 simulations). Not a test module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from causalfolio.ablation.evidence import analyse_study
from causalfolio.ablation.markets import resample_indices
from causalfolio.evidence import auto_block_days, max_drawdown


def garch(rng: np.random.Generator, n: int, k: int, *, sd: float, alpha: float = 0.08,
          beta: float = 0.90, df: float | None = 5, burn: int = 500) -> np.ndarray:
    """(n x k) zero-mean GARCH(1,1) returns, one variance path per column, unconditional
    standard deviation ``sd`` (persistence ``alpha + beta``), Student-t(``df``) shocks scaled
    to unit variance (``df=None``: Gaussian)."""
    z = (rng.standard_normal((n + burn, k)) if df is None
         else rng.standard_t(df, (n + burn, k)) / np.sqrt(df / (df - 2)))
    om = sd ** 2 * (1 - alpha - beta)
    h = np.full(k, sd ** 2)
    out = np.empty((n + burn, k))
    for t in range(n + burn):
        out[t] = np.sqrt(h) * z[t]
        h = om + alpha * out[t] ** 2 + beta * h
    return out[burn:]


def null_study(rng: np.random.Generator, *, n_days: int = 750, n_arms: int = 6,
               replicas: int = 20, pooled: bool = False, seed: int = 0
               ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Results table and daily returns of ``n_arms`` arms (``ref``, a benchmark, and pipelines
    ``p1..``) with equal, zero expected returns and equal volatility: a common GARCH factor
    (1% a day) plus each arm's own GARCH noise (0.4% a day), on one path and its
    ``replicas - 1`` stationary-bootstrap replicas (the automatic block rule, arch indices, as
    ``--resample stationary``; each arm's returns are resampled on the same days).

    ``pooled=True`` drops the ``market.*`` columns: the replicas then look like independent
    markets (what the grid tests did before issue 22).
    """
    r = garch(rng, n_days, 1, sd=0.01) + garch(rng, n_days, n_arms, sd=0.004)
    ids = ["ref", *[f"p{i}" for i in range(1, n_arms)]]
    block = auto_block_days(r)
    days = pd.bdate_range("2015-01-01", periods=n_days)
    rows, returns = [], {}
    for rep in range(replicas):
        x = r[resample_indices(n_days, block, seed, rep)]
        m = f"replica={rep}"
        returns[m] = pd.DataFrame(x, index=days, columns=ids)
        sd = x.std(axis=0, ddof=1)
        for k, cid in enumerate(ids):
            rows.append({"market": m, "market.replica": rep, "market.block_days": block,
                         "market.resample": "stationary", "id": cid, "label": cid,
                         "benchmark": cid == "ref", "status": "ok", "identical_to": None,
                         "sharpe": x[:, k].mean() / sd[k] * np.sqrt(252),
                         "annual_volatility": sd[k] * np.sqrt(252),
                         "max_drawdown": max_drawdown(x[:, k]), "turnover": 0.0})
    table = pd.DataFrame(rows)
    if pooled:
        table = table.drop(columns=[c for c in table.columns if c.startswith("market.")])
    return table, returns


REJECTIONS = ("spa", "stepm", "mcs", "dsr", "holm")
"""What a null study must rarely reject: SPA (consistent p < 0.05), StepM (any superior at
FWER 5%), MCS (excludes any arm from the 90% set), DSR (p < 0.05), the Holm-adjusted Sharpe
comparisons with the reference (any adjusted p < 0.05)."""

NOMINAL = {"spa": 0.05, "stepm": 0.05, "mcs": 0.10, "dsr": 0.05, "holm": 0.05}


def rejections(table: pd.DataFrame, returns: dict[str, pd.DataFrame], *, n_boot: int,
               seed: int = 0) -> dict[str, bool]:
    """Which of :data:`REJECTIONS` the study's evidence rejects."""
    res = analyse_study(table, returns, reference="ref", factors=[], n_boot=n_boot, seed=seed)
    e = res.evidence
    sh = res.comparisons[res.comparisons["metric"] == "sharpe"]
    return {"spa": e["spa"]["pvalues"]["consistent"] < 0.05,
            "stepm": len(e["stepm"]["superior"]) > 0,
            "mcs": len(e["mcs"]["excluded"]) > 0,
            "dsr": bool(e["dsr"]["p_value"] < 0.05),
            "holm": bool((sh["p_adjusted"] < 0.05).any())}
