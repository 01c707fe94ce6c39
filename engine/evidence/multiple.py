"""Multiple testing across a grid: Holm, Hansen's SPA, Romano-Wolf StepM, Model Confidence Set.

Losses convention: ``arch.bootstrap`` ranks models by *losses* (lower is better). For return
series use ``loss = -return``; against a reference use ``loss_k = -(r_k - r_ref)`` (excess of the
reference), with the reference's loss then 0. SPA and StepM ask whether a model's expected loss is
below the reference's; MCS keeps the set of models whose expected losses cannot be told apart
from the best one's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _checks


def holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values.

    The ``i``-th smallest of ``n`` p-values becomes ``max_{j <= i} min(1, (n - j + 1) p_(j))``,
    the formula of statsmodels ``multipletests(method='holm')`` (the tests check equality with
    it); computed here because statsmodels' Holm branch calls ``gc.collect()``, which costs most
    of a second per call in a process holding a study. NaN entries stay NaN and are not counted
    among the hypotheses.
    """
    arr = np.asarray(p, dtype=float).ravel()
    out = np.full(arr.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(arr))
    if ok.size:
        v = arr[ok]
        if ((v < 0) | (v > 1)).any():
            raise _checks.DataError("p-values must lie in [0, 1]")
        order = np.argsort(v, kind="mergesort")
        adj = np.maximum.accumulate(v[order] * np.arange(v.size, 0, -1))
        res = np.empty(v.size)
        res[order] = np.minimum(adj, 1.0)
        out[ok] = res
    return out


def _names(k: int, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [f"model_{i}" for i in range(k)]
    names = [str(n) for n in names]
    if len(names) != k or len(set(names)) != k:
        raise _checks.DataError(f"names: need {k} distinct names, got {names}")
    return names


def _setup(losses: Any, block_size: Any, reps: Any, seed: Any) -> tuple[np.ndarray, int, int, int]:
    x = _checks.matrix(losses, "losses", min_rows=10)
    return (x, _checks.block(block_size, x.shape[0]),
            _checks.positive_int(reps, "reps", minimum=50),
            _checks.positive_int(seed, "seed", minimum=0))


def spa(reference_losses: np.ndarray, losses: np.ndarray, *, block_size: int, reps: int = 1000,
        seed: int = 0, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Hansen's (2005) Superior Predictive Ability test: does any model beat the reference?

    Parameters
    ----------
    reference_losses
        Shape (T,): the reference's per-period loss (e.g. ``-returns``).
    losses
        Shape (T, K): the K candidates' losses on the same periods.
    block_size
        Mean block length of the stationary bootstrap, days.
    reps, seed
        Bootstrap replicates and seed.

    Returns
    -------
    dict
        ``pvalues`` {lower, consistent, upper} (the consistent one is Hansen's; a small value
        means at least one model has lower expected loss than the reference), and the settings.
    """
    from arch.bootstrap import SPA

    x, block, reps, seed = _setup(losses, block_size, reps, seed)
    ref = _checks.series(reference_losses, "reference_losses")
    if ref.size != x.shape[0]:
        raise _checks.DataError("reference_losses and losses must cover the same periods")
    test = SPA(ref, x, block_size=block, reps=reps, bootstrap="stationary", studentize=True,
               seed=np.random.default_rng(seed))
    test.compute()
    pv = test.pvalues
    return {"pvalues": {k: float(pv[k]) for k in ("lower", "consistent", "upper")},
            "n_models": int(x.shape[1]), "n_periods": int(x.shape[0]), "block_size": block,
            "reps": reps, "seed": seed, "bootstrap": "stationary", "names": _names(x.shape[1],
                                                                                names)}


def stepm(reference_losses: np.ndarray, losses: np.ndarray, *, size: float = 0.05,
          block_size: int, reps: int = 1000, seed: int = 0,
          names: Sequence[str] | None = None) -> dict[str, Any]:
    """Romano & Wolf (2005) StepM: which models beat the reference, family-wise error ``size``.

    Same inputs as :func:`spa`.

    Returns
    -------
    dict
        ``superior`` (names of the models with significantly lower expected loss than the
        reference, controlling the family-wise error rate at ``size``) and the settings.
    """
    from arch.bootstrap import StepM

    x, block, reps, seed = _setup(losses, block_size, reps, seed)
    ref = _checks.series(reference_losses, "reference_losses")
    if ref.size != x.shape[0]:
        raise _checks.DataError("reference_losses and losses must cover the same periods")
    nm = _names(x.shape[1], names)
    size = _checks.alpha(size)
    test = StepM(ref, x, size=size, block_size=block, reps=reps,
                 bootstrap="stationary", studentize=True, seed=np.random.default_rng(seed))
    # StepM.compute's steps, on arch's own SPA: arch 8.0 stops when one step finds fewer than
    # k models and so, once every model has been found superior over several steps, subsets
    # the SPA to no model and fails ("zero-size array"); here the steps stop then.
    k = x.shape[1]
    test.spa.compute()
    better = [int(i) for i in test.spa.better_models(size)]
    found = better[:]
    while better and len(found) < k:
        keep = np.ones(k, dtype=np.bool_)
        keep[np.array(found)] = False
        test.spa.subset(keep)
        test.spa.compute()
        better = [int(i) for i in test.spa.better_models(size)]
        found.extend(better)
    test.spa.subset(np.ones(k, dtype=np.bool_))
    sup = [nm[i] for i in sorted(set(found)) if 0 <= i < k]
    return {"superior": sup, "size": float(size), "n_models": int(x.shape[1]),
            "n_periods": int(x.shape[0]), "block_size": block, "reps": reps, "seed": seed,
            "bootstrap": "stationary", "names": nm}


def _positions(labels: Sequence[Any], k: int) -> list[int]:
    """Column positions from arch's model labels (``model_i`` for arrays, or ints)."""
    out = []
    for lab in labels:
        s = str(lab)
        out.append(int(s.rsplit("_", 1)[-1]) if not s.isdigit() else int(s))
    return sorted(i for i in out if 0 <= i < k)


def mcs(losses: np.ndarray, *, size: float = 0.1, block_size: int, reps: int = 1000,
        seed: int = 0, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Hansen, Lunde & Nason (2011) Model Confidence Set at level ``1 - size``.

    Parameters
    ----------
    losses
        Shape (T, K): the models' per-period losses (e.g. ``-returns``).
    size
        Size of the elimination tests (0.1 -> a 90% confidence set).

    Returns
    -------
    dict
        ``included`` (names in the set: statistically indistinguishable from the best),
        ``excluded``, ``pvalues`` {name: MCS p-value}, method "R", and the settings.
    """
    from arch.bootstrap import MCS

    x, block, reps, seed = _setup(losses, block_size, reps, seed)
    nm = _names(x.shape[1], names)
    test = MCS(x, size=_checks.alpha(size), reps=reps, block_size=block, method="R",
               bootstrap="stationary", seed=np.random.default_rng(seed))
    test.compute()
    pv = test.pvalues.iloc[:, 0]
    pvals = {nm[i]: float(pv[lab]) for lab in pv.index for i in _positions([lab], x.shape[1])}
    inc = [nm[i] for i in _positions(test.included, x.shape[1])]
    exc = [nm[i] for i in _positions(test.excluded, x.shape[1])]
    return {"included": inc, "excluded": exc, "pvalues": pvals, "size": float(size),
            "method": "R", "n_models": int(x.shape[1]), "n_periods": int(x.shape[0]),
            "block_size": block, "reps": reps, "seed": seed, "bootstrap": "stationary",
            "names": nm}
