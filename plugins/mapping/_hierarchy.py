"""Shared arithmetic of hierarchical mappings (SPEC §5; monograph §8.1, §9, eq. 22-25).

Nearest PSD matrix (Higham 1988), linkage and leaf ordering, recursive bisection with weight
bounds honoured at every split, bounded proportional allocation, input checks, covariance
estimation (sample or Ledoit-Wolf) and risk diagnostics. Used by ``hsp``, ``hrp``, ``herc``,
``schur`` and ``inverse_vol``.

Asset order. Scipy's linkage breaks ties and orients each merge by column index, and the
bisection splits the ordered list by position, so the raw result of HRP-type methods depends
on the order of the columns. Every mapping here therefore works in a canonical order (assets
sorted by name) and maps the weights back: permuting the columns permutes the weights and
changes nothing else. When the names are already sorted this is the identity, which is how the
reference implementations (PyPortfolioOpt, skfolio) are compared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import attrs

from causalfolio._lazy import np, pd
from causalfolio.errors import DataError
from causalfolio.stages import MappingInputs

from ._checks import SYMMETRY_TOL, checked_distance  # noqa: F401 - shared, re-exported

LINKAGES = ("single", "complete", "average", "ward")
Linkage = Literal["single", "complete", "average", "ward"]
Shrinkage = Literal["sample", "ledoit_wolf"]
SensitivityCovariance = Literal["sample", "ledoit_wolf", "implied"]
"""Covariance estimators of the mappings that have sensitivities: ``implied`` is
B Sigma_D B' + diag(Sigma_res) (:func:`causalfolio.diagnostics.implied_covariance`)."""
DistanceKind = Literal["auto", "sensitivity", "correlation"]


# --- matrices ----------------------------------------------------------------------------------


def nearest_psd(a: np.ndarray) -> np.ndarray:
    """Nearest symmetric positive semi-definite matrix in Frobenius norm (Higham 1988).

    Parameters
    ----------
    a : ndarray (N, N)
        Any real square matrix (a distance matrix in HSP).

    Returns
    -------
    ndarray (N, N)
        ``V max(L, 0) V'`` from the eigendecomposition ``(A + A') / 2 = V L V'``. Higham's
        Theorem 2 shows this is the unique minimiser of ``||A - X||_F`` over PSD ``X``; the
        antisymmetric part of ``A`` does not change the answer.
    """
    b = 0.5 * (a + a.T)
    vals, vecs = np.linalg.eigh(b)
    out = (vecs * np.clip(vals, 0.0, None)) @ vecs.T
    return 0.5 * (out + out.T)


def correlation_distance(cov: np.ndarray) -> np.ndarray:
    """De Prado's correlation distance ``sqrt((1 - rho) / 2)`` (N, N), in [0, 1].

    Zero-variance assets get ``rho = 0`` with everything else (distance ``sqrt(1/2)``).
    """
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = cov / np.outer(sd, sd)
    rho[~np.isfinite(rho)] = 0.0
    np.fill_diagonal(rho, 1.0)
    return np.sqrt(np.clip((1.0 - np.clip(rho, -1.0, 1.0)) / 2.0, 0.0, None))


RENAMED_COVARIANCE = {"shrinkage": ("covariance", {"none": "sample"})}
"""``shrinkage=`` is the deprecated name of ``covariance=`` (and its ``'none'`` is ``'sample'``),
so the hierarchical mappings spell the covariance estimator like the optimisation ones."""
SHRINKAGE_DOC = "deprecated name of covariance (shrinkage='none' is covariance='sample')"


