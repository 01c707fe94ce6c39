"""Conditional-independence tests and the PC-stable skeleton behind ``pcmci`` (private module).

Everything works on a correlation matrix R (V, V) of the variables and the number of rows n:
the partial correlation of i and j given S is -P_ij / sqrt(P_ii P_jj) with P the inverse of
R restricted to {i, j} + S, and its two-sided p-value comes from Student's t with
n - 2 - |S| degrees of freedom (the analytic partial-correlation test, as tigramite's
``ParCorr(significance='analytic')``). The robust variant ranks every column first (Spearman
partial correlation, same t approximation). Many tests of the same size run as one batch: the
submatrices are stacked and inverted together.

Singular submatrices (duplicated or collinear variables) fall back to the pseudo-inverse; a
partial correlation that comes out non-finite is reported as 0 (p-value 1: no evidence).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import attrs

from causalfolio._lazy import np

from ._common import correlation_matrix

_BATCH = 20000


def rank_columns(x: np.ndarray) -> np.ndarray:
    """Column-wise ranks (average ranks for ties), float (T, V): the Spearman transform."""
    from scipy.stats import rankdata

    return rankdata(x, axis=0)


def correlation(x: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix of the columns of x (T, V); a constant column has 0 off the
    diagonal and 1 on it."""
    r = correlation_matrix(x, x)
    np.fill_diagonal(r, 1.0)
    return r


