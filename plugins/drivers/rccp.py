"""``rccp``: inverse-engineered Reichenbach common-cause selection by correlation (SPEC §1a).

Algorithm 1 of monograph §5.4.1: C[k, i] = corr(X_k, Y_i); R[k, i] = 1{|C[k, i]| >= eps};
repeatedness R(X_k) = sum_i R[k, i]; strength S(X_k) = sum_i |C[k, i]| R[k, i]; candidates are
ranked by (R, S) descending and the top k kept. With eps = 0 this is "sum the absolute
correlations with all constituents, take the top k" (§9.1).
"""

from __future__ import annotations

import attrs
import numpy as np
import pandas as pd
from causalfolio import hookimpl
from causalfolio.errors import DataError
from causalfolio.params import in_range, param, positive
from causalfolio.stages import DriverSelection, DriverSelector


def correlation_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlations of every column of x (T, M) with every column of y (T, N): (M, N).

    A constant column has no correlation: its row (or column) is 0.
    """
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    sx = np.sqrt((xc**2).sum(axis=0))
    sy = np.sqrt((yc**2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (xc.T @ yc) / np.outer(sx, sy)
    c[~np.isfinite(c)] = 0.0
    return np.clip(c, -1.0, 1.0)


def rccp_scores(corr: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeatedness R (M,), strength S (M,) and the indicator matrix R[k, i] (M, N)."""
    a = np.abs(corr)
    ind = a >= eps
    return ind.sum(axis=1), (a * ind).sum(axis=1), ind


def rank_candidates(repeat: np.ndarray, strength: np.ndarray, names: list[str]) -> np.ndarray:
    """Indices sorted by repeatedness, then strength, descending; ties by name (deterministic)."""
    return np.array(sorted(range(len(names)),
                           key=lambda k: (-repeat[k], -round(float(strength[k]), 12), names[k])))


@attrs.define(frozen=True, kw_only=True)
class Rccp(DriverSelector):
    """Common drivers by correlation repeatedness and strength (Algorithm 1, §5.4.1)."""

    name = "rccp"

    k: int = param(10, doc="number of drivers to select", validator=positive)
    eps: float = param(0.0, doc="correlation threshold for 'X_k is related to Y_i' (|corr| >= eps)",
                       validator=in_range(0.0, 1.0))
    window: int | None = param(None, doc="selection window in trading days (default: the "
                                         "backtest's driver window)", validator=positive)

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        if self.k > candidates.shape[1]:
            raise DataError(f"rccp: k={self.k} but only {candidates.shape[1]} candidate drivers; "
                            "lower k or add candidates")
        corr = correlation_matrix(candidates.to_numpy(float), assets.to_numpy(float))
        repeat, strength, ind = rccp_scores(corr, self.eps)
        names = list(candidates.columns)
        order = rank_candidates(repeat, strength, names)
        chosen = [names[k] for k in order[: self.k]]
        scores = pd.DataFrame({"repeatedness": repeat, "strength": strength,
                               "rank": np.argsort(order) + 1}, index=names)
        specific = {names[k]: tuple(assets.columns[ind[k]]) for k in order[: self.k]}
        return DriverSelection(names=chosen, scores=scores, specific_to=specific,
                               objective=float(strength[order[: self.k]].sum()),
                               info={"eps": self.eps, "n_candidates": len(names)})


@hookimpl
def register_drivers(register):
    register(Rccp)