def covariance(inputs: MappingInputs, shrinkage: str = "sample") -> np.ndarray:
    """Covariance of the trailing returns (N, N), daily units, checked.

    Parameters
    ----------
    inputs
        Mapping inputs; ``inputs.returns`` is the trailing window (T_cov, N).
    shrinkage
        ``"sample"``: sample covariance (ddof = 1, as ``np.cov`` and ``pandas.DataFrame.cov``).
        ``"ledoit_wolf"``: Ledoit-Wolf (2004) shrinkage towards ``mu I`` (scikit-learn's
        estimator, which uses the 1/T maximum-likelihood covariance).
        ``"implied"``: the sensitivity-implied B Sigma_D B' + diag(Sigma_res) of §8.4 on the
        same window (needs a five-stage spec: sensitivities and driver returns).

    Raises
    ------
    DataError
        Fewer than 2 rows, non-finite returns, or an asset with constant returns (zero
        variance; its inverse variance is infinite: drop the asset or lengthen the window).
    """
    r = inputs.returns.to_numpy(dtype=float)
    n = len(inputs.assets)
    if r.ndim != 2 or r.shape[1] != n:
        raise DataError(f"returns have shape {r.shape}, expected (T, {n}) for the assets")
    if r.shape[0] < 2:
        raise DataError(f"the covariance window has {r.shape[0]} row(s); need at least 2")
    if not np.all(np.isfinite(r)):
        bad = [inputs.assets[j] for j in np.flatnonzero(~np.isfinite(r).all(axis=0))]
        raise DataError(f"non-finite returns in the covariance window for {bad[:5]}; "
                        "fill or drop them before the mapping")
    if shrinkage == "ledoit_wolf":
        from sklearn.covariance import ledoit_wolf

        cov, _ = ledoit_wolf(r)
    elif shrinkage == "implied":
        from causalfolio.diagnostics import implied_covariance

        if inputs.sensitivities is None:
            raise DataError("the implied covariance needs sensitivities: use it in a "
                            "five-stage spec (drivers|dynamics|sensitivities|forecast|mapping)")
        cov = implied_covariance(inputs)
    else:
        cov = np.atleast_2d(np.cov(r, rowvar=False))
    var = np.diag(cov)
    flat = (np.ptp(r, axis=0) == 0.0) | (var <= 0.0)
    if n > 1 and np.any(flat):
        bad = [inputs.assets[j] for j in np.flatnonzero(flat)]
        raise DataError(f"constant returns (zero variance) over the covariance window for "
                        f"{bad[:5]}: their "
                        "inverse variance is infinite; drop them or lengthen the window")
    return cov


# --- tree --------------------------------------------------------------------------------------


def condensed(dist: np.ndarray, distance_of_distances: bool = False) -> np.ndarray:
    """Condensed distances for scipy from an (N, N) distance-like matrix.

    With ``distance_of_distances`` the distance between x and y is the Euclidean distance
    between columns x and y (monograph eq. 22, de Prado's original code); otherwise the matrix
    itself, with its diagonal set to 0 and negative entries (possible after the PSD
    projection) clipped to 0.
    """
    from scipy.spatial.distance import pdist, squareform

    if distance_of_distances:
        return pdist(dist.T, metric="euclidean")
    sym = 0.5 * (dist + dist.T)
    np.fill_diagonal(sym, 0.0)
    return squareform(np.clip(sym, 0.0, None), checks=False)


def linkage_matrix(dist: np.ndarray, method: str = "single", *,
                   distance_of_distances: bool = False, optimal: bool = False) -> np.ndarray:
    """Scipy linkage matrix (N - 1, 4) from an (N, N) distance-like matrix.

    ``optimal`` reorders the leaves to minimise the sum of distances between neighbours
    (scipy ``optimal_leaf_ordering``, Bar-Joseph et al. 2001), as skfolio's default seriation;
    otherwise the raw dendrogram order, as PyPortfolioOpt and de Prado's code.
    """
    from scipy.cluster.hierarchy import linkage, optimal_leaf_ordering

    c = condensed(dist, distance_of_distances)
    z = linkage(c, method=method)
    if optimal and len(dist) > 2:
        z = optimal_leaf_ordering(z, c)
    return z


def leaf_order(z: np.ndarray) -> np.ndarray:
    """Quasi-diagonal order: the leaves of the dendrogram from left to right (N,)."""
    from scipy.cluster.hierarchy import leaves_list

    return leaves_list(z)


# --- bisection ---------------------------------------------------------------------------------


def inverse_variance(cov: np.ndarray) -> np.ndarray:
    """Inverse-variance weights ``diag(V)^-1 / trace(diag(V)^-1)`` (eq. 23), (n,).

    Variances are floored at 1e-300 so a (checked-out) zero variance cannot divide by zero.
    """
    iv = 1.0 / np.clip(np.diag(cov).astype(float), 1e-300, None)
    return iv / iv.sum()


def cluster_variance(cov: np.ndarray, items: np.ndarray) -> float:
    """Variance of the inverse-variance portfolio of a cluster, ``w' V w`` (eq. 24)."""
    sub = cov[np.ix_(items, items)]
    w = inverse_variance(sub)
    return float(w @ sub @ w)


