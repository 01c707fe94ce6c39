"""greedy and dp on G(S): hand-computed G, rank-one updates vs direct regressions, exact agreement
of greedy, DP and exhaustive search when G is additive, stopping rules, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import causalfolio as cf
from causalfolio.errors import DataError
from causalfolio.plugins.drivers._common import Residuals, build_pool, g_direct, g_from_cross
from causalfolio.plugins.drivers.dp import Dp
from causalfolio.plugins.drivers.greedy import Greedy


def _frame(a: np.ndarray, prefix: str) -> pd.DataFrame:
    idx = pd.bdate_range("2021-01-01", periods=a.shape[0])
    return pd.DataFrame(a, index=idx, columns=[f"{prefix}{i}" for i in range(a.shape[1])])


def _orthogonal(t=60, p=6, n=4, active=(0, 1, 2, 3, 4, 5), seed=0):
    """Centred, exactly orthogonal candidates and noise; Y = X B + E with B >= 0.

    Then C(S) = sum_{x not in S} |x|^2 b_x b_x' + diag(s^2) and the covariance measure is additive:
    G_cov(S) = sum_{x not in S} w_x / t, w_x = |x|^2 ((sum_i b_xi)^2 - sum_i b_xi^2).
    """
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(t, 1 + p + n))
    m[:, 0] = 1.0
    q, _ = np.linalg.qr(m)
    scale = rng.uniform(0.5, 2.0, size=p)
    x = q[:, 1: p + 1] * scale
    e = q[:, p + 1:] * rng.uniform(0.5, 1.0, size=n)
    b = np.zeros((p, n))
    b[list(active)] = rng.uniform(0.2, 1.0, size=(len(active), n))
    y = x @ b + e
    w = scale**2 * (b.sum(axis=1) ** 2 - (b**2).sum(axis=1))
    return _frame(y, "A"), _frame(x, "X"), w


def test_g_hand_computed_tiny_case():
    """N = 3, one conditioning input: closed-form partial correlations."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=40)
    y = np.column_stack([z + rng.normal(size=40), 0.5 * z + rng.normal(size=40),
                         -z + rng.normal(size=40)])
    r = np.corrcoef(np.column_stack([y, z]).T)
    expect = 0.0
    for i, j in itertools.combinations(range(3), 2):
        expect += 2 * abs((r[i, j] - r[i, 3] * r[j, 3])
                          / np.sqrt((1 - r[i, 3] ** 2) * (1 - r[j, 3] ** 2)))
    yc, zc = y - y.mean(0), (z - z.mean())[:, None]
    assert g_direct(yc, zc, "pcorr") == pytest.approx(expect, rel=1e-12)
    # empty set: sum of |correlations|
    assert g_direct(yc, zc[:, :0], "pcorr") == pytest.approx(
        2 * sum(abs(r[i, j]) for i, j in itertools.combinations(range(3), 2)))
    # covariance measure: residual covariances (1/T)
    e = yc - zc @ np.linalg.lstsq(zc, yc, rcond=None)[0]
    cov = e.T @ e / 40
    assert g_direct(yc, zc, "cov") == pytest.approx(np.abs(cov).sum() - np.trace(np.abs(cov)))
    res = Residuals(yc, zc)
    g, ok = res.candidate_g("pcorr")
    assert ok.all() and g[0] == pytest.approx(expect, rel=1e-10)


@pytest.mark.parametrize("measure", ["pcorr", "cov"])
def test_rank_one_scores_equal_direct_regressions(measure):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(80, 12))
    y = x[:, :3] @ rng.normal(size=(3, 5)) + rng.normal(size=(80, 5))
    x, y = x - x.mean(0), y - y.mean(0)
    res = Residuals(y, x)
    for _step in range(4):
        g, ok = res.candidate_g(measure)
        for p in range(12):
            if p in res.chosen:
                assert not ok[p] and np.isinf(g[p])
                continue
            assert g[p] == pytest.approx(g_direct(y, x[:, [*res.chosen, p]], measure),
                                         rel=1e-9)
        res.add(int(np.argmin(g)))
    assert g_from_cross(res.c, measure, 80) == pytest.approx(g_direct(y, x[:, res.chosen],
                                                                      measure), rel=1e-9)


