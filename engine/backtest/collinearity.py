"""Near-collinearity of the selected drivers: variance inflation factors over the driver window.

A selector may pick drivers that move together (e.g. two equity indices). The sensitivities
estimated on them are then poorly identified: their sum is stable, their split is not, and it can
flip sign from one rebalance to the next. The backtest records the variance inflation factor
(VIF) of every selected driver at each new selection (``universe.vif`` in the run folder) and
warns with :class:`~causalfolio.errors.CollinearDriversWarning` when one exceeds
:data:`VIF_LIMIT`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

VIF_LIMIT = 10.0
"""The usual rule of thumb: VIF above 10 (R^2 above 0.9 on the other drivers) is near-collinear."""


def variance_inflation(x: pd.DataFrame) -> pd.Series:
    """Variance inflation factor of every column: ``1 / (1 - R^2_j)``, R^2_j of the least-squares
    regression (with intercept) of column j on the other columns.

    Rows with a NaN are dropped. A column the others explain exactly gets ``inf``; a constant
    column, or fewer rows than columns + 1, gets NaN (undefined). With one column: 1.
    """
    x = x.dropna()
    cols = list(x.columns)
    out = pd.Series(np.nan, index=cols, dtype=float)
    a = x.to_numpy(float)
    n, k = a.shape
    if k == 1 and n > 1:
        return pd.Series(1.0, index=cols)
    if n <= k:
        return out
    for j in range(k):
        y = a[:, j] - a[:, j].mean()
        sst = float(y @ y)
        if sst <= 0.0:
            continue
        others = np.column_stack([np.ones(n), np.delete(a, j, axis=1)])
        beta, *_ = np.linalg.lstsq(others, a[:, j], rcond=None)
        resid = a[:, j] - others @ beta
        r2 = 1.0 - float(resid @ resid) / sst
        out.iloc[j] = np.inf if r2 >= 1.0 - 1e-12 else 1.0 / (1.0 - r2)
    return out


def selected_vif(candidates: pd.DataFrame, names: Sequence[str], window: int
                 ) -> dict[str, float | str]:
    """VIF of the selected ``names`` over the last ``window`` rows of ``candidates`` (the data
    the selector saw); empty with fewer than two names. Undefined values are left out; an
    exact collinearity is the string ``"inf"`` (JSON has no infinity)."""
    names = [n for n in names if n in candidates.columns]
    if len(names) < 2:
        return {}
    v = variance_inflation(candidates[names].iloc[-window:])
    return {str(k): (float(val) if np.isfinite(val) else "inf") for k, val in v.items()
            if not np.isnan(val)}


def collinear(vif: Mapping[str, Any] | None, limit: float = VIF_LIMIT) -> list[tuple[str, float]]:
    """The (driver, VIF) pairs above ``limit``, largest first."""
    out = []
    for k, v in (vif or {}).items():
        try:
            x = float(v)  # "inf" for an exact collinearity
        except (TypeError, ValueError):
            continue
        if x > limit:
            out.append((str(k), x))
    return sorted(out, key=lambda kv: -kv[1])


def describe(label: str, flagged: Sequence[tuple[str, list[tuple[str, float]]]],
             n_selections: int) -> str:
    """One sentence for the warning and the report: at how many selections, and which drivers."""
    date, pairs = flagged[0]
    named = ", ".join(f"{k} (VIF {v:.1f})" if np.isfinite(v) else f"{k} (VIF inf)"
                      for k, v in pairs)
    return (f"{label}: the selected drivers are near-collinear (variance inflation factor above "
            f"{VIF_LIMIT:g}) at {len(flagged)} of {n_selections} selections, first on {date}: "
            f"{named}; their sensitivities are poorly identified and may flip sign from one "
            "rebalance to the next (select fewer or less related drivers)")