def split_range(total: float, lo_left: float, hi_left: float, lo_right: float,
                hi_right: float) -> tuple[float, float]:
    """Range of the left share alpha keeping both halves' totals feasible.

    The left half's total ``alpha * total`` must lie in ``[lo_left, hi_left]`` (the sums of
    its assets' lower and upper bounds, ``n_left * min`` and ``n_left * max`` for uniform
    bounds) and the right half's in ``[lo_right, hi_right]``. When ``total`` lies in
    ``[lo_left + lo_right, hi_left + hi_right]`` the range is non-empty, so by induction every
    leaf ends within its bounds.
    """
    if total <= 0.0:
        return 0.5, 0.5
    a = max(lo_left, total - hi_right) / total
    b = min(hi_left, total - lo_right) / total
    a, b = min(max(a, 0.0), 1.0), min(max(b, 0.0), 1.0)
    return min(a, b), max(a, b)


if TYPE_CHECKING:  # an annotation only: evaluating it would import numpy
    SplitFn = Callable[[np.ndarray, np.ndarray, slice, slice], tuple[float, dict[str, Any]]]


def bisect(order: np.ndarray, split: SplitFn, lo: float | np.ndarray = 0.0,
           hi: float | np.ndarray = 1.0) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Recursive bisection of an ordered list with bounds honoured at each split.

    The list is split in halves by position (left half ``n // 2`` items, as de Prado,
    PyPortfolioOpt and skfolio); ``split(left, right, left_pos, right_pos)`` gets the two
    halves as asset indices and as slices of ``order``, and returns the unbounded left share
    alpha and a record for diagnostics. Alpha is clipped into :func:`split_range`, so with
    feasible bounds every weight lies in ``[lo, hi]`` exactly (up to rounding) and no final
    correction is needed; with the default bounds (0, 1) no clipping ever happens. ``lo`` and
    ``hi`` are scalars or per-asset arrays (N,) indexed like the matrices.

    Returns the weights (N,) indexed like the rows of the matrices ``split`` uses, and one
    record per split (top-down, left before right).
    """
    order = np.asarray(order)
    n = len(order)
    lo_c = np.concatenate([[0.0], np.cumsum(np.broadcast_to(lo, (n,))[order])])
    hi_c = np.concatenate([[0.0], np.cumsum(np.broadcast_to(hi, (n,))[order])])
    w = np.zeros(n)
    records: list[dict[str, Any]] = []
    stack = [(0, n, 1.0)]
    while stack:
        start, end, total = stack.pop()
        if end - start == 1:
            w[order[start]] = total
            continue
        mid = start + (end - start) // 2
        lpos, rpos = slice(start, mid), slice(mid, end)
        left, right = order[lpos], order[rpos]
        alpha, rec = split(left, right, lpos, rpos)
        a, b = split_range(total, lo_c[mid] - lo_c[start], hi_c[mid] - hi_c[start],
                           lo_c[end] - lo_c[mid], hi_c[end] - hi_c[mid])
        bounded = float(min(max(alpha, a), b))
        rec.update({"left": left.tolist(), "right": right.tolist(), "alpha": float(alpha),
                    "alpha_bounded": bounded})
        records.append(rec)
        stack.append((mid, end, total * (1.0 - bounded)))
        stack.append((start, mid, total * bounded))
    return w, records


def variance_split(cov: np.ndarray, order: np.ndarray) -> SplitFn:
    """De Prado's split (eq. 24-25): alpha = 1 - V1 / (V1 + V2) on inverse-variance halves.

    The covariance is permuted into ``order`` once, so each half is a contiguous block (a
    view, no copy) and the split costs one matrix-vector product per half.
    """
    c = np.ascontiguousarray(cov[np.ix_(order, order)])
    iv = 1.0 / np.clip(np.diag(c).astype(float), 1e-300, None)

    def half_variance(pos: slice) -> float:
        w = iv[pos] / iv[pos].sum()
        return float(w @ c[pos, pos] @ w)

    def split(left: np.ndarray, right: np.ndarray, lpos: slice, rpos: slice
              ) -> tuple[float, dict[str, Any]]:
        v1, v2 = half_variance(lpos), half_variance(rpos)
        alpha = 1.0 - v1 / (v1 + v2) if v1 + v2 > 0 else 0.5
        return alpha, {"v_left": v1, "v_right": v2}

    return split


def recursive_bisection(cov: np.ndarray, order: np.ndarray, lo: float | np.ndarray = 0.0,
                        hi: float | np.ndarray = 1.0
                        ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """HRP / HSP recursive bisection on ``cov`` (N, N) along ``order`` (see :func:`bisect`)."""
    return bisect(order, variance_split(cov, order), lo, hi)


def bounded_proportional(p: np.ndarray, total: float, lo: float | np.ndarray,
                         hi: float | np.ndarray) -> np.ndarray:
    """Weights proportional to ``p`` summing to ``total`` with each in ``[lo, hi]``.

    ``w_i = clip(lam p_i, lo_i, hi_i)`` with the scalar ``lam`` found by bisection (the sum is
    non-decreasing in ``lam``): assets that would leave the bounds sit on them and the rest
    keep their proportions (water-filling). Requires ``sum(lo) <= total <= sum(hi)``; ``lo``
    and ``hi`` are scalars or arrays like ``p``. With bounds (0, 1) and ``total`` = 1 it is
    ``p / sum(p)`` whenever no entry exceeds 1.
    """
    p = np.asarray(p, dtype=float)
    n = len(p)
    if n == 0:
        return p
    lo = np.broadcast_to(np.asarray(lo, dtype=float), (n,))
    hi = np.broadcast_to(np.asarray(hi, dtype=float), (n,))
    p = p / p.sum()
    w = total * p
    if np.all(w >= lo - 1e-15) and np.all(w <= hi + 1e-15):
        return np.clip(w, lo, hi)
    a, b = 0.0, 1.0
    while np.clip(b * p, lo, hi).sum() < total and b < 1e300:
        b *= 2.0
    for _ in range(200):
        mid = 0.5 * (a + b)
        if np.clip(mid * p, lo, hi).sum() < total:
            a = mid
        else:
            b = mid
        if b - a <= 1e-15 * b:
            break
    w = np.clip(b * p, lo, hi)
    free = np.flatnonzero((w > lo + 1e-14) & (w < hi - 1e-14))
    if free.size:
        w[free] += (total - w.sum()) / free.size
    return w


# --- canonical order and outputs ---------------------------------------------------------------


def canonical_permutation(assets: tuple[str, ...]) -> np.ndarray:
    """Indices sorting the assets by name (stable): the order every mapping works in."""
    return np.array(sorted(range(len(assets)), key=lambda i: str(assets[i])), dtype=int)


def permute(inputs: MappingInputs, perm: np.ndarray) -> MappingInputs:
    """The same inputs with assets (and matrices) reordered, or subset, by ``perm``."""
    if len(perm) == len(inputs.assets) and np.array_equal(perm, np.arange(len(perm))):
        return inputs
    dist = None if inputs.distance is None else np.asarray(inputs.distance)[np.ix_(perm, perm)]
    return attrs.evolve(inputs, assets=tuple(inputs.assets[i] for i in perm),
                        returns=inputs.returns.iloc[:, perm], distance=dist,
                        constraints=inputs.constraints.subset(perm))


def risk_contributions(w: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Each asset's share of portfolio variance ``w_i (V w)_i / w' V w`` (N,), summing to 1."""
    mv = cov @ w
    var = float(w @ mv)
    return w * mv / var if var > 0 else np.full(len(w), 1.0 / len(w))


