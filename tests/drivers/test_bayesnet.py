"""bayesnet: the fast Gaussian BIC equals pgmpy's BICGauss; a planted collider is not selected;
the dependent-pair count matches partial correlations from the precision matrix."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import causalfolio as cf
from causalfolio.errors import DataError
from causalfolio.plugins.drivers._common import dependent_pairs
from causalfolio.plugins.drivers.bayesnet import Bayesnet, _gauss_bic_class


def _planted(t=400, seed=0):
    """Z0, Z1 cause five constituents; K is a collider of A0..A2; N0, N1 are noise."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=t)
    z = rng.normal(size=(t, 2))
    load = rng.uniform(0.6, 1.2, size=(2, 5))
    y = pd.DataFrame(z @ load + rng.normal(size=(t, 5)), index=idx,
                     columns=[f"A{i}" for i in range(5)])
    x = pd.DataFrame({"Z0": z[:, 0], "Z1": z[:, 1], "N0": rng.normal(size=t),
                      "N1": rng.normal(size=t)}, index=idx)
    x["K"] = y[["A0", "A1", "A2"]].mean(axis=1) + 0.3 * rng.normal(size=t)
    return y, x


def test_fast_score_equals_pgmpy_bicgauss():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.estimators import BICGauss
    rng = np.random.default_rng(0)
    a = rng.normal(size=120)
    data = pd.DataFrame({"a": a, "b": 0.5 * a + rng.normal(size=120),
                         "c": rng.normal(size=120) - a})
    fast, ref = _gauss_bic_class()(data), BICGauss(data)
    for var, parents in [("a", []), ("b", ["a"]), ("c", ["a", "b"]), ("a", ["c"])]:
        assert fast.local_score(var, parents) == pytest.approx(ref.local_score(var, parents),
                                                               rel=1e-9)


def test_collider_not_selected_while_correlation_picks_it():
    y, x = _planted()
    rccp = cf.parse_spec("rccp(k=2)|linear|beta|static|hsp").drivers.select(y, x, seed=0)
    assert "K" in rccp.names  # correlation screening favours the collider
    sel = Bayesnet(k=2, lags=(0,), prescreen=5).select(y, x, seed=0)
    assert set(sel.names) == {"Z0", "Z1"}
    assert sel.scores.loc["K", "parents"] >= 2 and sel.scores.loc["K", "children"] == 0
    assert sel.info["dependent_pairs"] < sel.info["dependent_pairs_empty"] == 10
    assert set(sel.specific_to["Z0"]) <= set(y.columns)
    # deterministic
    again = Bayesnet(k=2, lags=(0,), prescreen=5).select(y, x, seed=5)
    assert again.names == sel.names and again.info["edges"] == sel.info["edges"]


def test_dependent_pairs_match_precision_matrix_partial_correlations():
    y, x = _planted(t=200, seed=2)
    yc = y.to_numpy() - y.to_numpy().mean(0)
    for cols in ([], ["Z0"], ["Z0", "Z1"]):
        xc = x[cols].to_numpy() - x[cols].to_numpy().mean(0) if cols else np.zeros((200, 0))
        dep, pairs = dependent_pairs(yc, xc, 0.05)
        count = 0
        for i in range(5):
            for j in range(i + 1, 5):  # partial correlation of (Y_i, Y_j) given S only
                prec = np.linalg.inv(np.corrcoef(np.column_stack([yc[:, [i, j]], xc]).T))
                r = -prec[0, 1] / np.sqrt(prec[0, 0] * prec[1, 1])
                z = np.sqrt(200 - len(cols) - 3) * abs(np.arctanh(r))
                count += 2 * stats.norm.sf(z) < 0.05
        assert (dep, pairs) == (count, 10)


def test_duplicates_and_bad_input():
    y, x = _planted(t=300)
    sel = Bayesnet(k=2, lags=(0,), prescreen=6).select(y, x.assign(Z0b=x["Z0"] * 3), seed=0)
    assert len(sel.info["dropped_duplicates"]) == 1 and not {"Z0", "Z0b"} <= set(sel.names)
    with pytest.raises(DataError, match="usable observations"):
        Bayesnet(k=2, prescreen=5).select(y.iloc[:9], x.iloc[:9], seed=0)
    with pytest.raises(DataError, match="only 5 candidate"):
        Bayesnet(k=6).select(y, x, seed=0)


def test_fast_move_generator_equals_pgmpy_moves():
    """The faster legality checks yield exactly pgmpy's moves and score changes."""
    from collections import deque

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.base import DAG
        from pgmpy.estimators import HillClimbSearch

    from causalfolio.plugins.drivers.bayesnet import _fast_hill_climb_class

    rng = np.random.default_rng(4)
    cols = [f"v{i}" for i in range(7)]
    data = pd.DataFrame(rng.normal(size=(80, 7)), columns=cols)
    score = _gauss_bic_class()(data)
    for trial in range(5):
        dag = DAG()
        dag.add_nodes_from(cols)
        order = rng.permutation(7)
        for a in range(7):
            for b in range(a + 1, 7):
                if rng.random() < 0.35:
                    dag.add_edge(cols[order[a]], cols[order[b]])
        forbidden = {("v0", "v1"), ("v2", "v0")} if trial % 2 else set()
        tabu = deque([("+", ("v3", "v4"))], maxlen=5)
        args = (dag, score.local_score, lambda op: 0.0, tabu, 3 if trial == 4 else float("inf"),
                forbidden, set())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pgmpy 1.1 deprecates HillClimbSearch for 1.3
            ref = dict(HillClimbSearch(data)._legal_operations(*args))
            fast = dict(_fast_hill_climb_class()(data)._legal_operations(*args))
        assert fast.keys() == ref.keys()
        for op, delta in ref.items():
            assert fast[op] == pytest.approx(delta, rel=1e-12, abs=1e-9)
