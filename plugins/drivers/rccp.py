"""``rccp``: inverse-engineered Reichenbach common-cause selection by correlation (SPEC §1a).

Algorithm 1 of monograph §5.4.1: C[k, i] = corr(X_k, Y_i); R[k, i] = 1{|C[k, i]| >= eps};
repeatedness R(X_k) = sum_i R[k, i]; strength S(X_k) = sum_i |C[k, i]| R[k, i]; candidates are
ranked by (R, S) descending and the top k kept. With eps = 0 this is "sum the absolute
correlations with all constituents, take the top k" (§9.1).

Lags (Appendix D, eq. 120): with several lags, X_k is specific to Y_i when corr(Y_i(t), X_k(t-l))
passes the threshold T_l of every lag (``combine='all'``, the monograph) or of one of them
(``combine='any'``); its strength is then the largest |corr| over the lags. ``calibrate=True``
sets one threshold for all lags so that exactly k candidates are specific to at least one
constituent (ties aside). SELECT (SPEC §1a Decision, Remark 5): an exclusion list, removal of
candidates that nearly duplicate a constituent, and a multicollinearity filter against the drivers
already selected, applied while walking the OPT ranking.
"""

from __future__ import annotations

from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import DataError, ParameterError
from causalfolio.params import in_range, non_empty, non_negative, param, positive, unique_items
from causalfolio.plugins.drivers._common import (
    align_lags,
    check_inputs,
    check_names,
    constant_columns,
    correlation_matrix,
)
from causalfolio.stages import DriverSelection, DriverSelector

__all__ = ["Rccp", "correlation_matrix", "rank_candidates", "rccp_scores"]


