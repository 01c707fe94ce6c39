"""Numerics shared by the driver selectors (private module: not a registered component).

Conventions. ``assets`` Y is (T, N), ``candidates`` X is (T, M). A candidate "at lag l" is the
series X(t - l) aligned with Y(t); with lags L the first max(L) rows are dropped so that every
lag has a value. Correlation screening, the pool of the combinatorial methods and the residual
machinery below all work on such aligned, column-centred arrays.

Residual machinery (SPEC §1b). For a set S of inputs, E = (I - P_S) Y are the residuals of the
constituents after an OLS regression on S with intercept (centring), and C = E'E. Adding one input
x changes every residual by a rank-one update: with xr = (I - P_S) x and q = xr / |xr|,
E' = E - q (q'E) and C' = C - a a' with a = E'q. All candidates are therefore scored in one
matrix product A = E' Xr / |Xr| (N, P) instead of one regression per candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from causalfolio._lazy import np, pd
from causalfolio.errors import DataError

COLLINEAR_TOL = 1e-10
"""An input whose residual on the current set keeps less than this share of its sum of squares
(R^2 > 1 - 1e-10) is treated as collinear with the set and cannot be added."""

_CHUNK = 512


# --- input checks ---------------------------------------------------------------------------


def check_inputs(owner: str, assets: pd.DataFrame, candidates: pd.DataFrame, *,
                 k: int | None = None, min_rows: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Validate selector inputs and return them as float arrays (T, N) and (T, M).

    Raises
    ------
    DataError
        Not frames, different lengths, non-numeric values, NaN or inf, fewer than ``min_rows``
        rows, no constituents, or ``k`` larger than the number of candidates.
    """
    if not isinstance(assets, pd.DataFrame) or not isinstance(candidates, pd.DataFrame):
        raise DataError(f"{owner}: assets and candidates must be pandas DataFrames")
    if assets.shape[0] != candidates.shape[0]:
        raise DataError(f"{owner}: assets have {assets.shape[0]} rows but candidates "
                        f"{candidates.shape[0]}; pass both on the same dates")
    if assets.shape[1] < 2:
        raise DataError(f"{owner}: need at least 2 constituents, got {assets.shape[1]}")
    if candidates.shape[1] == 0:
        raise DataError(f"{owner}: no candidate drivers given")
    if k is not None and k > candidates.shape[1]:
        raise DataError(f"{owner}: k={k} but only {candidates.shape[1]} candidate drivers; "
                        "lower k or add candidates")
    if assets.shape[0] < min_rows:
        raise DataError(f"{owner}: {assets.shape[0]} observations, need at least {min_rows}; "
                        "use a longer selection window")
    out = []
    for label, frame in (("assets", assets), ("candidates", candidates)):
        try:
            arr = frame.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"{owner}: {label} contain non-numeric values") from None
        bad = ~np.isfinite(arr)
        if bad.any():
            cols = sorted({str(frame.columns[j]) for j in np.flatnonzero(bad.any(axis=0))})
            raise DataError(f"{owner}: {label} contain NaN or inf in {cols[:5]}; clean the data "
                            "or apply a NaN policy first")
        out.append(arr)
    return out[0], out[1]


def constant_columns(x: np.ndarray) -> np.ndarray:
    """Boolean mask (M,) of columns whose values are all equal (no information)."""
    return np.ptp(x, axis=0) == 0 if x.shape[0] else np.ones(x.shape[1], dtype=bool)


def check_names(owner: str, label: str, names: Sequence[str], available: Sequence[str]) -> None:
    """Raise DataError when some ``names`` are not among ``available`` (listing what is)."""
    have = set(available)
    missing = [n for n in names if n not in have]
    if missing:
        shown = ", ".join(map(str, list(available)[:20]))
        more = f" (and {len(available) - 20} more)" if len(available) > 20 else ""
        raise DataError(f"{owner}: {label} {missing} not among the candidate drivers; "
                        f"available: {shown}{more}")


# --- lags and correlations ------------------------------------------------------------------


