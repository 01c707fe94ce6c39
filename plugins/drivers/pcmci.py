"""``pcmci``: common causal drivers by conditional independence and time order (SPEC §1f).

Orient, then select (PC / PCMCI+ family: Spirtes-Glymour; Runge 2020):

1. Screening. Every candidate at every lag l in ``lags`` (X(t - l) against Y(t)) is tested
   against every constituent (analytic correlation t-test at ``alpha``). A candidate passes
   when it is linked to at least ``min_assets`` constituents and (``fwer=True``) the joint
   F-test of the candidate on all constituents (best lag, Bonferroni over the lags) has a
   p-value <= alpha / M (Bonferroni over the M candidates). At most ``max_screened`` pass,
   strongest (summed |corr| of the links) first.
2. Stage A, orientation. On the constituents, the candidates screened at lag 0 and the lag-1
   copies of those screened at lag 1 (time-ordered), with the constituents taken as one block
   B (``orient='block'``): x independent of y but dependent given B makes B a collider of two
   causes (a cause vote for x, counted beyond the alpha share of chance votes); x dependent on a
   cause y but independent of it given B means B separates them (an effect vote). ``'pc'``
   instead runs a PC-stable skeleton (every lag-0 pair open, constituent pairs included) with
   majority-rule colliders and votes from the unshielded triples; ``'both'`` sums the votes.
   A candidate with more effect than cause votes is an *effect*: its lag-0 link is dropped
   (its lag-1 links stay: time order makes them causes); conflicts alone drop nothing.
3. Stage B, selection. For each constituent, its parents among the remaining candidates (each
   at every lag in ``lags``): marginal test, then PCMCI's PC1 condition selection (condition on
   the p strongest other parents, p = 1..``max_cond``), then backward elimination given all
   other parents. Constituents are never in the conditioning set: siblings nearly determine a
   common driver and would destroy the test's power. A candidate that is a parent of at least
   ``min_assets`` constituents (with ``fwer``: more than chance allows at level alpha) is a
   common driver, unless a stronger one explains its links (then it is its proxy); ``k`` keeps
   the strongest (summed |partial corr|), ``None`` keeps all.

Verdicts (``scores["verdict"]``): ``cause`` (a common driver), ``effect`` (stage A),
``proxy of X`` (not a parent, and conditioning on the selected driver X removes most of its
links), ``undetermined`` (screened, neither), ``not screened``. Assumptions: causal Markov
condition, faithfulness, causal sufficiency for the constituents' common drivers, linear
(or rank-monotone, ``test='spearman'``) dependence. Deterministic: no randomness, ties by name.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.params import in_range, non_empty, non_negative, param, positive, unique_items
from causalfolio.plugins.drivers._ci import (
    correlation,
    inverse,
    orient,
    partial_corr,
    pc_skeleton,
    pvalue,
    rank_columns,
)
from causalfolio.plugins.drivers._common import (
    align_lags,
    check_inputs,
    constant_columns,
    correlation_matrix,
    dependent_pairs,
)
from causalfolio.stages import DriverSelection, DriverSelector

NOT_SCREENED, EFFECT, CAUSE, UNDETERMINED = "not screened", "effect", "cause", "undetermined"

DETERMINED_R2 = 0.999
"""A lag-0 candidate whose regression on the same-day constituents has R^2 >= this is an effect
of them (an index or basket computed from their prices): a cause cannot be determined by its
effects while they carry their own noise, and conditional-independence tests given all the
constituents are degenerate for it (zero residual variance)."""


@attrs.define(frozen=True, kw_only=True)
class Pcmci(DriverSelector):
    """Common drivers that conditional independence and time order identify as causes."""

    name = "pcmci"

    k: int | None = param(None, doc="largest number of drivers, strongest first (None: every "
                          "common driver found)", validator=positive)
    alpha: float = param(0.05, doc="level of every conditional-independence test",
                         validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))
    test: Literal["parcorr", "spearman"] = param(
        "parcorr", doc="CI test: partial correlation with the analytic t-test, or the same on "
                       "ranks (Spearman; robust to fat tails and outliers)")
    max_cond: int = param(2, doc="largest conditioning-set size drawn from adjacencies (stage "
                          "A) and of PC1 condition selection (stage B)", validator=non_negative)
    min_assets: int = param(2, doc="a common driver is a parent of at least this many "
                            "constituents (also the screening threshold)", validator=positive)
    max_screened: int = param(200, doc="most candidates kept by screening (strongest first)",
                              validator=positive)
    lags: tuple[int, ...] = param((0, 1), doc="lags l at which a candidate may act, X(t-l) vs "
                                  "Y(t)", validator=[non_empty, unique_items, non_negative])
    orient: Literal["block", "pc", "both"] = param(
        "block", doc="stage A evidence: the constituents as one block (a collider of two "
                     "independent causes; a separator of an effect from the causes), a PC-stable "
                     "skeleton over constituents and candidates, or both votes summed")
    fwer: bool = param(True, doc="screening also requires the joint F-test of the candidate "
                       "on all constituents at alpha / M, and a common driver more parent links "
                       "than chance allows")
    window: int | None = param(None, doc="selection window in trading days (default: the "
                               "backtest's driver window)", validator=positive)

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        y, x = check_inputs(self.name, assets, candidates, min_rows=max(self.lags) + 8)
        names = [str(c) for c in candidates.columns]
        anames = [str(a) for a in assets.columns]
        ya, xl = align_lags(y, x, self.lags)
        if self.test == "spearman":
            ya = rank_columns(ya)
            xl = {lag: rank_columns(v) for lag, v in xl.items()}
        n, nn, m = ya.shape[0], ya.shape[1], x.shape[1]
        const = constant_columns(x)
        screen = _screen(ya, xl, const, self)
        frame = pd.DataFrame(index=pd.Index(names, name="candidate"))
        frame["verdict"] = np.where(screen["passed"], UNDETERMINED, NOT_SCREENED).astype(object)
        frame["selected"] = False
        frame["orientation"] = ""
        frame["p_value"] = screen["min_p"]
        frame["sepset"] = ""
        frame["links"] = screen["assets_linked"]
        frame["screen_strength"] = screen["strength"]
        frame["screen"] = screen["reason"]
        frame["effect_votes"] = 0
        frame["cause_votes"] = 0
        scr = np.flatnonzero(screen["passed"])

        # --- stage A: orientation on constituents + candidates at lags 0 and 1 --------------
        effect = np.zeros(m, dtype=bool)
        stage_a: dict[str, Any] = {"nodes": 0, "tests": 0, "orient": self.orient}
        a_vars = [(int(j), int(lag)) for lag in self.lags if lag in (0, 1)
                  for j in scr if screen["lag_links"][lag][j] > 0]
        if any(lag == 0 for _, lag in a_vars):
            data = np.column_stack([ya] + [xl[lag][:, [j]] for j, lag in a_vars])
            r = correlation(data)
            lagged = np.r_[np.zeros(nn, dtype=bool), [lag == 1 for _, lag in a_vars]]
            node = anames + [names[j] + ("@1" if lag else "") for j, lag in a_vars]
            stage_a["nodes"] = len(node)
            ev = np.zeros(len(node), dtype=int)
            cv = np.zeros(len(node), dtype=int)
            evidence: dict[int, tuple[float, str]] = {}
            if self.orient in ("block", "both"):
                bev, bcv, bevid = _block_votes(r, n, nn, lagged, self.alpha)
                ev, cv = ev + bev, cv + bcv
                stage_a["tests"] += (len(node) - nn) ** 2
                evidence.update({q: (p, "all constituents; vs " + node[y])
                                 for q, (p, y) in bevid.items()})
            if self.orient in ("pc", "both"):
                block = np.zeros(r.shape[0], dtype=bool)
                block[:nn] = True
                skel = pc_skeleton(r, n, self.alpha, self.max_cond, block=block)
                ori = orient(r, n, skel, self.alpha, self.max_cond, block=block,
                             lagged=lagged, resolve="majority", propagate=False)
                pev, pcv = _votes(ori, nn, lagged, r.shape[0])
                ev, cv = ev + pev, cv + pcv
                stage_a.update(tests=stage_a["tests"] + skel.tests + ori.tests,
                               colliders=len(ori.colliders), ambiguous=len(ori.ambiguous))
                for q in range(nn, len(node)):
                    if q not in evidence and pev[q]:
                        p, sep = _effect_evidence(q, skel, ori, nn)
                        evidence[q] = (p, ",".join(node[x] for x in sep))
            det = _determined(r, nn)
            ocol = frame.columns.get_loc("orientation")
            for pos, (j, lag) in enumerate(a_vars, start=nn):
                if lag == 1:
                    continue
                frame.iloc[j, frame.columns.get_loc("effect_votes")] = ev[pos]
                frame.iloc[j, frame.columns.get_loc("cause_votes")] = cv[pos]
                if det[pos] >= DETERMINED_R2:  # a function of same-day constituents
                    effect[j] = True
                    frame.iloc[j, ocol] = EFFECT
                    frame.iloc[j, frame.columns.get_loc("verdict")] = EFFECT
                    frame.iloc[j, frame.columns.get_loc("p_value")] = float("nan")
                    frame.iloc[j, frame.columns.get_loc("sepset")] = (
                        f"determined by the constituents (R2 = {det[pos]:.6f})")
                elif ev[pos] > cv[pos]:
                    effect[j] = True
                    p, sep = evidence.get(pos, (float("nan"), ""))
                    frame.iloc[j, ocol] = EFFECT
                    frame.iloc[j, frame.columns.get_loc("verdict")] = EFFECT
                    frame.iloc[j, frame.columns.get_loc("p_value")] = p
                    frame.iloc[j, frame.columns.get_loc("sepset")] = sep
                elif cv[pos] > ev[pos]:
                    frame.iloc[j, ocol] = CAUSE
                else:
                    frame.iloc[j, ocol] = "conflict" if ev[pos] else "unoriented"
        ocol = frame.columns.get_loc("orientation")
        for j in scr:  # not oriented at lag 0 but linked at lag 1: a cause by time order
            if frame.iloc[j, ocol] in ("", "unoriented") and any(
                    screen["lag_links"][lag][j] > 0 for lag in self.lags if lag > 0):
                frame.iloc[j, ocol] = "time"
            elif frame.iloc[j, ocol] == "":
                frame.iloc[j, ocol] = "unoriented"

        # --- stage B: parents of each constituent among the remaining candidates ------------
        # an effect's lag-0 link is dropped; its lagged links stay (time order: X(t-1) cannot be
        # caused by Y(t))
        pairs = [(int(j), int(lag)) for j in scr for lag in self.lags
                 if not (effect[j] and lag == 0)]
        var_c = np.array([j for j, _ in pairs], dtype=int)
        var_l = np.array([lag for _, lag in pairs], dtype=int)
        rest = np.array(sorted(set(var_c.tolist())), dtype=int)
        parents: list[dict[int, tuple[float, float]]] = [{} for _ in range(nn)]
        rb = None
        if len(rest):
            z = np.column_stack([xl[int(lag)][:, j] for j, lag in zip(var_c, var_l, strict=True)])
            rb = correlation(np.column_stack([ya, z]))
            for i in range(nn):
                parents[i] = _parents(rb, n, i, nn, self.alpha, self.max_cond)
        parent_of: dict[int, dict[int, tuple[int, float, float]]] = {}
        for i in range(nn):
            for v, (pc, p) in parents[i].items():
                j, lag = int(var_c[v - nn]), int(var_l[v - nn])
                old = parent_of.setdefault(j, {}).get(i)
                if old is None or abs(pc) > abs(old[1]):
                    parent_of[j][i] = (lag, pc, p)
        strength = {j: float(sum(abs(v[1]) for v in d.values())) for j, d in parent_of.items()}
        frame["parent_of"] = [len(parent_of.get(j, {})) for j in range(m)]
        frame["strength"] = [strength.get(j, 0.0) for j in range(m)]
        need = self.min_assets
        if self.fwer and len(rest):
            from scipy.stats import binom

            # more parent links than chance allows (level alpha; screening already controls
            # the family-wise rate of pure-noise candidates)
            p_link = 1.0 - (1.0 - self.alpha) ** len(self.lags)
            tails = binom.sf(np.arange(nn + 1) - 1, nn, p_link)
            need = max(need, int(np.argmax(tails <= self.alpha))
                       if (tails <= self.alpha).any() else nn + 1)
        common = sorted((j for j, d in parent_of.items() if len(d) >= need),
                        key=lambda j: (-round(strength[j], 12), names[j]))
        pos = {(int(c), int(lag)): nn + q for q, (c, lag) in enumerate(pairs)}
        kept: list[int] = []
        proxies: dict[int, tuple[int, float]] = {}
        for j in common:  # a parent whose links a stronger driver explains is its proxy
            hit = _proxy_of(j, kept, rb, n, nn, pos, parent_of, screen, self.alpha)
            if hit is None:
                kept.append(j)
            else:
                proxies[j] = hit
        common = kept
        vcol = frame.columns.get_loc("verdict")
        for j in common:
            if effect[j]:  # an effect at lag 0 that acts at lag 1: a cause by time order
                frame.iloc[j, frame.columns.get_loc("orientation")] = "time"
                frame.iloc[j, frame.columns.get_loc("sepset")] = ""
            frame.iloc[j, frame.columns.get_loc("verdict")] = CAUSE
            frame.iloc[j, frame.columns.get_loc("p_value")] = max(
                v[2] for v in parent_of[j].values())
        chosen = common if self.k is None else common[: self.k]
        fallback = None
        if not chosen:
            pool = sorted(rest, key=lambda j: (-round(strength.get(j, 0.0), 12),
                                               -round(float(screen["strength"][j]), 12),
                                               names[j]))
            if not pool:
                pool = sorted(np.flatnonzero(~const & ~effect),
                              key=lambda j: (-round(float(screen["strength"][j]), 12),
                                             names[j]))
            chosen = [int(pool[0])] if pool else [int(np.argmin(effect))]
            fallback = (f"no candidate is a parent of >= {self.min_assets} constituents at "
                        f"alpha={self.alpha}; kept the strongest candidate not oriented as an "
                        "effect, with its own verdict")
        frame.iloc[chosen, frame.columns.get_loc("selected")] = True

        # --- proxies: removed once a selected driver is conditioned on ----------------------
        if rb is not None and common:
            for j in rest:
                if frame.iloc[j, vcol] in (CAUSE, EFFECT):
                    continue
                hit = proxies.get(j) or _proxy_of(j, common, rb, n, nn, pos, parent_of, screen,
                                                  self.alpha)
                if hit is not None:
                    frame.iloc[j, vcol] = f"proxy of {names[hit[0]]}"
                    frame.iloc[j, frame.columns.get_loc("p_value")] = hit[1]
                    frame.iloc[j, frame.columns.get_loc("sepset")] = names[hit[0]]
        lag_of = {names[j]: int(max(parent_of[j].values(), key=lambda v: abs(v[1]))[0])
                  if j in parent_of else int(screen["best_lag"][j]) for j in chosen}
        cols = np.column_stack([xl[lag_of[names[j]]][:, j] for j in chosen])
        yc = ya - ya.mean(axis=0)
        dep, pairs = dependent_pairs(yc, cols - cols.mean(axis=0), self.alpha)
        dep0, _ = dependent_pairs(yc, cols[:, :0], self.alpha)
        counts = frame["verdict"].map(lambda v: "proxy" if v.startswith("proxy") else v)
        return DriverSelection(
            names=[names[j] for j in chosen], scores=frame,
            specific_to={names[j]: tuple(anames[i] for i in sorted(parent_of.get(j, {})))
                         for j in chosen},
            objective=float(dep),
            info={"method": "pcmci", "test": self.test, "alpha": self.alpha,
                  "lags": lag_of, "n_candidates": m, "n_screened": int(len(scr)),
                  "n_effects": int(effect.sum()), "stage_a": stage_a,
                  "common_drivers": [names[j] for j in common],
                  "verdict_counts": {str(k): int(v) for k, v in counts.value_counts().items()},
                  "verdicts": {names[j]: str(frame.iloc[j, 0]) for j in scr},
                  "dependent_pairs": dep, "dependent_pairs_empty": dep0, "pairs": pairs,
                  "fallback": fallback,
                  "assumptions": "causal Markov, faithfulness, causal sufficiency for the "
                                 "constituents' common drivers; linear/monotone dependence"})


def _screen(ya: np.ndarray, xl: dict[int, np.ndarray], const: np.ndarray, sel: Pcmci
            ) -> dict[str, Any]:
    """Correlation screening of every candidate at every lag (see the module docstring)."""
    from scipy.stats import binom, f

    n, nn = ya.shape
    m = const.shape[0]
    lag_links, total, strength = {}, np.zeros(m, dtype=int), np.zeros(m)
    linked = np.zeros((m, nn), dtype=bool)
    min_p = np.ones(m)
    joint_p = np.ones(m)
    best, best_lag = np.full(m, -1.0), np.zeros(m, dtype=int)
    dfe = n - nn - 1
    if dfe >= 1:
        q, _ = np.linalg.qr(ya - ya.mean(axis=0))
    for lag in sel.lags:
        c = correlation_matrix(xl[lag], ya)
        p = pvalue(c, n, 0)
        sig = (p <= sel.alpha) & ~const[:, None]
        lag_links[lag] = sig.sum(axis=1)
        total += lag_links[lag]
        linked |= sig
        s = (np.abs(c) * sig).sum(axis=1)
        strength += s
        min_p = np.minimum(min_p, np.where(const, 1.0, p.min(axis=1)))
        better = s > best
        best, best_lag = np.where(better, s, best), np.where(better, lag, best_lag)
        if dfe >= 1:  # joint F-test of the candidate on all constituents
            xc = xl[lag] - xl[lag].mean(axis=0)
            ss = (xc**2).sum(axis=0)
            r2 = np.where(ss > 0, ((q.T @ xc) ** 2).sum(axis=0) / np.where(ss > 0, ss, 1.0), 0)
            r2 = np.clip(r2, 0.0, 1.0 - 1e-15)
            joint_p = np.minimum(joint_p, f.sf(r2 / nn / ((1 - r2) / dfe), nn, dfe))
    joint_p = np.minimum(joint_p * len(sel.lags), 1.0)
    assets_linked = linked.sum(axis=1)
    ok = (assets_linked >= sel.min_assets) & ~const
    reason = np.where(const, "constant", np.where(ok, "passed", "too few links")).astype(object)
    if sel.fwer:
        # beyond chance for any of the M candidates: the joint F-test of the candidate on all
        # constituents (the binomial count of links when there are too few rows for it)
        tail = joint_p if dfe >= 1 else binom.sf(total - 1, nn * len(sel.lags), sel.alpha)
        chance = ok & (tail > sel.alpha / max(int((~const).sum()), 1))
        reason[chance] = "within chance"
        ok &= ~chance
    idx = np.flatnonzero(ok)
    if len(idx) > sel.max_screened:
        order = sorted(idx, key=lambda j: (-round(float(strength[j]), 12), j))
        cut = np.array(order[sel.max_screened:], dtype=int)
        ok[cut] = False
        reason[cut] = "beyond max_screened"
    return {"passed": ok, "lag_links": lag_links, "strength": strength, "min_p": min_p,
            "assets_linked": assets_linked, "reason": reason, "best_lag": best_lag}


def _votes(ori: Any, nn: int, lagged: np.ndarray, v: int) -> tuple[np.ndarray, np.ndarray]:
    """Votes of the unshielded triples on each lag-0 candidate's role (stage A).

    Effect votes: a collider a -> c <- b counts its constituent ends a, b; a non-collider
    x -> a - c with x -> a oriented (majority of the collider votes, or time order) counts one
    (Meek's first rule: a -> c). Cause votes: a collider c -> a <- x at a constituent a counts
    one for the end c."""
    ev, cv = np.zeros(v, dtype=int), np.zeros(v, dtype=int)
    for i, k, j in ori.colliders:
        if k >= nn and not lagged[k]:
            ev[k] += int(i < nn) + int(j < nn)
        elif k < nn:
            for e in (i, j):
                if e >= nn and not lagged[e]:
                    cv[e] += 1
    h = ori.head
    for i, k, j in ori.noncolliders:
        if k >= nn:
            continue
        for x, c in ((i, j), (j, i)):
            if c >= nn and not lagged[c] and h[x, k] and not h[k, x]:
                ev[c] += 1
    return ev, cv


def _determined(r: np.ndarray, nn: int) -> np.ndarray:
    """R^2 of every variable (V,) on the first nn (the constituents) from the correlation
    matrix r; 0 for the constituents themselves."""
    sol = np.linalg.lstsq(r[:nn, :nn], r[:nn, nn:], rcond=None)[0]
    out = np.zeros(r.shape[0])
    out[nn:] = np.clip((r[:nn, nn:] * sol).sum(axis=0), 0.0, 1.0)
    return out


def _block_votes(r: np.ndarray, n: int, nn: int, lagged: np.ndarray, alpha: float
                 ) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[float, int]]]:
    """Votes of the constituents taken as one block B on each candidate's role.

    Cause votes: candidates x, y independent (p > alpha) but dependent given B (p <= alpha):
    B is a collider, x -> B <- y; x gets one vote per such y beyond the alpha share of its
    independent partners that would vote by chance. Effect votes: x dependent on a
    cause y (a candidate with a cause vote, or a lag-1 candidate linked to B: time order) but
    independent of it given B: B separates them and is not a collider, so y -> B -> x. The
    causes are found as a fixed point (a candidate is a cause when its cause votes outnumber its
    effect votes). Also returns, per effect, the block test with the largest p-value and the
    cause it separates it from."""
    v = r.shape[0]
    q = np.arange(nn, v)
    raa, raq = r[:nn, :nn], r[:nn, nn:]
    sol = np.linalg.lstsq(raa, raq, rcond=None)[0]
    cq = r[nn:, nn:] - raq.T @ sol
    d = np.sqrt(np.clip(np.diag(cq), 1e-300, None))
    pc = np.clip(cq / np.outer(d, d), -1.0, 1.0)
    p0 = pvalue(r[nn:, nn:], n, 0)
    pb = pvalue(pc, n, nn)
    np.fill_diagonal(p0, 0.0)
    np.fill_diagonal(pb, 0.0)
    cause_pair = (p0 > alpha) & (pb <= alpha)
    effect_pair = (p0 <= alpha) & (pb > alpha)
    # each marginally independent partner is a false cause vote with probability ~alpha:
    # count only the votes beyond that expectation
    cvq = np.maximum(cause_pair.sum(axis=1) - np.ceil(alpha * (p0 > alpha).sum(axis=1)),
                     0).astype(int)
    lag_q = lagged[q]
    is_cause = (cvq > 0) | lag_q
    for _ in range(len(q) + 1):  # a fixed point: causes are the candidates voted causes
        evq = (effect_pair & is_cause[None, :]).sum(axis=1)
        new = lag_q | (cvq > evq)
        if (new == is_cause).all():
            break
        is_cause = new
    ev, cv = np.zeros(v, dtype=int), np.zeros(v, dtype=int)
    ev[q], cv[q] = np.where(lag_q, 0, evq), np.where(lag_q, 0, cvq)
    decisive = effect_pair & is_cause[None, :]
    evidence = {}
    for x in np.flatnonzero(decisive.any(axis=1) & ~lag_q):
        y = int(np.argmax(np.where(decisive[x], pb[x], -1.0)))
        evidence[int(q[x])] = (float(pb[x, y]), int(q[y]))
    return ev, cv, evidence


def _effect_evidence(pos: int, skel: Any, ori: Any, nn: int) -> tuple[float, tuple[int, ...]]:
    """The deciding separation of an effect: a collider triple a -> pos <- b (the separation of
    a and b), else the first-Meek-rule triple x -> a -> pos (the separation of x and pos)."""
    for i, k, j in ori.colliders:
        if k == pos and i < nn and j < nn:
            return skel.pval[(i, j)], skel.sepset[(i, j)]
    found = []
    for (i, k, j), f in ori.fraction.items():
        if f > 0.5 and k < nn and pos in (i, j) and ori.head[k, pos]:
            x = j if i == pos else i
            if ori.head[x, k] and not ori.head[k, x]:
                key = (min(x, pos), max(x, pos))
                found.append((skel.pval[key], skel.sepset[key]))
    return max(found) if found else (float("nan"), ())


def _parents(rb: np.ndarray, n: int, i: int, nn: int, alpha: float, max_cond: int
             ) -> dict[int, tuple[float, float]]:
    """Parents of constituent i among the candidate variables (indices >= nn of rb): marginal
    test, PC1 condition selection, backward elimination given all other parents. Returns
    {variable: (partial corr, p-value)} of the final test."""
    v = np.arange(nn, rb.shape[0])
    pm = pvalue(rb[i, v], n, 0)
    keep = v[pm <= alpha]
    stat = dict(zip(keep.tolist(), np.abs(rb[i, keep]).tolist(), strict=True))
    for p in range(1, max_cond + 1):
        if len(keep) <= p:
            break
        order = sorted(keep.tolist(), key=lambda q: (-stat[q], q))
        sets = np.array([[q for q in order if q != x][:p] for x in keep.tolist()], dtype=int)
        pc = partial_corr(rb, np.full(len(keep), i), keep, sets)
        pv = pvalue(pc, n, p)
        for q, val in zip(keep.tolist(), np.abs(pc).tolist(), strict=True):
            stat[q] = min(stat[q], val)
        keep = keep[pv <= alpha]
    while len(keep):
        if n - len(keep) - 2 < 3:  # too few rows to condition on all others: keep PC1's set
            pc = rb[i, keep]
            return dict(zip(keep.tolist(), zip(pc.tolist(), pvalue(pc, n, 0).tolist(),
                                                strict=True), strict=True))
        idx = np.r_[i, keep]
        prec = inverse(rb[np.ix_(idx, idx)])
        with np.errstate(divide="ignore", invalid="ignore"):
            pc = -prec[0, 1:] / np.sqrt(prec[0, 0] * np.diag(prec)[1:])
        pc = np.where(np.isfinite(pc), np.clip(pc, -1.0, 1.0), 0.0)
        pv = pvalue(pc, n, len(keep) - 1)
        worst = int(np.argmax(pv - 1e-15 * np.arange(len(pv))))
        if pv[worst] <= alpha:
            return dict(zip(keep.tolist(), zip(pc.tolist(), pv.tolist(), strict=True),
                            strict=True))
        keep = np.delete(keep, worst)
    return {}


def _proxy_of(j: int, drivers: list[int], rb: np.ndarray, n: int, nn: int,
              pos: dict[tuple[int, int], int],
              parent_of: dict[int, dict[int, tuple[int, float, float]]],
              screen: dict[str, Any], alpha: float) -> tuple[int, float] | None:
    """The driver among ``drivers`` that, conditioned on alone, removes the most of candidate
    j's marginal links to the constituents (at least half of them; ties: larger |corr| with
    it), with the p-value of that test at j's strongest link; None when no driver does."""
    pj = pos.get((int(j), int(screen["best_lag"][j])))
    if pj is None:
        return None
    links = np.flatnonzero(pvalue(rb[pj, :nn], n, 0) <= alpha)
    if not len(links):
        return None
    best = None
    for d in drivers:
        dlag = max(parent_of[d].values(), key=lambda v: abs(v[1]))[0]
        pd_ = pos[(int(d), int(dlag))]
        pc = partial_corr(rb, np.full(len(links), pj), links, np.full((len(links), 1), pd_))
        pv = pvalue(pc, n, 1)
        gone = int((pv > alpha).sum())
        key = (gone, abs(rb[pj, pd_]))
        if gone * 2 >= len(links) and (best is None or key > best[0]):
            strongest = int(np.argmax(np.abs(rb[pj, links])))
            best = (key, d, float(pv[strongest]))
    return None if best is None else (best[1], best[2])


@hookimpl
def register_drivers(register):
    register(Pcmci)