def test_greedy_dp_exhaustive_agree_when_g_is_additive():
    y, x, w = _orthogonal()
    t = len(y)
    for k in (1, 2, 3, 4):
        top = sorted(np.argsort(-w)[:k])
        closed = w[np.setdiff1d(np.arange(6), top)].sum() / t
        kw = dict(k=k, lags=(0,), measure="cov", stop="k", prescreen=None)
        g = Greedy(**kw).select(y, x, seed=0)
        d = Dp(**kw, exhaustive="auto").select(y, x, seed=0)
        ex = Dp(**kw, exhaustive="always").select(y, x, seed=0)
        names = {f"X{i}" for i in top}
        assert set(g.names) == set(d.names) == set(ex.names) == names
        assert g.objective == pytest.approx(closed, rel=1e-9)
        assert d.objective == pytest.approx(closed, rel=1e-9)
        assert d.info["gap"] == pytest.approx(0.0, abs=1e-12)
        assert d.info["n_subsets"] == len(list(itertools.combinations(range(6), k)))
        # greedy adds in order of decreasing w
        assert list(g.names) == [f"X{i}" for i in np.argsort(-w)[:k]]


def test_dp_gap_and_single_driver_exactness(default_market):
    a, c = default_market.assets.iloc[-200:], default_market.candidates.iloc[-200:]
    d = Dp(k=3, prescreen=12, stop="k").select(a, c, seed=0)
    assert d.info["gap"] >= -1e-9  # DP cannot beat the exhaustive optimum
    assert d.info["exhaustive_objective"] <= d.objective + 1e-9
    pool = build_pool("dp", a, c, k=3, lags=(0, 1), prescreen=12)
    singles = [g_direct(pool.y, pool.x[:, [j]], "pcorr") for j in range(12)]
    assert d.info["objective_by_size"]["1"] == pytest.approx(min(singles), rel=1e-9)
    s = [d.scores.loc[n, "lag"] for n in d.names]
    direct = g_direct(pool.y, pool.x[:, [pool.names.index(n) for n in d.names]], "pcorr")
    assert d.objective == pytest.approx(direct, rel=1e-9) and all(v in (0, 1) for v in s)


def test_stopping_rules():
    y, x, w = _orthogonal(active=(1, 4))  # only X1 and X4 drive the constituents
    kw = dict(lags=(0,), measure="cov", prescreen=None)
    g = Greedy(k=5, stop="score", **kw).select(y, x, seed=0)
    assert set(g.names) == {"X1", "X4"} and g.info["stop_reason"].startswith("score")
    assert Greedy(k=5, stop="k", **kw).select(y, x, seed=0).names[:2] == g.names
    assert len(Greedy(k=5, stop="k", **kw).select(y, x, seed=0).names) == 5
    g0 = w.sum() / len(y)
    small = min(w[1], w[4]) / len(y)
    tol = 0.5 * small / g0  # the smaller of the two drops passes, nothing else does
    c = Greedy(k=5, stop="constraint", tol=tol, **kw).select(y, x, seed=0)
    assert set(c.names) == {"X1", "X4"}
    c1 = Greedy(k=5, stop="constraint", tol=1.5 * small / g0, **kw).select(y, x, seed=0)
    assert len(c1.names) == 1  # the first driver is always kept
    d = Dp(k=4, stop="score", **kw).select(y, x, seed=0)
    assert set(d.names) == {"X1", "X4"}


def test_regularised_objective_value(default_market):
    a, c = default_market.assets.iloc[-150:], default_market.candidates.iloc[-150:]
    sel = Greedy(k=3, lam=0.5, eps=0.2, stop="k", prescreen=30).select(a, c, seed=0)
    pool = build_pool("greedy", a, c, k=3, lags=(0, 1), prescreen=30)
    idx = [pool.names.index(n) for n in sel.names]
    g = g_direct(pool.y, pool.x[:, idx], "pcorr")
    rep = sel.scores.loc[list(sel.names), "repeatedness"].sum()
    assert sel.objective == pytest.approx(g - 0.5 * rep, rel=1e-9)


