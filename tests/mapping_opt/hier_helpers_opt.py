"""Random correlated returns with a date index (the skfolio comparisons)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_returns(n: int, t: int = 300, seed: int = 0) -> pd.DataFrame:
    """Correlated daily returns (t, n) with distinct volatilities; columns A00, A01, ..."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((t, n)) @ rng.standard_normal((n, n)) * 0.01
    return pd.DataFrame(x, columns=[f"A{i:02d}" for i in range(n)],
                        index=pd.bdate_range("2020-01-01", periods=t))
