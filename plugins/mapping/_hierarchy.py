"""Shared arithmetic of hierarchical mappings: nearest PSD, linkage order, recursive bisection."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.cluster.hierarchy import linkage, optimal_leaf_ordering
from scipy.spatial.distance import pdist, squareform

LINKAGES = ("single", "complete", "average", "ward")


def nearest_psd(a: np.ndarray) -> np.ndarray:
    """Nearest symmetric positive semi-definite matrix in Frobenius norm (Higham 1988).

    For a symmetric input it is V max(L, 0) V' from the eigendecomposition A = V L V'; a
    non-symmetric input is first replaced by its symmetric part (A + A') / 2, which Higham shows
    does not change the answer.
    """
    b = 0.5 * (a + a.T)
    vals, vecs = np.linalg.eigh(b)
    out = (vecs * np.clip(vals, 0.0, None)) @ vecs.T
    return 0.5 * (out + out.T)


def linkage_matrix(dist: np.ndarray, method: str = "single", *,
                   distance_of_distances: bool = False, optimal: bool = False) -> np.ndarray:
    """Scipy linkage matrix from an (N, N) distance-like matrix.

    With ``distance_of_distances`` the distance between assets x and y is the Euclidean distance
    between columns x and y of ``dist`` (monograph eq. 22, de Prado's original code); otherwise
    ``dist`` itself is the distance. ``optimal`` reorders leaves to minimise the distance between
    neighbours (scipy ``optimal_leaf_ordering``).
    """
    if distance_of_distances:
        condensed = pdist(dist.T, metric="euclidean")
    else:
        sym = 0.5 * (dist + dist.T)
        np.fill_diagonal(sym, 0.0)
        condensed = squareform(np.clip(sym, 0.0, None), checks=False)
    z = linkage(condensed, method=method)
    if optimal and len(dist) > 2:
        z = optimal_leaf_ordering(z, condensed)
    return z


def inverse_variance(cov: np.ndarray) -> np.ndarray:
    """Inverse-variance weights diag(V)^-1 / trace(diag(V)^-1) (eq. 23).

    A zero variance would get all the weight; variances are floored at 1e-12 times the largest
    (or 1e-20) so the result stays finite.
    """
    var = np.diag(cov).astype(float)
    floor = max(1e-20, 1e-12 * float(var.max(initial=0.0)))
    iv = 1.0 / np.clip(var, floor, None)
    return iv / iv.sum()


def cluster_variance(cov: np.ndarray, items: np.ndarray) -> float:
    """Variance of the inverse-variance portfolio of a cluster, w' V w (eq. 24)."""
    sub = cov[np.ix_(items, items)]
    w = inverse_variance(sub)
    return float(w @ sub @ w)


def recursive_bisection(cov: np.ndarray, order: np.ndarray, lo: float = 0.0, hi: float = 1.0
                        ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """De Prado's recursive bisection on the ordered assets, with bounds honoured at each split.

    The ordered list is split in halves by position; the left half gets
    alpha = 1 - V1 / (V1 + V2) of the parent's weight (eq. 25). When [lo, hi] bounds are given,
    alpha is clipped so that each half's total stays within [n_half * lo, n_half * hi]; by
    induction every final weight lies in [lo, hi] exactly (a half with one asset has total in
    [lo, hi]). With the default bounds no clipping happens.

    Returns the weights (N,) and one record per split (for diagnostics).
    """
    n = len(order)
    w = np.ones(n)
    splits: list[dict[str, Any]] = []
    stack = [(np.asarray(order), 1.0)]
    while stack:
        items, total = stack.pop()
        if len(items) == 1:
            w[items[0]] = total
            continue
        half = len(items) // 2
        left, right = items[:half], items[half:]
        v1, v2 = cluster_variance(cov, left), cluster_variance(cov, right)
        alpha = 1.0 - v1 / (v1 + v2) if v1 + v2 > 0 else 0.5
        lo_a = max(len(left) * lo, total - len(right) * hi) / total
        hi_a = min(len(left) * hi, total - len(right) * lo) / total
        clipped = float(np.clip(alpha, lo_a, hi_a))
        splits.append({"left": left.tolist(), "right": right.tolist(), "v_left": v1,
                       "v_right": v2, "alpha": alpha, "alpha_bounded": clipped})
        stack.append((right, total * (1.0 - clipped)))
        stack.append((left, total * clipped))
    return w, splits