def rccp_scores(corr: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeatedness R (M,), strength S (M,) and the indicator matrix R[k, i] (M, N)."""
    a = np.abs(corr)
    ind = a >= eps
    return ind.sum(axis=1), (a * ind).sum(axis=1), ind


def rank_candidates(repeat: np.ndarray, strength: np.ndarray, names: list[str]) -> np.ndarray:
    """Indices sorted by repeatedness, then strength, descending; ties by name (deterministic)."""
    return np.array(sorted(range(len(names)),
                           key=lambda k: (-repeat[k], -round(float(strength[k]), 12), names[k])))


def lagged_scores(corrs: list[np.ndarray], thresholds: list[float], *, signed: bool,
                  combine: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Appendix D scores from per-lag correlation matrices (each (M, N)).

    Returns repeatedness (M,), strength (M,) and the indicator (M, N). With one lag and
    ``signed=False`` this equals :func:`rccp_scores`.
    """
    vals = [c if signed else np.abs(c) for c in corrs]
    passes = [v >= t for v, t in zip(vals, thresholds, strict=True)]
    ind = np.logical_and.reduce(passes) if combine == "all" else np.logical_or.reduce(passes)
    size = np.max(np.stack(vals), axis=0)
    return ind.sum(axis=1), (size * ind).sum(axis=1), ind


def calibrated_threshold(corrs: list[np.ndarray], k: int, eligible: np.ndarray, *,
                         signed: bool, combine: str) -> float:
    """The largest common threshold T (for all lags) such that at least k eligible candidates are
    specific to at least one constituent: the k-th largest of max_i combine_l(corr_l[m, i])."""
    vals = np.stack([c if signed else np.abs(c) for c in corrs])
    per = vals.min(axis=0) if combine == "all" else vals.max(axis=0)
    best = np.sort(per.max(axis=1)[eligible])[::-1]
    return float(max(best[k - 1], 0.0))


@attrs.define(frozen=True, kw_only=True)
class Rccp(DriverSelector):
    """Common drivers by correlation repeatedness and strength (Algorithm 1, §5.4.1)."""

    name = "rccp"

    k: int = param(10, doc="number of drivers to select", validator=positive)
    eps: float = param(0.0, doc="correlation threshold for 'X_k is related to Y_i' (|corr| >= eps)",
                       validator=in_range(0.0, 1.0))
    window: int | None = param(None, doc="selection window in trading days (default: the "
                                         "backtest's driver window)", validator=positive)
    signed: bool = param(False, doc="use signed correlations (corr >= eps) instead of |corr|")
    lags: tuple[int, ...] = param((0,), doc="lags l of the candidates, X(t-l) vs Y(t) "
                                  "(Appendix D: [0], [1] or [0,1])",
                                  validator=[non_empty, unique_items, non_negative])
    thresholds: tuple[float, ...] | None = param(
        None, doc="per-lag thresholds T_l, one per entry of lags (default: eps for every lag)",
        validator=in_range(0.0, 1.0))
    combine: Literal["all", "any"] = param(
        "all", doc="with several lags, specific when every lag passes ('all', eq. 120) or one does")
    calibrate: bool = param(False, doc="set one threshold for all lags so that about k "
                                       "candidates pass (overrides eps)")
    exclude: tuple[str, ...] = param((), doc="SELECT: candidate names never selected")
    max_asset_corr: float | None = param(
        None, doc="SELECT: drop candidates with |corr| >= this with some constituent (lag 0): "
                  "they nearly duplicate it", validator=in_range(0.0, 1.0, lo_open=True))
    max_r2: float | None = param(
        None, doc="SELECT: skip a candidate whose R^2 on the drivers already selected is >= this",
        validator=in_range(0.0, 1.0, lo_open=True))

    def validate(self) -> None:
        if self.thresholds is not None and len(self.thresholds) != len(self.lags):
            raise ParameterError(f"rccp: parameter 'thresholds' needs one value per lag "
                                 f"({len(self.lags)}), got {list(self.thresholds)}")
        if self.calibrate and self.thresholds is not None:
            raise ParameterError("rccp: parameter 'thresholds' cannot be combined with "
                                 "calibrate=true, which sets the thresholds itself")

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        y, x = check_inputs("rccp", assets, candidates, k=self.k, min_rows=max(self.lags) + 2)
        names = [str(c) for c in candidates.columns]
        check_names("rccp", "exclude names", self.exclude, names)
        ya, xl = align_lags(y, x, self.lags)
        corrs = [correlation_matrix(xl[lag], ya) for lag in self.lags]
        status = np.array(["eligible"] * len(names), dtype=object)
        status[constant_columns(x)] = "constant"
        status[[names.index(n) for n in self.exclude]] = "excluded"
        c0 = np.abs(correlation_matrix(x, y)).max(axis=1)
        if self.max_asset_corr is not None:
            status[(status == "eligible") & (c0 >= self.max_asset_corr)] = "duplicate"
        thresholds = list(self.thresholds) if self.thresholds is not None else \
            [self.eps] * len(self.lags)
        if self.calibrate:
            eligible = status == "eligible"
            if eligible.sum() < self.k:
                self._shortfall(status)
            thresholds = [calibrated_threshold(corrs, self.k, eligible, signed=self.signed,
                                               combine=self.combine)] * len(self.lags)
        if len(self.lags) == 1 and not self.signed:
            repeat, strength, ind = rccp_scores(corrs[0], thresholds[0])
        else:
            repeat, strength, ind = lagged_scores(corrs, thresholds, signed=self.signed,
                                                  combine=self.combine)
        order = rank_candidates(repeat, strength, names)
        chosen, r2 = self._walk(order, status, x)
        if len(chosen) < self.k:
            self._shortfall(status)
        status[chosen] = "selected"
        scores = pd.DataFrame({"repeatedness": repeat, "strength": strength,
                               "rank": np.argsort(order) + 1, "status": status,
                               "max_asset_corr": c0, "r2_on_selected": r2}, index=names)
        specific = {names[j]: tuple(str(a) for a in assets.columns[ind[j]]) for j in chosen}
        removed = {s: [n for n, st in zip(names, status, strict=True) if st == s]
                   for s in ("excluded", "duplicate", "collinear", "constant")}
        return DriverSelection(
            names=[names[j] for j in chosen], scores=scores, specific_to=specific,
            objective=float(strength[chosen].sum()),
            info={"eps": self.eps, "thresholds": [float(t) for t in thresholds],
                  "lags": list(self.lags), "combine": self.combine, "signed": self.signed,
                  "calibrated": self.calibrate, "n_candidates": len(names),
                  "mode": "select" if self._filters() else "opt", "removed": removed},
        )

    def _filters(self) -> bool:
        return bool(self.exclude) or self.max_asset_corr is not None or self.max_r2 is not None

    def _walk(self, order: np.ndarray, status: np.ndarray, x: np.ndarray
              ) -> tuple[list[int], np.ndarray]:
        """Take eligible candidates in ranking order, skipping collinear ones (max_r2)."""
        r2 = np.full(len(order), np.nan)
        chosen: list[int] = []
        basis = np.zeros((x.shape[0], 0))
        for j in order:
            if len(chosen) == self.k:
                break
            if status[j] != "eligible":
                continue
            if self.max_r2 is not None:
                v = x[:, j] - x[:, j].mean()
                ss = float(v @ v)
                resid = v - basis @ (basis.T @ v)
                r2[j] = 1.0 - float(resid @ resid) / ss if ss > 0 else 1.0
                if r2[j] >= self.max_r2:
                    status[j] = "collinear"
                    continue
                norm = np.sqrt(float(resid @ resid))
                if norm > 0:
                    basis = np.column_stack([basis, resid / norm])
            chosen.append(int(j))
        return chosen, r2

    def _shortfall(self, status: np.ndarray) -> None:
        counts = {s: int((status == s).sum()) for s in
                  ("eligible", "excluded", "duplicate", "collinear", "constant")}
        raise DataError(f"rccp: fewer than k={self.k} candidates can be selected ({counts}); "
                        "lower k, relax the SELECT filters or add candidates")


@hookimpl
def register_drivers(register):
    register(Rccp)