def pvalue(r: np.ndarray, n: int, size: int | np.ndarray) -> np.ndarray:
    """Two-sided p-values of partial correlations r given conditioning sets of ``size``
    variables, n rows: t = r sqrt(df / (1 - r^2)), df = n - 2 - size. df < 1 gives p = 1."""
    from scipy import stats

    r = np.asarray(r, dtype=float)
    df = n - 2 - np.asarray(size, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(r) * np.sqrt(np.maximum(df, 1.0) / np.maximum(1.0 - r * r, 0.0))
    p = 2.0 * stats.t.sf(t, np.maximum(df, 1.0))
    p = np.where(np.abs(r) >= 1.0, 0.0, p)
    return np.where((df < 1) | ~np.isfinite(r), 1.0, p)


def inverse(sub: np.ndarray) -> np.ndarray:
    """Inverse of a (stack of) correlation submatrices; the pseudo-inverse when singular."""
    try:
        out = np.linalg.inv(sub)
        if np.all(np.isfinite(out)):
            return out
    except np.linalg.LinAlgError:
        pass
    return np.linalg.pinv(sub, hermitian=True)


def partial_corr(r: np.ndarray, i: np.ndarray, j: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Partial correlations of i[b] and j[b] given the set s[b] (B, p), from R: (B,)."""
    i, j, s = np.asarray(i, int), np.asarray(j, int), np.asarray(s, int)
    if s.ndim == 1:
        s = s.reshape(len(i), -1)
    if s.shape[1] == 0:
        return r[i, j]
    out = np.empty(len(i))
    for lo in range(0, len(i), _BATCH):
        sl = slice(lo, lo + _BATCH)
        idx = np.concatenate([i[sl, None], j[sl, None], s[sl]], axis=1)
        p = inverse(r[idx[:, :, None], idx[:, None, :]])
        with np.errstate(divide="ignore", invalid="ignore"):
            v = -p[:, 0, 1] / np.sqrt(p[:, 0, 0] * p[:, 1, 1])
        out[sl] = np.where(np.isfinite(v), np.clip(v, -1.0, 1.0), 0.0)
    return out


def ci_tests(r: np.ndarray, n: int, i: np.ndarray, j: np.ndarray, s: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Partial correlations and p-values of a batch of tests with equal-size sets s (B, p)."""
    pc = partial_corr(r, i, j, s)
    return pc, pvalue(pc, n, np.asarray(s).reshape(len(pc), -1).shape[1])


@lru_cache(maxsize=256)
def _combos(m: int, p: int) -> np.ndarray:
    combos = list(itertools.combinations(range(m), p))
    return np.array(combos, dtype=int).reshape(len(combos), p)


def subsets(pool: np.ndarray, p: int) -> np.ndarray:
    """All p-subsets of the sorted index array ``pool``: (C, p)."""
    if len(pool) < p:
        return np.zeros((0, p), dtype=int)
    return pool[_combos(len(pool), p)]


@attrs.define
class Skeleton:
    """Result of :func:`pc_skeleton`.

    Attributes
    ----------
    adj
        (V, V) symmetric boolean adjacency.
    sepset
        (i, j) with i < j -> the separating set that removed the edge (highest p-value among
        the separating sets of the level at which it was removed).
    pval
        (i, j) with i < j -> that test's p-value.
    level
        (i, j) -> the conditioning size at which it was removed (-1: the block test).
    tests
        Number of CI tests run.
    """

    adj: np.ndarray
    sepset: dict[tuple[int, int], tuple[int, ...]]
    pval: dict[tuple[int, int], float]
    level: dict[tuple[int, int], int]
    tests: int = 0


def pc_skeleton(r: np.ndarray, n: int, alpha: float, max_cond: int | None, *,
                block: np.ndarray | None = None) -> Skeleton:
    """PC-stable skeleton (Colombo & Maathuis 2014) from the correlation matrix r (V, V).

    At level p every remaining edge i - j is tested given every p-subset of adj(i) \\ {j} and of
    adj(j) \\ {i}, the adjacencies frozen at the start of the level; the edge is removed when
    some test has p-value > alpha. Levels run to ``max_cond`` (None: until no edge has enough
    neighbours). With ``block`` (a boolean mask of "block" variables, the assets in ``pcmci``)
    every remaining edge with an endpoint outside the block is finally tested given all block
    variables adjacent to either endpoint (the endpoints excluded): a common effect of many
    block variables is separated from their other causes only by a set that large.
    """
    v = r.shape[0]
    adj = np.ones((v, v), dtype=bool)
    np.fill_diagonal(adj, False)
    sep: dict[tuple[int, int], tuple[int, ...]] = {}
    pv: dict[tuple[int, int], float] = {}
    lev: dict[tuple[int, int], int] = {}
    iu = np.triu_indices(v, 1)
    p0 = pvalue(r[iu], n, 0)
    tests = len(p0)
    for a, b, p in zip(iu[0][p0 > alpha], iu[1][p0 > alpha], p0[p0 > alpha], strict=True):
        adj[a, b] = adj[b, a] = False
        sep[(int(a), int(b))], pv[(int(a), int(b))], lev[(int(a), int(b))] = (), float(p), 0
    level = 1
    while max_cond is None or level <= max_cond:
        frozen = [np.flatnonzero(adj[k]) for k in range(v)]
        ei, ej = np.nonzero(np.triu(adj, 1))
        rows_i, rows_j, rows_s, owner = [], [], [], []
        for e, (a, b) in enumerate(zip(ei, ej, strict=True)):
            sets = [subsets(frozen[a][frozen[a] != b], level),
                    subsets(frozen[b][frozen[b] != a], level)]
            s = np.unique(np.concatenate(sets), axis=0) if any(len(x) for x in sets) else None
            if s is None or not len(s):
                continue
            rows_s.append(s)
            rows_i.append(np.full(len(s), a))
            rows_j.append(np.full(len(s), b))
            owner.append(np.full(len(s), e))
        if not rows_s:
            break
        s_all = np.concatenate(rows_s)
        _, p_all = ci_tests(r, n, np.concatenate(rows_i), np.concatenate(rows_j), s_all)
        tests += len(p_all)
        own = np.concatenate(owner)
        best = np.full(len(ei), -1.0)
        arg = np.full(len(ei), -1)
        order = np.lexsort((-p_all, own))  # per edge, highest p first (stable: first set)
        first = order[np.r_[True, own[order][1:] != own[order][:-1]]]
        best[own[first]], arg[own[first]] = p_all[first], first
        for e in np.flatnonzero(best > alpha):
            a, b = int(ei[e]), int(ej[e])
            adj[a, b] = adj[b, a] = False
            sep[(a, b)] = tuple(int(x) for x in s_all[arg[e]])
            pv[(a, b)], lev[(a, b)] = float(best[e]), level
        level += 1
    if block is not None:
        ei, ej = np.nonzero(np.triu(adj, 1))
        for a, b in zip(ei, ej, strict=True):
            s = block_set(block, int(a), int(b), n)
            if s is None:
                continue
            _, p = ci_tests(r, n, np.array([a]), np.array([b]), s[None, :])
            tests += 1
            if p[0] > alpha:
                adj[a, b] = adj[b, a] = False
                sep[(int(a), int(b))] = tuple(int(x) for x in s)
                pv[(int(a), int(b))], lev[(int(a), int(b))] = float(p[0]), -1
    return Skeleton(adj=adj, sepset=sep, pval=pv, level=lev, tests=tests)


@attrs.define
class Orientation:
    """Collider orientation of a skeleton (see :func:`orient`).

    Attributes
    ----------
    head
        (V, V) boolean: head[i, k] means an arrowhead at k on the edge i - k (i *-> k).
        Both head[i, k] and head[k, i]: a conflict (tigramite's ``x-x``).
    colliders
        Unshielded triples (i, k, j), i < j, oriented i -> k <- j.
    ambiguous
        Unshielded triples with no separating set or a fraction of exactly 0.5.
    fraction
        (i, k, j) -> share of the separating sets of i and j that contain k.
    """

    head: np.ndarray
    colliders: list[tuple[int, int, int]]
    ambiguous: list[tuple[int, int, int]]
    fraction: dict[tuple[int, int, int], float]
    tests: int = 0
    noncolliders: list[tuple[int, int, int]] = attrs.field(factory=list)


def unshielded_triples(adj: np.ndarray) -> list[tuple[int, int, int]]:
    """Triples (i, k, j), i < j, with i - k - j adjacent and i, j not adjacent, sorted."""
    out = []
    for k in range(adj.shape[0]):
        nb = np.flatnonzero(adj[k])
        for x in range(len(nb)):
            for y in range(x + 1, len(nb)):
                if not adj[nb[x], nb[y]]:
                    out.append((int(nb[x]), k, int(nb[y])))
    return sorted(out)


def orient(r: np.ndarray, n: int, skel: Skeleton, alpha: float, max_cond: int | None, *,
           block: np.ndarray | None = None, lagged: np.ndarray | None = None,
           resolve: str = "union", propagate: bool = True) -> Orientation:
    """Orient colliders by the majority rule (Colombo & Maathuis 2014), as tigramite's
    ``contemp_collider_rule='majority'``.

    For each unshielded triple i - k - j every subset of adj(i) \\ {j} and of adj(j) \\ {i}
    (final skeleton; sizes up to ``max_cond``, None: all) is tested; with ``block`` the block
    set of :func:`pc_skeleton` is tested too. k is a collider when it lies in fewer than half of
    the separating sets, a non-collider in more than half, ambiguous at exactly half or when
    none separates. Each collider votes for an arrowhead at k on both of its edges.
    ``resolve='union'`` keeps every voted head (two opposite heads: a conflict, tigramite's
    ``x-x``); ``resolve='majority'`` orients an edge by the larger vote (a tie: unoriented).
    ``lagged`` marks variables at t - 1: an edge between a lagged and a lag-0 variable points
    to the lag-0 one (time order), and no head points into a lagged variable. With
    ``propagate`` Meek's rules 1-3 then run to a fixed point (:func:`_meek`).
    """
    adj = skel.adj
    v = adj.shape[0]
    triples = unshielded_triples(adj)
    pairs = sorted({(i, j) for i, _, j in triples})
    frac: dict[tuple[int, int, int], float] = {}
    seps: dict[tuple[int, int], list[tuple[int, ...]]] = {}
    tests = 0
    nbrs = [np.flatnonzero(adj[k]) for k in range(v)]
    for i, j in pairs:
        cand: set[tuple[int, ...]] = set()
        for a, b in ((i, j), (j, i)):
            pool = nbrs[a][nbrs[a] != b]
            top = len(pool) if max_cond is None else min(len(pool), max_cond)
            for p in range(top + 1):
                cand.update(tuple(int(x) for x in row) for row in subsets(pool, p))
        s = block_set(block, i, j, n)
        if s is not None:
            cand.add(tuple(int(x) for x in s))
        found: list[tuple[int, ...]] = []
        by_size: dict[int, list[tuple[int, ...]]] = {}
        for s_ in sorted(cand):
            by_size.setdefault(len(s_), []).append(s_)
        for size, group in sorted(by_size.items()):
            sarr = np.array(group, dtype=int).reshape(len(group), size)
            _, p = ci_tests(r, n, np.full(len(group), i), np.full(len(group), j), sarr)
            tests += len(group)
            found += [g for g, pp in zip(group, p, strict=True) if pp > alpha]
        seps[(i, j)] = found
    votes = np.zeros((v, v))
    colliders, ambiguous = [], []
    noncollider = set()
    for i, k, j in triples:
        found = seps[(i, j)]
        if not found:
            ambiguous.append((i, k, j))
            continue
        f = sum(k in s for s in found) / len(found)
        frac[(i, k, j)] = f
        if f < 0.5:
            colliders.append((i, k, j))
            votes[i, k] += 1
            votes[j, k] += 1
        elif f == 0.5:
            ambiguous.append((i, k, j))
        else:
            noncollider.add((i, k, j))
    if lagged is not None:
        lag_edge = adj & lagged[:, None] & ~lagged[None, :]
        votes[lag_edge] = np.inf
        votes[:, lagged] = 0.0
    head = votes > votes.T if resolve == "majority" else votes > 0
    if propagate:
        _meek(head, adj, noncollider, lagged)
    return Orientation(head=head, colliders=colliders, ambiguous=ambiguous, fraction=frac,
                       tests=tests, noncolliders=sorted(noncollider))


def _meek(head: np.ndarray, adj: np.ndarray, noncollider: set[tuple[int, int, int]],
          lagged: np.ndarray | None) -> None:
    """Meek's rules 1-3 to a fixed point, in place (conflicting heads never propagate).

    R1: a -> k - b, a and b not adjacent, k a non-collider of the triple: k -> b.
    R2: a -> b -> c and a - c: a -> c.  R3: a - c -> b <- d - a, c and d not adjacent,
    a - b: a -> b. No head points into a lagged variable.
    """
    v = adj.shape[0]

    def directed(x: int, y: int) -> bool:
        return bool(head[x, y] and not head[y, x])

    def undirected(x: int, y: int) -> bool:
        return bool(adj[x, y] and not head[x, y] and not head[y, x])

    def allowed(y: int) -> bool:
        return lagged is None or not lagged[y]

    changed = True
    while changed:
        changed = False
        for i, k, j in sorted(noncollider):
            for a, b in ((i, j), (j, i)):
                if directed(a, k) and undirected(k, b) and allowed(b):
                    head[k, b] = changed = True
        for a in range(v):
            for c in np.flatnonzero(adj[a]):
                if not undirected(a, int(c)) or not allowed(int(c)):
                    continue
                mids = np.flatnonzero(adj[a] & adj[:, c])
                if any(directed(a, int(b)) and directed(int(b), int(c)) for b in mids):
                    head[a, c] = changed = True
                    continue
                srcs = [int(d) for d in mids if undirected(a, int(d)) and directed(int(d), int(c))]
                if any(not adj[x, y] for x in srcs for y in srcs if x < y):
                    head[a, c] = changed = True


def block_set(block: np.ndarray | None, i: int, j: int, n: int) -> np.ndarray | None:
    """The block conditioning set of the pair (i, j): every block variable, when neither i nor
    j is in the block and enough rows remain; else None. (A constituent's other constituents
    nearly determine the common drivers: given them, a driver looks independent of it.)"""
    if block is None or block[i] or block[j]:
        return None
    s = np.flatnonzero(block)
    s = s[(s != i) & (s != j)]
    return s if len(s) and n - len(s) - 2 >= 3 else None