def align_lags(y: np.ndarray, x: np.ndarray, lags: Sequence[int]
               ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Y(t) and X(t - l) for each lag l on common rows: (T - L, N) and {l: (T - L, M)}."""
    top = max(lags)
    t = y.shape[0]
    return y[top:], {lag: x[top - lag: t - lag] for lag in lags}


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


@attrs.frozen
class Pool:
    """Candidates prepared for a combinatorial search: one column per name, at its best lag.

    Attributes
    ----------
    y
        Centred constituent returns (T', N).
    x
        Centred candidate columns of the pool (T', P), in pool order.
    names
        Pool names (P), best screening strength first (ties by name).
    lags
        Lag of each pool column (P,).
    strength
        Sum over constituents of |corr| at the chosen lag, for every non-constant candidate.
    lag_of
        Chosen lag of every non-constant candidate.
    constant
        Names of the constant candidates (dropped).
    """

    y: np.ndarray
    x: np.ndarray
    names: list[str]
    lags: np.ndarray
    strength: dict[str, float]
    lag_of: dict[str, int]
    constant: list[str]


def build_pool(owner: str, assets: pd.DataFrame, candidates: pd.DataFrame, *, k: int,
               lags: Sequence[int], prescreen: int | None) -> Pool:
    """Screen candidates by correlation (rccp with eps = 0, SPEC §1b) and keep the top ones.

    Each candidate enters at the lag in ``lags`` where its summed absolute correlation with the
    constituents is largest (ties: the smaller lag). Constant candidates are dropped. The pool
    keeps the ``prescreen`` strongest (all when ``None``), at least ``k``.

    Raises
    ------
    DataError
        Fewer non-constant candidates than ``k``, or too few rows after lagging.
    """
    y, x = check_inputs(owner, assets, candidates, k=k, min_rows=max(lags) + 3)
    names_all = [str(c) for c in candidates.columns]
    const = constant_columns(x)
    constant = [n for n, c in zip(names_all, const, strict=True) if c]
    if len(names_all) - len(constant) < k:
        raise DataError(f"{owner}: only {len(names_all) - len(constant)} non-constant candidates "
                        f"for k={k} (constant: {constant[:10]}); lower k or add candidates")
    keep = np.flatnonzero(~const)
    ya, xl = align_lags(y, x[:, keep], lags)
    sums = np.stack([np.abs(correlation_matrix(xl[lag], ya)).sum(axis=1) for lag in lags])
    best = np.argmax(sums, axis=0)  # first maximum: the smaller lag on ties
    lag_arr = np.asarray(lags)[best]
    strength = sums[best, np.arange(len(keep))]
    names = [names_all[j] for j in keep]
    order = sorted(range(len(keep)), key=lambda i: (-round(float(strength[i]), 12), names[i]))
    size = len(order) if prescreen is None else min(len(order), max(prescreen, k))
    chosen = order[:size]
    cols = np.stack([xl[int(lag_arr[i])][:, i] for i in chosen], axis=1)
    return Pool(
        y=ya - ya.mean(axis=0),
        x=cols - cols.mean(axis=0),
        names=[names[i] for i in chosen],
        lags=lag_arr[chosen].astype(int),
        strength={names[i]: float(strength[i]) for i in range(len(keep))},
        lag_of={names[i]: int(lag_arr[i]) for i in range(len(keep))},
        constant=constant,
    )


# --- conditional dependence G(S) ------------------------------------------------------------


def g_from_cross(c: np.ndarray, measure: str, t: int, *, overwrite: bool = False) -> np.ndarray:
    """G for residual cross-product matrices c (..., N, N): sum over i != j of |dependence|.

    ``measure='pcorr'``: |partial correlation| (residual correlation; scale-free; a constituent
    whose residual variance is 0 is fully explained and counts as independent of the others).
    ``measure='cov'``: |residual covariance| (c / t, units of return^2). With ``overwrite`` the
    array c is used as workspace (faster for large batches).
    """
    d = np.diagonal(c, axis1=-2, axis2=-1)
    if measure == "cov":
        return (np.abs(c).sum(axis=(-2, -1)) - np.abs(d).sum(axis=-1)) / t
    scale = np.abs(d).max(axis=-1, keepdims=True)
    s = np.where(d > 1e-13 * np.maximum(scale, 1e-300), d, np.inf)
    s = 1.0 / np.sqrt(s)
    r = c if overwrite else c.copy()
    r *= s[..., :, None]
    r *= s[..., None, :]
    np.abs(r, out=r)
    return r.sum(axis=(-2, -1)) - np.diagonal(r, axis1=-2, axis2=-1).sum(axis=-1)


class Residuals:
    """Residuals of the constituents (and of the candidates) on a growing set S, updated in place.

    Parameters
    ----------
    y
        Centred constituents (T, N).
    x
        Centred candidate inputs (T, P).
    """

    def __init__(self, y: np.ndarray, x: np.ndarray) -> None:
        self.t = y.shape[0]
        self.e = y.astype(float, copy=True)
        self.xr = x.astype(float, copy=True)
        self.x2 = (x**2).sum(axis=0)
        self.c = self.e.T @ self.e
        self.chosen: list[int] = []

    @classmethod
    def on_subset(cls, y: np.ndarray, x: np.ndarray, subset: Sequence[int]) -> Residuals:
        """Residuals on a given (non-collinear) subset of the inputs, for scoring only (no
        :meth:`add`): one QR factorisation, and the candidates' residuals are never formed since
        E'Xr = E'X (E is orthogonal to the subset) and |xr|^2 = |x|^2 - |Q'x|^2."""
        out = cls(y[:, :0], x[:, :0])
        out.t = y.shape[0]
        out.x2 = (x**2).sum(axis=0)
        out.chosen = list(subset)
        out.x = x
        if out.chosen:
            q, _ = np.linalg.qr(x[:, out.chosen])
            out.e = y - q @ (q.T @ y)
            out.r2 = np.maximum(out.x2 - ((q.T @ x) ** 2).sum(axis=0), 0.0)
        else:
            out.e, out.r2 = y.astype(float, copy=True), out.x2.copy()
        out.xr = None
        out.c = out.e.T @ out.e
        return out

    def updates(self) -> tuple[np.ndarray, np.ndarray]:
        """A (N, P): a_p = E' q_p for every input, and the mask of inputs that can be added."""
        if self.xr is None:
            r2, ex = self.r2, self.e.T @ self.x
        else:
            r2, ex = (self.xr**2).sum(axis=0), self.e.T @ self.xr
        ok = r2 > COLLINEAR_TOL * self.x2
        ok[self.chosen] = False
        with np.errstate(divide="ignore", invalid="ignore"):
            a = ex / np.sqrt(np.where(ok, r2, 1.0))
        a[:, ~ok] = 0.0
        return a, ok

    def candidate_g(self, measure: str) -> tuple[np.ndarray, np.ndarray]:
        """G(S + {x_p}) for every input p (P,) and the addable mask; inf where not addable."""
        a, ok = self.updates()
        out = np.full(a.shape[1], np.inf)
        idx = np.flatnonzero(ok)
        for lo in range(0, len(idx), _CHUNK):
            sel = idx[lo: lo + _CHUNK]
            at = a[:, sel].T
            batch = at[:, :, None] * at[:, None, :]
            np.subtract(self.c[None], batch, out=batch)
            out[sel] = g_from_cross(batch, measure, self.t, overwrite=True)
        return out, ok

    def add(self, p: int) -> None:
        """Add input p to S (rank-one update of every residual)."""
        if self.xr is None:
            raise RuntimeError("residuals built by on_subset are for scoring only")
        xr = self.xr[:, p]
        q = xr / np.sqrt(xr @ xr)
        self.e -= np.outer(q, q @ self.e)
        self.xr -= np.outer(q, q @ self.xr)
        self.c = self.e.T @ self.e
        self.chosen.append(p)


def residual_cross(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """E'E of the OLS residuals of centred y (T, N) on centred x (T, k), by least squares."""
    if x.shape[1] == 0:
        return y.T @ y
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    e = y - x @ beta
    return e.T @ e


def g_direct(y: np.ndarray, x: np.ndarray, measure: str) -> float:
    """G(S) of centred y on centred inputs x (T, k) by a direct regression (reference path)."""
    return float(g_from_cross(residual_cross(y, x), measure, y.shape[0]))


# --- evidence -------------------------------------------------------------------------------


def specific_by_regression(y: np.ndarray, x: np.ndarray, alpha: float) -> np.ndarray:
    """(k, N) mask: driver j is specific to constituent i when its OLS coefficient in the
    regression of Y_i on all selected drivers (with intercept) is significant at level ``alpha``
    (two-sided t-test). Drivers collinear with the others get no constituent."""
    from scipy import stats

    t, k = x.shape
    dof = t - k - 1
    if k == 0 or dof <= 0:
        return np.zeros((k, y.shape[1]), dtype=bool)
    xtx = x.T @ x
    try:
        inv = np.linalg.inv(xtx)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(xtx)
    beta = inv @ (x.T @ y)
    resid = y - x @ beta
    s2 = (resid**2).sum(axis=0) / dof
    se = np.sqrt(np.clip(np.diag(inv), 0.0, None)[:, None] * s2[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, np.abs(beta) / se, 0.0)
    return tstat > stats.t.ppf(1.0 - alpha / 2.0, dof)


def dependent_pairs(y: np.ndarray, x: np.ndarray, alpha: float) -> tuple[int, int]:
    """Constituent pairs still dependent given x: Fisher-z test of the partial correlation of
    Y_i and Y_j given the columns of x (centred), at level ``alpha``. Returns (dependent, pairs).
    """
    from scipy import stats

    t, k = x.shape
    c = residual_cross(y, x)
    d = np.sqrt(np.clip(np.diag(c), 1e-300, None))
    r = np.clip(c / np.outer(d, d), -1 + 1e-15, 1 - 1e-15)
    n = y.shape[1]
    iu = np.triu_indices(n, 1)
    dof = t - k - 3
    if dof <= 0:
        return 0, len(iu[0])
    z = np.sqrt(dof) * np.abs(np.arctanh(r[iu]))
    p = 2.0 * stats.norm.sf(z)
    return int((p < alpha).sum()), len(iu[0])
