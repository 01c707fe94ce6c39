"""``schur``: Schur complementary allocation (Cotton 2024; SPEC §5), between HRP and min-variance.

The tree and order are those of ``hrp`` (correlation distance) or ``hsp`` (sensitivity
distance). At each bisection of a block ``[[A, B], [B', D]]`` the two halves are scored with
augmented covariance blocks that bring in the off-diagonal information (Cotton 2024, as in
skfolio's ``SchurComplementary``)::

    A_aug = R^-1 (A - gamma B D^-1 B'),   R = I - gamma B D^-1 M'

with ``M`` the symmetric step-up matrix (``M 1 = 1``), and symmetrically for ``D``. Each half's
variance is that of its inverse-variance portfolio on the augmented block; the split is de
Prado's ``alpha = 1 - V1 / (V1 + V2)``; the children are bisected on the augmented blocks.
``gamma = 0`` is exactly HRP; ``gamma -> 1`` moves towards the minimum-variance portfolio.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.errors import NumericalError
from causalfolio.params import in_range, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._hierarchy import (
    RENAMED_COVARIANCE,
    SHRINKAGE_DOC,
    DistanceKind,
    Linkage,
    NeedsSensitivitiesIfSensitivityDistance,
    Shrinkage,
    bisect,
    checked_distance,
    correlation_distance,
    covariance,
    in_canonical_order,
    leaf_order,
    linkage_matrix,
    name_records,
    nearest_psd,
    risk_contributions,
    tree_diagnostics,
)


@functools.lru_cache(maxsize=256)
def _step_up(n1: int, n2: int) -> np.ndarray:
    if n1 == n2:
        return np.eye(n1)
    if n1 < n2:
        return _step_up(n2, n1).T * n1 / n2
    if n1 != n2 + 1:
        raise ValueError(f"step-up matrix needs |n1 - n2| <= 1, got {n1}, {n2}")
    # mean over j of the (n1, n2) matrix stacking e_0..e_{j-1}, 1'/n2, e_j..e_{n2-1}
    m = np.full((n1, n2), 1.0 / n2)
    i = np.arange(n2)
    m[i, i] += n1 - 1 - i
    m[i + 1, i] += i + 1
    m /= n1
    m.setflags(write=False)
    return m


def step_up_matrix(n1: int, n2: int) -> np.ndarray:
    """Symmetric step-up matrix M (n1, n2) with ``M 1 = 1``, for ``|n1 - n2| <= 1``.

    For ``n1 = n2 + 1`` it is the mean over ``j`` of the matrix stacking the unit rows
    ``e_0 .. e_{j-1}``, the row ``1' / n2`` and ``e_j .. e_{n2-1}`` (skfolio's construction,
    here in closed form); for ``n1 < n2`` the scaled transpose; the identity when equal.
    """
    return _step_up(int(n1), int(n2))


def schur_augment(a: np.ndarray, b: np.ndarray, d: np.ndarray, gamma: float) -> np.ndarray:
    """Augmented block ``R^-1 (A - gamma B D^-1 B')`` (n1, n1), symmetrised.

    Returns ``A`` unchanged when ``gamma = 0`` or either block is a single asset.
    """
    n_a, n_d = a.shape[0], d.shape[0]
    if gamma == 0 or n_a == 1 or n_d == 1:
        return a
    a_aug = a - gamma * b @ np.linalg.solve(d, b.T)
    r = np.eye(n_a) - gamma * np.linalg.solve(d.T, b.T).T @ step_up_matrix(n_a, n_d).T
    a_aug = np.linalg.solve(r, a_aug)
    return 0.5 * (a_aug + a_aug.T)


def _is_pd(x: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(x)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(x)))


def _repair(x: np.ndarray) -> np.ndarray:
    """Nearest PSD matrix with eigenvalues floored at 1e-10 x the largest (positive definite)."""
    p = nearest_psd(x)
    vals, vecs = np.linalg.eigh(p)
    floor = 1e-10 * max(float(vals.max()), 1e-300)
    out = (vecs * np.clip(vals, floor, None)) @ vecs.T
    return 0.5 * (out + out.T)


def _iv_variance(c: np.ndarray) -> float:
    """Variance of the inverse-variance portfolio on the block ``c`` (eq. 23-24)."""
    iv = 1.0 / np.clip(np.diagonal(c), 1e-300, None)
    w = iv / iv.sum()
    return float(w @ c @ w)


def schur_bisection(cov: np.ndarray, order: np.ndarray, gamma: float,
                    bounds: tuple[Any, Any] = (0.0, 1.0), *, repair: bool = True
                    ) -> tuple[np.ndarray | None, list[dict[str, Any]], int]:
    """Schur complementary recursive bisection on ``cov`` (N, N) along ``order``.

    An augmented block that is not positive definite (possible for gamma near 1 on an
    ill-conditioned covariance), or that cannot be computed because the other block is
    singular, is replaced by its nearest PSD matrix with eigenvalues floored
    at 1e-10 x the largest when ``repair``; otherwise the function returns ``None`` weights.
    Returns (weights or None, split records, number of repaired blocks).
    """
    order = np.asarray(order)
    # the covariance in leaf order: every half is a contiguous block (views, no copies)
    work = np.array(cov[np.ix_(order, order)], dtype=float)
    repaired = 0
    failed = False

    def split(left: np.ndarray, right: np.ndarray, lpos: slice, rpos: slice
              ) -> tuple[float, dict[str, Any]]:
        nonlocal repaired, failed
        a = work[lpos, lpos]
        d = work[rpos, rpos]
        if len(left) > 1:
            b = work[lpos, rpos]
            try:
                a_aug = schur_augment(a, b, d, gamma)
                d_aug = schur_augment(d, b.T, a, gamma)
            except np.linalg.LinAlgError:
                a_aug, d_aug = np.full_like(a, np.nan), np.full_like(d, np.nan)
        else:
            a_aug, d_aug = a, d
        blocks = []
        for blk, orig in ((a_aug, a), (d_aug, d)):
            # only augmented blocks are checked: an unmodified block of a singular covariance
            # (duplicated assets) is fine for inverse-variance weights, as in HRP
            if blk is not orig and not _is_pd(blk):
                if not repair:
                    failed = True
                    blk = orig
                else:
                    repaired += 1
                    blk = _repair(blk if np.all(np.isfinite(blk)) else orig)
            blocks.append(blk)
        a_aug, d_aug = blocks
        if a_aug is not a:
            work[lpos, lpos] = a_aug
        if d_aug is not d:
            work[rpos, rpos] = d_aug
        v1, v2 = _iv_variance(a_aug), _iv_variance(d_aug)
        alpha = 1.0 - v1 / (v1 + v2) if v1 + v2 > 0 else 0.5
        return alpha, {"v_left": v1, "v_right": v2}

    w, records = bisect(order, split, *bounds)
    return (None if failed else w), records, repaired


def monotonic_gamma(cov: np.ndarray, order: np.ndarray, gamma: float,
                    bounds: tuple[Any, Any], step: float = 0.1, tol: float = 1e-4
                    ) -> tuple[float, np.ndarray, list[dict[str, Any]]]:
    """Cap gamma where the portfolio variance stops decreasing (skfolio's ``keep_monotonic``).

    Sweeps ``0, step, ..., gamma``; at the first gamma whose variance does not decrease (or
    whose augmented blocks are not positive definite) it refines the turning point by binary
    search to ``tol`` with a backward-difference slope check, as skfolio 1.12. The result's
    variance is at most HRP's (gamma = 0). Returns (effective gamma, weights, records).
    """

    def objective(g: float) -> tuple[float, np.ndarray | None, list[dict[str, Any]]]:
        w, rec, _ = schur_bisection(cov, order, g, bounds, repair=False)
        return (np.inf if w is None else float(w @ cov @ w)), w, rec

    v0, w0, r0 = objective(0.0)
    if w0 is None:  # gamma = 0 never augments, so this means the covariance itself is bad
        raise NumericalError("schur: the plain hierarchical bisection (gamma = 0) failed; the "
                             "covariance matrix is not positive definite")
    if gamma == 0:
        return 0.0, w0, r0
    gammas = np.linspace(0.0, gamma, int(np.ceil(gamma / step)) + 1)
    variances = [v0]
    points = [(w0, r0)]
    for i in range(1, len(gammas)):
        v, w, r = objective(float(gammas[i]))
        if v >= variances[-1]:
            lo_i = max(0, i - 2)
            return _binary_search(objective, float(gammas[lo_i]), float(gammas[i]),
                                  variances[lo_i], points[lo_i], tol)
        variances.append(v)
        points.append((w, r))
    v_h = variances[0] if gamma <= tol else objective(gamma - tol)[0]
    if variances[-1] <= v_h:
        w, r = points[-1]
        if w is None:  # points after the first are kept only when finite (v < previous)
            raise NumericalError(f"schur: no weights at gamma = {gamma}")
        return float(gamma), w, r
    return _binary_search(objective, float(gammas[-2]), float(gamma), variances[-2],
                          points[-2], tol)


def _binary_search(objective: Any, low: float, high: float, low_var: float,
                   low_point: tuple[np.ndarray | None, list[dict[str, Any]]], tol: float
                   ) -> tuple[float, np.ndarray, list[dict[str, Any]]]:
    """Turning point of the variance in [low, high] (port of skfolio's ``_binary_search``)."""
    max_iter = max(1, int(np.ceil(np.log2((high - low) / tol) * 2 + 1)))
    init_g, init_v = low, low_var
    for _ in range(max_iter):
        mid = 0.5 * (low + high)
        v, w, r = objective(mid)
        ok = w is not None and v <= low_var
        if ok:
            g_h = max(0.0, mid - tol)
            v_h = init_v if g_h == init_g else objective(g_h)[0]
            ok = v <= v_h
        if ok:
            low, low_var, low_point = mid, v, (w, r)
        else:
            high = mid
        if low > init_g and w is not None and high - low <= tol:
            break
    w_out, r_out = low_point
    if w_out is None:  # cannot happen from gamma = 0; kept for a clear failure
        raise NumericalError("schur: no gamma gave positive definite augmented blocks")
    return float(low), w_out, r_out


@attrs.define(frozen=True, kw_only=True)
class Schur(RiskMapping):
    """Schur complementary allocation: HRP (gamma = 0) to minimum variance (gamma -> 1)."""

    name = "schur"
    renamed_params = RENAMED_COVARIANCE
    group_constraints = False  # per-asset bounds only (see _hierarchy.in_canonical_order)

    gamma: float = param(0.5, doc="weight of the off-diagonal (Schur complement) information, "
                                  "0 = HRP, towards 1 = minimum variance",
                         validator=in_range(0.0, 1.0))
    monotonic: bool = param(True, doc="cap gamma where the portfolio variance stops "
                                      "decreasing (as skfolio), so variance <= HRP's")
    distance: DistanceKind = param("auto", doc="tree from: sensitivity distance, correlation "
                                               "distance, or auto (sensitivity when the spec "
                                               "has five stages, correlation alone)")
    psd: bool = param(False, doc="sensitivity distance: nearest PSD matrix first (Higham; "
                                  "the literal §9 reproduction, rank one, see SPEC §5)")
    distance_of_distances: bool | None = param(
        None, doc="cluster on distances between columns (eq. 22); default: True on "
                  "sensitivity distance (as hsp), False on correlation (as hrp)")
    linkage: Linkage = param("single", doc="linkage method: single, complete, average, ward")
    optimal_ordering: bool = param(False, doc="optimal leaf ordering of the dendrogram")
    covariance: Shrinkage = param(
        "sample", doc="covariance estimator: sample or ledoit_wolf")
    shrinkage: str | None = param(None, doc=SHRINKAGE_DOC)
    merge_twins: bool = param(False, doc="allocate exact duplicates as one asset and split "
                                         "its weight equally between them")
    window: int | None = param(None, doc="covariance window in trading days",
                               validator=positive)

    needs_sensitivities = NeedsSensitivitiesIfSensitivityDistance()  # type: ignore[assignment]

    def allocate(self, inputs: MappingInputs) -> Allocation:
        def run(inp: MappingInputs, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, dict[str, Any]]:
            dist, kind, dod = tree_distance(self, inp)
            cov = covariance(inp, self.covariance)
            n = len(inp.assets)
            if n == 1:
                return np.ones(1), {"order": list(inp.assets), "distance": kind}
            z = linkage_matrix(dist, self.linkage, distance_of_distances=dod,
                               optimal=self.optimal_ordering)
            order = leaf_order(z)
            if self.monotonic:
                g, w, rec = monotonic_gamma(cov, order, self.gamma, (lo, hi))
                repaired = 0
            else:
                g = self.gamma
                w, rec, repaired = schur_bisection(cov, order, g, (lo, hi))
            diag = tree_diagnostics(z, order, inp.assets)
            diag.update({"distance": kind, "effective_gamma": g, "repaired_blocks": repaired,
                         "splits": name_records(rec, inp.assets),
                         "risk_contributions": dict(zip(
                             inp.assets, risk_contributions(w, cov).tolist(), strict=True))})
            return w, diag

        w, diag = in_canonical_order(inputs, run, merge_twins=self.merge_twins,
                                     owner=self.name)
        return Allocation(weights=w, diagnostics=diag)


def tree_distance(comp: Any, inp: MappingInputs) -> tuple[np.ndarray, str, bool]:
    """The matrix the tree is built on for ``schur`` / ``herc``: (matrix, kind, dod).

    ``auto`` uses the sensitivity distance when the inputs carry one, else correlation.
    """
    kind = comp.distance
    if kind == "auto":
        kind = "sensitivity" if inp.distance is not None else "correlation"
    if kind == "sensitivity":
        dist = checked_distance(inp, comp.name)
        if comp.psd:
            dist = nearest_psd(dist)
        dod = True if comp.distance_of_distances is None else comp.distance_of_distances
        return dist, kind, dod
    cov = covariance(inp, comp.covariance)
    dod = False if comp.distance_of_distances is None else comp.distance_of_distances
    return correlation_distance(cov), kind, dod


@hookimpl
def register_mappings(register):
    register(Schur)
