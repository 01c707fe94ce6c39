"""Identical arms: combinations of one market whose portfolios are the same at every rebalance.

Two arms are identical when their target weights agree to ``TOL`` (absolute, 1e-12) at every
rebalance date of the market and they are simulated alike (same ``cost_bps`` and ``drift``), so
their returns are the same series: e.g. ``{static,vasicek}`` after ``linear|beta``, whose
sensitivities are constant. The statistics count each group once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .grid import Combination

TOL = 1e-12
"""Largest absolute weight difference at which two arms count as identical."""

SIMULATION_AXES = ("cost_bps", "drift")
"""Settings that change the returns of given weights (arms must agree on them to be identical)."""


def same_weights(a: pd.DataFrame, b: pd.DataFrame, tol: float = TOL) -> bool:
    """True when both weight frames have the same dates and assets and agree to ``tol``."""
    if a.shape != b.shape or not a.index.equals(b.index):
        return False
    if not a.columns.equals(b.columns):
        if set(a.columns) != set(b.columns):
            return False
        b = b[a.columns]
    x, y = a.to_numpy(float), b.to_numpy(float)
    return bool(np.all(np.abs(x - y) <= tol))


def identical_to(combos: Sequence[Combination], weights: Mapping[str, pd.DataFrame],
                 tol: float = TOL) -> dict[str, str | None]:
    """Combination id -> label of the first identical combination in grid order (``None`` for
    the first member of a group, for a combination without weights and for one alone).

    ``weights``: combination id -> target weights (rebalance dates x assets) on one market;
    combinations missing from it (failed, not run) are never grouped.
    """
    reps: list[tuple[tuple, Combination, pd.DataFrame]] = []
    out: dict[str, str | None] = {}
    for c in combos:
        w = weights.get(c.id)
        out[c.id] = None
        if w is None:
            continue
        sim = tuple(c.value(a) for a in SIMULATION_AXES)
        for rsim, rc, rw in reps:
            if rsim == sim and same_weights(rw, w, tol):
                out[c.id] = rc.label
                break
        else:
            reps.append((sim, c, w))
    return out