def tree_diagnostics(z: np.ndarray, order: np.ndarray, assets: tuple[str, ...]
                     ) -> dict[str, Any]:
    """Linkage matrix (rows: left, right, height, size; leaves 0..N-1 are ``assets``) and the
    ordering, JSON-serialisable."""
    return {"assets": list(assets), "linkage": np.asarray(z, dtype=float).tolist(),
            "order": [assets[i] for i in order]}


def name_records(records: list[dict[str, Any]], assets: tuple[str, ...]) -> list[dict[str, Any]]:
    """Replace index lists ``left`` / ``right`` in split records by asset names."""
    out = []
    for r in records:
        r = dict(r)
        for k in ("left", "right"):
            if k in r:
                r[k] = [assets[i] for i in r[k]]
        out.append(r)
    return out


def weights_series(w: np.ndarray, assets: tuple[str, ...]) -> pd.Series:
    """Weights as a Series indexed by asset."""
    return pd.Series(np.asarray(w, dtype=float), index=list(assets))


if TYPE_CHECKING:  # an annotation only
    BoundedFn = Callable[[MappingInputs, np.ndarray, np.ndarray],
                         tuple[np.ndarray, dict[str, Any]]]


def twin_groups(inputs: MappingInputs) -> list[np.ndarray]:
    """Groups of exactly duplicated assets (N in all, singletons included), in input order.

    Twins have bit-identical return columns and, when a distance matrix is given,
    bit-identical distance rows (so a zero distance between them).
    """
    r = np.ascontiguousarray(inputs.returns.to_numpy(dtype=float).T)
    d = None if inputs.distance is None else np.ascontiguousarray(inputs.distance, dtype=float)
    groups: dict[bytes, list[int]] = {}
    for j in range(len(inputs.assets)):
        key = r[j].tobytes() + (b"" if d is None else d[j].tobytes())
        groups.setdefault(key, []).append(j)
    return [np.array(g) for g in groups.values()]