def test_collinear_constant_and_wide_inputs():
    rng = np.random.default_rng(5)
    t = 30
    f = rng.normal(size=(t, 2))
    y = _frame(f @ rng.uniform(0.5, 1, (2, 4)) + 0.3 * rng.normal(size=(t, 4)), "A")
    x = _frame(rng.normal(size=(t, 100)), "Z")  # more candidates than observations
    x["F0"], x["F0b"], x["F1"], x["K"] = f[:, 0], 3 * f[:, 0] - 1, f[:, 1], 2.0
    sel = Greedy(k=3, stop="k", lags=(0,)).select(y, x, seed=0)
    assert {"F0", "F1"} <= set(sel.names) or {"F0b", "F1"} <= set(sel.names)
    assert not {"F0", "F0b"} <= set(sel.names)  # the exact copy is collinear: never both
    assert sel.info["constant"] == ["K"] and "K" not in sel.names
    d = Dp(k=2, lags=(0,), prescreen=10).select(y, x, seed=0)
    assert not {"F0", "F0b"} <= set(d.names)
    with pytest.raises(DataError, match="need more than k"):
        Greedy(k=28, lags=(0, 1)).select(y, x, seed=0)
    with pytest.raises(DataError, match="non-constant candidates"):
        Greedy(k=2).select(y, x[["K", "F0"]], seed=0)
    with pytest.raises(DataError, match="only 2 candidate"):
        Dp(k=3).select(y, x[["K", "F0"]], seed=0)
    with pytest.raises(DataError, match="exceeds max_subsets"):
        Dp(k=3, prescreen=None, exhaustive="always", max_subsets=100).select(y, x, seed=0)


def test_specs_evidence_and_determinism(default_market):
    a, c = default_market.assets.iloc[-126:], default_market.candidates.iloc[-126:]
    for spec in ("greedy(k=4,measure='cov',lam=0.1)", "dp(k=3,prescreen=15,stop='k')"):
        p = cf.parse_spec(spec + "|linear|beta|static|hsp")
        assert cf.parse_spec(p.spec).spec == p.spec
        s1 = p.drivers.select(a, c, seed=0)
        s2 = p.drivers.select(a, c, seed=3)
        assert s1.names == s2.names and s1.objective == s2.objective
        assert s1.scores.index.tolist() == list(c.columns)
        assert set(s1.specific_to) == set(s1.names)
        import json

        json.dumps(dict(s1.info))


def test_swap_refinement_removes_a_planted_collider():
    """Z0, Z1 cause five constituents; K is a collider of A0..A2 (Remark 3). Forward selection
    takes K first (the best single proxy of the common movement); the swap passes replace it and
    reach the exhaustive optimum {Z0, Z1}, which correlation screening misses."""
    from test_bayesnet import _planted

    for seed in range(3):
        y, x = _planted(seed=seed)
        fwd = Greedy(k=2, lags=(0,), stop="k", refine=0).select(y, x, seed=0)
        ref = Greedy(k=2, lags=(0,), stop="k").select(y, x, seed=0)
        ex = Dp(k=2, lags=(0,), stop="k", prescreen=None, exhaustive="always").select(y, x,
                                                                                     seed=0)
        assert "K" in fwd.names
        assert set(ref.names) == set(ex.names) == {"Z0", "Z1"}
        assert ref.objective == pytest.approx(ex.objective, rel=1e-9)
        assert ref.objective < fwd.objective
        assert ref.info["swaps"] and ref.info["swaps"][0][0] == "K"
        assert ref.info["forward_names"] == list(fwd.names)


def test_residuals_on_subset_equal_sequential_updates():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(50, 9))
    y = x[:, :2] @ rng.normal(size=(2, 4)) + rng.normal(size=(50, 4))
    x, y = x - x.mean(0), y - y.mean(0)
    seq = Residuals(y, x)
    for p in (4, 0, 7):
        seq.add(p)
    one = Residuals.on_subset(y, x, [4, 0, 7])
    np.testing.assert_allclose(one.c, seq.c, rtol=1e-10, atol=1e-10)
    g1, ok1 = one.candidate_g("pcorr")
    g2, ok2 = seq.candidate_g("pcorr")
    assert (ok1 == ok2).all() and np.allclose(g1[ok1], g2[ok2], rtol=1e-9)
