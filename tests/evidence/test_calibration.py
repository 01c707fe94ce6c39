"""Calibration under the null on a resampled real-data-like path (issue 22): with no true
difference between the arms, the grid tests reject at about their nominal rate; pooling the
bootstrap replicas as if they were markets (the old grid tests) rejects almost always.

CI size (20 studies); ``tests/benchmarks/bench_evidence.py --part null`` runs >= 200."""

from __future__ import annotations

import math

import numpy as np
from null_study import NOMINAL, REJECTIONS, null_study, rejections


def _rates(n_sims: int, *, pooled: bool, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(REJECTIONS, 0)
    for i in range(n_sims):
        table, returns = null_study(rng, n_days=400, n_arms=4, replicas=20, pooled=pooled,
                                    seed=i)
        for k, v in rejections(table, returns, n_boot=99, seed=i).items():
            hits[k] += v
    return {k: v / n_sims for k, v in hits.items()}


def test_grid_tests_hold_their_size_on_a_resampled_null_path():
    n = 20
    rates = _rates(n, pooled=False, seed=22)
    for k in REJECTIONS:  # nominal + 3 binomial standard errors
        bound = NOMINAL[k] + 3 * math.sqrt(NOMINAL[k] * (1 - NOMINAL[k]) / n)
        assert rates[k] <= bound, (k, rates)


def test_pooled_replicas_reject_a_true_null():
    """The control: the same null studies with the replicas pooled as markets (the
    pseudo-replication of issue 22) reject far above the nominal rate."""
    rates = _rates(5, pooled=True, seed=23)
    assert rates["mcs"] >= 0.5 and rates["holm"] >= 0.5, rates