def in_canonical_order(inputs: MappingInputs, fn: BoundedFn, *, merge_twins: bool = False,
                       owner: str = "this hierarchical mapping", linear: str = "refuse"
                       ) -> tuple[pd.Series, dict[str, Any]]:
    """Run ``fn`` on the inputs sorted by asset name; return weights in the caller's order.

    ``fn(inputs, lo, hi)`` gets the per-asset bound arrays (N,) (``inputs.constraints``, in the
    sorted order) and returns weights (N,) in the sorted order and diagnostics (which must
    refer to assets by name). Every split honours the bounds as skfolio's hierarchical
    optimisers do: the split factor is clipped so both halves can still meet their assets'
    bounds. Group / linear constraints are refused (``linear='refuse'``, a
    :class:`ConfigError` naming ``owner``), or met by projecting the weights onto them
    (``linear='project'``, recorded as ``bounds_projection``).

    With ``merge_twins``, each group of exact duplicates (see :func:`twin_groups`) is allocated
    as its first asset by name, with bounds ``[m min, m max]`` for a group of m, and its
    weight (and risk contribution) is split equally between the twins: adding a twin then
    changes nothing but that split (exactly when the bounds do not bind). Diagnostics gain
    ``twins`` (representative -> its twins).

    Raises :class:`DataError` on no assets or repeated asset names and :class:`ConfigError`
    on infeasible bounds (``sum(min) > 1`` or ``sum(max) < 1``).
    """
    if not inputs.assets:
        raise DataError("no assets to allocate")
    n = len(inputs.assets)
    limits = inputs.constraints
    limits.check_bounds(owner)
    if linear == "refuse":
        limits.refuse_linear(owner)
    if len(set(inputs.assets)) != n:
        raise DataError("asset names repeat; give every asset a distinct name")
    perm = canonical_permutation(inputs.assets)
    sorted_inputs = permute(inputs, perm)
    lo, hi = sorted_inputs.constraints.lo, sorted_inputs.constraints.hi
    if not merge_twins:
        w_sorted, diag = fn(sorted_inputs, lo.copy(), hi.copy())
    else:
        groups = twin_groups(sorted_inputs)
        reps = np.array([g[0] for g in groups])
        reduced = permute(attrs.evolve(sorted_inputs, constraints=None,
                                       bounds=(0.0, 1.0)), reps)
        lo_red = np.array([lo[g].sum() for g in groups])
        hi_red = np.array([hi[g].sum() for g in groups])
        w_red, diag = fn(reduced, lo_red, hi_red)
        w_sorted = np.empty(n)
        names = sorted_inputs.assets
        twins = {}
        for g, wr in zip(groups, w_red, strict=True):
            if np.all(lo[g] == lo[g[0]]) and np.all(hi[g] == hi[g[0]]):
                w_sorted[g] = wr / len(g)
            else:  # equal shares, unless the twins' own bounds differ and bind
                w_sorted[g] = bounded_proportional(np.ones(len(g)), wr, lo[g], hi[g])
            if len(g) > 1:
                twins[names[g[0]]] = [names[i] for i in g[1:]]
        rc = diag.get("risk_contributions")
        if isinstance(rc, dict):
            for g in groups:
                share = rc[names[g[0]]] / len(g)
                for i in g:
                    rc[names[i]] = share
        diag["twins"] = twins
    w = np.empty(n)
    w[perm] = w_sorted
    if limits.has_linear and not limits.contains(w):  # linear='project'
        out = limits.project(w)
        diag["bounds_projection"] = float(np.abs(out - w).max())
        w = out
    return weights_series(w, inputs.assets), diag


class NeedsSensitivitiesIfSensitivityDistance:
    """``needs_sensitivities`` for mappings with a ``distance`` parameter.

    On an instance: True only for ``distance='sensitivity'``. On the class: False, the value for
    the default ``distance='auto'`` (which runs alone on the correlation distance), so code
    that inspects the class (spec round trips, plugin listings) sees a plain bool.
    """

    def __get__(self, obj: Any, owner: type | None = None) -> bool:
        if obj is None:
            return False
        return obj.distance == "sensitivity"
