"""The monograph's claims, tested: synthetic markets whose truth is known, and real data.

Writes ``docs/claims.md`` (one section per claim: the claim quoted with its section, the
experiment, a table with 95% intervals and Holm-adjusted p-values, a verdict) and the regime-map
figures, plus the raw tables as JSON in ``--out``. Every table in the document is reproduced by
the command printed above it (``--only`` runs one part).

Usage::

    python examples/claims.py --out runs/claims --doc docs/claims.md          # the full study
    python examples/claims.py --quick --out runs/claims-q --doc /tmp/claims.md  # CI size
    python examples/claims.py --only C2,C5 --out runs/claims --doc docs/claims.md

Protocol (no tuning on the evaluation markets): the pipeline that the study evaluates and the
demo runs is chosen on the development seeds ``DEV_SEEDS`` only (``choose`` below); every claim
is evaluated on the disjoint ``EVAL_SEEDS`` (and on real data, which the choice never saw).
Verdicts: *holds* when the claimed edge is positive with the 95% interval above zero and the
Holm-adjusted p-value below 0.05; *does not hold* when the edge is significantly of the other
sign, or when the two arms are identical by construction; *inconclusive* otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import causalfolio as cf  # noqa: E402
from causalfolio import evidence as ev  # noqa: E402
from causalfolio.backtest import BacktestConfig, run_backtest  # noqa: E402
from causalfolio.data import synthetic_market  # noqa: E402

DEV_SEEDS = (100, 101, 102, 103, 104)
EVAL_SEEDS = tuple(range(20))
BOUNDS = (0.03, 0.10)  # §9.1, 14 assets
CANDIDATE_GRIDS = (
    "rccp(k={4,6})|linear(lags=[0,1])|beta|static|hsp(linkage={'single','ward'})",
    "pcmci(k=4)|linear(lags=[0,1])|beta|static|hsp(linkage={'single','ward'})",
)
DEV_SHIFTS = ("none", "driver_vol:every=250:strength=2", "proxy_decouple:start=630")
"""The development markets' worlds: stationary, drivers' volatility switching every 250 days
(x2), proxies decoupling from day 630 (synthetic_market ``shifts``)."""
KERNEL = "sklearn(estimator='kernel_ridge',lags=[0,1])"
ALPHA = 0.05
HOLDS, FAILS, UNSURE = "holds", "does not hold", "inconclusive"
PROTOCOL = (
    "Protocol: the evaluated pipeline is chosen on the development seeds {dev} only; every "
    "claim is evaluated on the disjoint evaluation seeds {eval} (fewer where stated) and on real "
    "data. Synthetic markets: `causalfolio.synthetic_market` defaults (14 assets, 1,260 days, 4 "
    "common drivers of which one acts nonlinearly, proxies, colliders, noise) unless a claim "
    "says otherwise. Backtests: monthly, first trading day, windows 126/125/63 days, weights "
    "3%-10%, no costs. Intervals are 95%; p-values are paired over markets (t-test; Wilcoxon in "
    "the raw tables) and Holm-adjusted over each claim's comparisons. Verdicts: *holds* when the "
    "claimed edge is positive with its interval above zero and Holm p < 0.05; *does not hold* "
    "when it is significantly of the other sign or the arms are identical by construction; "
    "*inconclusive* otherwise: no edge this sample can distinguish from zero.")
QUICK_NOTE = "CI-sized --quick run: these numbers check the machinery, they are not the study"


# --- settings of one run -----------------------------------------------------------------------


class Study:
    """Sizes of one run (``quick`` for CI) and where it writes."""

    def __init__(self, *, quick: bool, out: Path, workers: int, n_boot: int,
                 shift_markets: int | None = None) -> None:
        self.quick = quick
        self.out = out
        self.workers = workers
        self.n_boot = n_boot
        self.dev = DEV_SEEDS[:1] if quick else DEV_SEEDS
        self.eval = EVAL_SEEDS[:3] if quick else EVAL_SEEDS
        self.market = {"n_days": 360, "n_assets": 12} if quick else {}
        # kernel-ridge pipelines (C3, C4) cost ~25x a linear one: 10 markets (said in the doc)
        self.eval_nonlinear = self.eval[:2] if quick else self.eval[:10]
        self.replicas = 3 if quick else 20
        self.regime_seeds = EVAL_SEEDS[:2] if quick else EVAL_SEEDS[:3]
        self.shift_seeds = tuple(range(shift_markets or (2 if quick else SHIFT_MARKETS)))
        self.nn_markets = EVAL_SEEDS[:2] if quick else EVAL_SEEDS[:10]
        self.large_candidates = 120 if quick else 2000
        # the Bayesian network takes ~20 s a market at 2,000 candidates: not in the CI run
        self.selectors = tuple(n for n in SELECTORS if not (quick and n == "Bayesian network"))
        self.periods = ("short",) if quick else ("short", "long")
        self.config = BacktestConfig(min_weight=BOUNDS[0], max_weight=BOUNDS[1],
                                     diagnostics=False)

    def command(self, only: str) -> str:
        q = " --quick" if self.quick else ""
        if only == "shiftmap" and len(self.shift_seeds) != (2 if self.quick else SHIFT_MARKETS):
            q += f" --shift-markets {len(self.shift_seeds)}"
        return f"python examples/claims.py{q} --only {only} --out {self.out}"

    def ablate(self, markets: Any, specs: Sequence[str], *, benchmarks: Sequence[str] = (),
               reference: str, settings: dict[str, Any] | None = None) -> Any:
        """An ablation over markets (shared stage cache, process pool) with its statistics."""
        from causalfolio.ablation import Grid, run_ablation

        grid = Grid.from_specs(list(specs), benchmarks=list(benchmarks),
                               settings={"min_weight": BOUNDS[0], "max_weight": BOUNDS[1],
                                         **(settings or {})})
        return run_ablation(markets, grid, out=None, executor="processes",
                            workers=self.workers, reference=reference, n_boot=self.n_boot,
                            seed=0)


# --- verdicts ----------------------------------------------------------------------------------


def verdict(edge: float, lo: float, hi: float, p_adj: float) -> str:
    """Holds / does not hold / inconclusive for an edge oriented so that > 0 is the claim."""
    if not np.isfinite(edge):
        return UNSURE
    if lo > 0 and p_adj < ALPHA:
        return HOLDS
    if hi < 0 and p_adj < ALPHA:
        return FAILS
    return UNSURE


def overall(verdicts: Sequence[str]) -> str:
    """A claim with several comparisons holds when all hold; fails when all that are decided
    fail and none holds; otherwise it is inconclusive (or mixed: said in the reason)."""
    v = set(verdicts)
    if v == {HOLDS}:
        return HOLDS
    if HOLDS not in v and FAILS in v:
        return FAILS
    return UNSURE


def oriented(comparisons: pd.DataFrame, label: str, metric: str, *, sign: float) -> dict:
    """One comparison row of an ablation, oriented: ``sign * (combination - reference)``."""
    row = comparisons[(comparisons["label"] == label) & (comparisons["metric"] == metric)]
    if row.empty:
        raise KeyError(f"no comparison of {label!r} on {metric}")
    r = row.iloc[0]
    lo, hi = sorted((sign * float(r["ci_low"]), sign * float(r["ci_high"])))
    edge = sign * float(r["diff"])
    out = {"edge": edge, "ci_low": lo, "ci_high": hi, "p_value": float(r["p_value"]),
           "p_adjusted": float(r["p_adjusted"]), "n_markets": int(r["n_markets"]),
           "identical_to": None if pd.isna(r["identical_to"]) else str(r["identical_to"])}
    out["verdict"] = (FAILS if out["identical_to"] else
                      verdict(edge, lo, hi, out["p_adjusted"]))
    return out


def mean_ci(x: Sequence[float]) -> tuple[float, float, float]:
    """Mean of per-market values and its 95% t interval (scipy.stats)."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    m = float(x.mean())
    if len(x) < 2 or float(x.std(ddof=1)) == 0.0:
        return m, m, m
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=m, scale=stats.sem(x))
    return m, float(lo), float(hi)


def paired(x: Sequence[float], y: Sequence[float]) -> dict:
    """Paired difference mean(x - y) over markets with its interval and p-value."""
    r = ev.paired_over_markets(np.asarray(x, float), np.asarray(y, float), alpha=ALPHA)
    return {"edge": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high,
            "p_value": r.p_value, "n_markets": len(x)}


def adjust(rows: list[dict]) -> None:
    """Holm over a claim's comparisons (in place), then the verdict of each."""
    p = ev.holm(np.array([r["p_value"] for r in rows], dtype=float))
    for r, q in zip(rows, p, strict=True):
        r["p_adjusted"] = float(q)
        r["verdict"] = verdict(r["edge"], r["ci_low"], r["ci_high"], float(q))


def synthetic_markets(seeds: Sequence[int], **kw: Any) -> dict[str, Any]:
    return {f"seed={s}": synthetic_market(seed=s, **kw) for s in seeds}


def _pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing as mp

    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


# --- the recommended pipeline (development seeds only) ------------------------------------------


def choose(study: Study) -> dict:
    """The causal pipeline with the best mean Sharpe on the development seeds (never EVAL), over
    the stationary and the shifted development worlds (:data:`DEV_SHIFTS`) together."""
    from causalfolio.ablation import MarketGrid

    shifts = DEV_SHIFTS[:2] if study.quick else DEV_SHIFTS
    markets = MarketGrid(synthetic=tuple(study.dev),
                         synthetic_param=(*((k, (v,)) for k, v in study.market.items()),
                                          ("shifts", shifts)))
    res = study.ablate(markets, list(CANDIDATE_GRIDS), benchmarks=["equal"], reference="equal")
    t = res.table[(res.table["status"] == "ok") & ~res.table["benchmark"]]
    means = t.groupby("label")["sharpe"].mean().sort_values(ascending=False)
    world = t["market"].astype(str).str.extract(r"shifts=([^,]*)")[0].fillna("none")
    by_world = t.assign(world=world).groupby(["label", "world"])["sharpe"].mean()
    return {"grid": " and ".join(CANDIDATE_GRIDS), "dev_seeds": list(study.dev),
            "shifts": list(shifts),
            "mean_sharpe": {k: float(v) for k, v in means.items()},
            "by_world": {k: {w: float(by_world[(k, w)]) for w in by_world[k].index}
                         for k in means.index},
            "chosen": str(means.index[0])}


# --- C1: driver selection and colliders ---------------------------------------------------------

SELECTORS = {
    "correlation screening": "rccp(k={k})",
    "SELECT (RCCP filters)": "rccp(k={k},lags=[0,1],combine='any',max_asset_corr=0.9,max_r2=0.5)",
    "G(S) greedy": "greedy(k={k},stop='k')",
    "ML-corr": "mlcorr(k={k},stop='k')",
    "Bayesian network": "bayesnet(k={k})",
    "causal discovery (pcmci)": "pcmci(k={k})",
}
LABELS = ("common", "proxy", "collider", "specific", "noise")


def _c1_market(task: tuple[int, dict, int, tuple[str, ...]]) -> dict[str, dict[str, float]]:
    seed, kw, k, selectors = task
    m = synthetic_market(seed=seed, **kw)
    window = m.assets.iloc[:252]
    cands = m.candidates.iloc[:252]
    out = {}
    for name in selectors:
        spec = SELECTORS[name]
        sel = cf.parse_spec(spec.format(k=k) + "|linear|beta|static|hsp").drivers
        picked = sel.select(window, cands, seed=0).names
        labels = [m.truth.labels[n] for n in picked]
        out[name] = {lab: labels.count(lab) / k for lab in LABELS}
    return out


def claim_c1(study: Study) -> dict:
    cases = {
        "50 candidates": dict(n_assets=14, n_days=300, n_common=4, n_proxies=4,
                              n_colliders=4, n_noise=24),
        f"{study.large_candidates:,} candidates": dict(
            n_assets=30, n_days=300, n_common=6, n_proxies=10, n_colliders=10,
            n_noise=study.large_candidates - 56),
    }
    tables, rows = {}, []
    with _pool(study.workers) as pool:
        for case, kw in cases.items():
            k = kw["n_common"]
            per = list(pool.map(_c1_market, [(s, kw, k, study.selectors) for s in study.eval]))
            table = []
            for name in study.selectors:
                entry = {"selector": name, "spec": SELECTORS[name].format(k=k)}
                for lab in LABELS:
                    m, lo, hi = mean_ci([p[name][lab] for p in per])
                    entry[lab] = [m, lo, hi]
                table.append(entry)
                if name != "correlation screening":
                    r = paired([p["correlation screening"]["collider"] for p in per],
                               [p[name]["collider"] for p in per])
                    rows.append({"case": case, "metric": "collider share",
                                 "comparison": f"{name}: fewer colliders than correlation "
                                 f"screening ({case})", **r})
            screen = [p["correlation screening"]["collider"] for p in per]
            m, lo, hi = mean_ci(screen)
            tables[case] = table
            rows.append({"case": case, "metric": "collider share",
                         "comparison": f"correlation screening selects colliders ({case})",
                         "edge": m, "ci_low": lo, "ci_high": hi,
                         "p_value": _one_sample_p(screen), "n_markets": len(screen)})
    adjust(rows)
    v = overall([r["verdict"] for r in rows])
    return {"id": "C1", "title": "Correlation screening selects colliders; G(S), SELECT, "
            "ML-corr and the Bayesian network avoid them",
            "section": "Remark 3, §5.4",
            "quote": "The optimization process inherently favors the inclusion of common causes "
                     "and discourages the inclusion of colliders",
            "experiment": f"{len(study.eval)} synthetic markets per case (evaluation seeds), "
                          "selection on the first 252 days, k = the number of true common "
                          "drivers; shares of the k picks by their true role, mean and 95% "
                          "t interval over markets; paired t-tests of the collider share "
                          "against correlation screening, Holm over the claim's tests.",
            "tables": tables, "rows": rows, "verdict": v,
            "reason": _c1_reason(rows, tables)}


def _one_sample_p(x: Sequence[float]) -> float:
    from scipy import stats

    x = np.asarray(x, float)
    if float(x.std(ddof=1)) == 0.0:
        return 0.0 if x.mean() > 0 else 1.0
    return float(stats.ttest_1samp(x, 0.0, alternative="greater").pvalue)


def _c1_reason(rows: list[dict], tables: dict) -> str:
    held = [r["comparison"].split(":")[0] + f" ({r['case']})" for r in rows
            if r["verdict"] == HOLDS and ":" in r["comparison"]]
    not_held = [r["comparison"].split(":")[0] + f" ({r['case']}, {r['verdict']})" for r in rows
                if r["verdict"] != HOLDS and ":" in r["comparison"]]
    zero = [f"{t['selector']} ({case})" for case, tab in tables.items() for t in tab
            if t["collider"][2] < 0.05]
    text = (f"Fewer colliders than correlation screening, significantly: "
            f"{', '.join(held) or 'none'}; not shown: {', '.join(not_held) or 'none'}. ")
    text += ("Selectors whose collider share is below 5% with 95% confidence (they avoid "
             f"colliders, not just fewer): {', '.join(zero) or 'none'}.")
    return text


# --- C2-C6: backtest claims over synthetic markets (and real data for C2) -----------------------


def _market_grid(study: Study, seeds: Sequence[int]) -> Any:
    from causalfolio.ablation import MarketGrid

    return MarketGrid(synthetic=tuple(seeds),
                      synthetic_param=tuple((k, (v,)) for k, v in study.market.items()))


def _backtest_claim(study: Study, cid: str, title: str, section: str, quote: str,
                    specs: list[str], benchmarks: list[str], reference: str,
                    arms: list[tuple[str, str, float]], experiment: str,
                    markets: Any = None, settings: dict | None = None,
                    controls: Sequence[tuple[str, str, str]] = ()) -> dict:
    """Run one ablation over the evaluation markets; ``arms`` lists (label, what, sign) with
    sign +1 when the claim says the arm beats the reference, -1 when the reference beats it."""
    res = study.ablate(markets if markets is not None else _market_grid(study, study.eval),
                       specs, benchmarks=benchmarks, reference=reference, settings=settings)
    comp = res.evidence.comparisons
    rows = []
    for label, what, sign in arms:
        for metric, orient in (("sharpe", 1.0), ("annual_volatility", -1.0)):
            r = oriented(comp, label, metric, sign=sign * orient)
            rows.append({"comparison": what, "metric": metric, **r})
    primary = [r["verdict"] for r in rows if r["metric"] == "sharpe"]  # controls excluded
    for label, twin, what in controls:  # arms equal by construction: checked, edge exactly 0
        got = comp.loc[comp["label"] == label, "identical_to"].dropna().unique()
        same = len(got) == 1 and got[0] == twin
        for metric in ("sharpe", "annual_volatility"):
            rows.append({"comparison": what, "metric": metric, "edge": 0.0, "ci_low": 0.0,
                         "ci_high": 0.0, "p_value": 1.0, "p_adjusted": 1.0,
                         "n_markets": len(res.market_dates) or 1,
                         "identical_to": twin if same else None,
                         "verdict": FAILS if same else UNSURE})
    table = (res.table[res.table["status"] == "ok"].groupby("label")[
        ["sharpe", "annual_volatility", "max_drawdown", "turnover"]].mean())
    return {"id": cid, "title": title, "section": section, "quote": quote,
            "experiment": experiment, "reference": reference, "rows": rows,
            "means": {lab: {k: float(v) for k, v in r.items()} for lab, r in table.iterrows()},
            "verdict": overall(primary), "reason": _reason(rows)}


def _reason(rows: list[dict]) -> str:
    parts = []
    for r in rows:
        if r["metric"] != "sharpe":
            continue
        if r.get("identical_to"):
            parts.append(f"{r['comparison']}: the two arms give identical weights "
                         f"(identical to {r['identical_to']}), so no edge is possible")
            continue
        vol = next((x for x in rows if x["comparison"] == r["comparison"]
                    and x["metric"] == "annual_volatility"), None)
        text = (f"{r['comparison']}: Sharpe edge {r['edge']:+.3f} "
                f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}], adjusted p {r['p_adjusted']:.3g}")
        if vol is not None:
            text += (f"; volatility edge {100 * vol['edge']:+.2f} pp "
                     f"[{100 * vol['ci_low']:+.2f}, {100 * vol['ci_high']:+.2f}]")
        parts.append(text + f" -> {r['verdict']}")
    return "; ".join(parts) + "."


def claim_c2(study: Study, rec: str) -> dict:
    arms = [("hrp", "HSP vs HRP", -1.0), ("equal", "HSP vs 1/N", -1.0),
            ("mvo", "HSP vs minimum-variance MVO", -1.0)]
    quote = "Not only does the HSP method outperform all other models"
    out = _backtest_claim(
        study, "C2", "HSP beats HRP, 1/N and MVO out of sample", "§9 (Tables 5-8)", quote,
        [rec], ["hrp", "equal", "mvo"], rec, arms,
        f"The recommended pipeline `{rec}` (chosen on the development seeds) against HRP, 1/N "
        f"and minimum-variance MVO on {len(study.eval)} synthetic markets, monthly, weights "
        "3%-10%; per-market Sharpe and volatility, paired t-tests over markets, Holm over the "
        "study's combinations.")
    out["real"] = [_c2_real(study, period, arms) for period in study.periods]
    return out


def _c2_real(study: Study, period: str, arms: list) -> dict:
    from causalfolio.ablation import MarketGrid
    from causalfolio.data.real import PERIODS, real_market

    p = PERIODS[period]
    market, facts = real_market(period, start=p.start, end=p.end)
    k = max(3, len(facts["candidates"]) // 2)
    spec = f"rccp(k={k})|linear(lags=[0,1])|beta|static|hsp"
    res = study.ablate(MarketGrid(data=market, resample="stationary",
                                  replicas=study.replicas,
                                  allow_few_replicas=study.replicas < 20), [spec],
                       benchmarks=["hrp", "equal", "mvo"], reference=spec)
    comp = res.evidence.comparisons
    rows = []
    for label, what, sign in arms:
        for metric, orient in (("sharpe", 1.0), ("annual_volatility", -1.0)):
            rows.append({"comparison": what, "metric": metric,
                         **oriented(comp, label, metric, sign=sign * orient)})
    return {"period": period, "spec": spec, "replicas": study.replicas,
            "dates": f"{p.start} to {p.end}", "rows": rows,
            "verdict": overall([r["verdict"] for r in rows if r["metric"] == "sharpe"])}


def claim_c3(study: Study) -> dict:
    spec = f"rccp(k=6)|{KERNEL}|fd(sample={{'in','out'}})|static|hsp"
    base = f"rccp(k=6)|{KERNEL}|fd|static|hsp"
    out_label = cf.parse_spec(f"rccp(k=6)|{KERNEL}|fd(sample='out')|static|hsp").spec
    return _backtest_claim(
        study, "C3", "Out-of-sample sensitivities beat in-sample ones", "§9.4 (Table 8)",
        "the variant using out-of-sample sensitivities also demonstrates superior performance "
        "compared to the in-sample case", [spec], [], cf.parse_spec(base).spec,
        [(out_label, "out-of-sample vs in-sample sensitivities", 1.0)],
        f"Kernel ridge dynamics with finite-difference sensitivities (nonlinear, so the two "
        f"samples differ), in- vs out-of-sample, on {len(study.eval_nonlinear)} synthetic "
        "markets (fewer than 20: a kernel-ridge backtest costs ~25 linear ones).",
        markets=_market_grid(study, study.eval_nonlinear))


def claim_c4(study: Study) -> dict:
    spec = f"rccp(k=6)|{KERNEL}|fd|{{static,vasicek(aggregate='cumulative')}}|hsp"
    static = cf.parse_spec(f"rccp(k=6)|{KERNEL}|fd|static|hsp").spec
    path = cf.parse_spec(f"rccp(k=6)|{KERNEL}|fd|vasicek(aggregate='cumulative')|hsp").spec
    lin = "rccp(k=6)|linear(lags=[0,1])|beta|{static,vasicek(aggregate='cumulative')}|hsp"
    lin_static, lin_path = (cf.parse_spec(
        f"rccp(k=6)|linear(lags=[0,1])|beta|{f}|hsp").spec
        for f in ("static", "vasicek(aggregate='cumulative')"))
    out = _backtest_claim(
        study, "C4", "Path-dependent HSP beats static HSP", "Fig. 57, §11.14",
        "The comparison demonstrates that the path-dependent extension outperforms other HSP "
        "variants.", [spec, lin], [], static,
        [(path, "path-dependent (Vasicek, cumulative) vs static, kernel ridge", 1.0)],
        f"Static vs Vasicek path-dependent HSP with time-varying sensitivities (kernel ridge "
        f"+ finite differences) on {len(study.eval_nonlinear)} synthetic markets (fewer than "
        "20: a kernel-ridge backtest costs ~25 linear ones); the linear|beta pair "
        "is a control, identical by construction (constant sensitivities), which the study's "
        "identical-arm detection must flag.",
        markets=_market_grid(study, study.eval_nonlinear),
        controls=[(lin_path, lin_static,
                   "path-dependent vs static, linear|beta (identical by construction)")])
    return out


def claim_c5(study: Study, rec: str) -> dict:
    head, mapping = rec.rsplit("|", 1)
    psd = cf.parse_spec(f"{head}|{_with(mapping, 'psd=True')}").spec
    return _backtest_claim(
        study, "C5", "The nearest-PSD step improves HSP", "§9.1",
        "Performance improvements are observed when the sensitivity distance matrix is "
        "replaced by its nearest positive semi-definite neighbor", [rec, psd], [], rec,
        [(psd, "psd=True vs psd=False", 1.0)],
        f"The recommended pipeline with and without the nearest-PSD projection (Higham 1988) "
        f"on {len(study.eval)} synthetic markets.")


def claim_c6(study: Study, rec: str) -> dict:
    res_label = f"{rec} @ reselect_every=1"
    return _backtest_claim(
        study, "C6", "Monthly driver reselection beats semiannual", "§9.3",
        "Driver selection is updated monthly at each rebalancing point, which contributes to "
        "the performance enhancement compared to previous experiments involving fixed 6-month "
        "driver selection intervals.", [rec], [], f"{rec} @ reselect_every=6",
        [(res_label, "monthly vs semiannual reselection", 1.0)],
        f"The recommended pipeline with drivers reselected at every monthly rebalance vs every "
        f"6 rebalances, on {len(study.eval)} synthetic markets.",
        settings={"reselect_every": [1, 6]})


# --- C7: nonlinear sensitivities ---------------------------------------------------------------


def _c7_market(task: tuple[int, bool]) -> dict[str, dict[str, float]]:
    seed, quick = task
    import torch

    torch.set_num_threads(1)
    from causalfolio.plugins.dynamics.fnn import FNN
    from causalfolio.plugins.dynamics.linear import Linear
    from causalfolio.plugins.dynamics.sklearn_model import SklearnModel
    from causalfolio.plugins.sensitivities.aad import AAD
    from causalfolio.plugins.sensitivities.beta import Beta
    from causalfolio.plugins.sensitivities.fd import FD

    m = synthetic_market(seed=seed)
    tr = m.truth
    drivers = m.candidates[list(tr.common)]
    names = [f"{d}@{tr.lags[d]}" for d in tr.common]
    nonlinear = [j for j, d in enumerate(tr.common) if d in tr.nonlinear]
    fnn = FNN(hidden=((8,),), windows=(125,), epochs=60) if quick else FNN()
    models = {"linear|beta": (Linear(lags=(0, 1)), Beta()), "fnn|aad": (fnn, AAD()),
              "kernel ridge|fd": (SklearnModel(estimator="kernel_ridge", lags=(0, 1)), FD())}
    cuts = [tr.dates[int(p)] for p in np.linspace(300, len(tr.dates) - 1, 2 if quick else 3)]
    err: dict[str, dict[str, list[float]]] = {k: {"nonlinear": [], "linear": []} for k in models}
    for cut in cuts:
        past, d = m.assets.loc[m.assets.index < cut], drivers.loc[drivers.index < cut]
        for key, (model, ext) in models.items():
            fit = model.fit(past, d, window=125, seed=0)
            s = ext.extract(fit, fit.design(d).loc[fit.train_index])
            true = tr.sensitivities[tr.dates.get_indexer(s.dates)]
            S = s.series[:, :, [list(s.inputs).index(n) for n in names]]
            rmse = np.sqrt(((S - true) ** 2).mean(0))  # (N, K)
            lin = [j for j in range(len(names)) if j not in nonlinear]
            err[key]["nonlinear"].append(float(rmse[:, nonlinear].mean()))
            err[key]["linear"].append(float(rmse[:, lin].mean()))
    return {k: {kind: float(np.mean(v)) for kind, v in e.items()} for k, e in err.items()}


def claim_c7(study: Study) -> dict:
    with _pool(study.workers) as pool:
        per = list(pool.map(_c7_market, [(s, study.quick) for s in study.nn_markets]))
    table = {model: {kind: list(mean_ci([p[model][kind] for p in per]))
                     for kind in ("nonlinear", "linear")} for model in per[0]}
    rows = []
    for model in ("fnn|aad", "kernel ridge|fd"):
        for kind in ("nonlinear", "linear"):
            rows.append({"comparison": f"{model} vs linear|beta, {kind} drivers",
                         "metric": "path RMSE",
                         **paired([p["linear|beta"][kind] for p in per],
                                  [p[model][kind] for p in per])})
    adjust(rows)
    primary = [r["verdict"] for r in rows if "nonlinear drivers" in r["comparison"]]
    return {"id": "C7", "title": "Nonlinear models recover nonlinear sensitivities better than "
            "linear|beta", "section": "§7",
            "quote": "nonlinear models—such as neural networks, kernel methods, or other flexible "
                     "function approximators",
            "experiment": f"{len(per)} synthetic markets (fewer than 20: neural fits are costly), "
                          f"{'2' if study.quick else '3'} dates each, models fitted on the true "
                          "common drivers over 125 days; RMSE of the in-sample sensitivity path "
                          "against the true path, averaged over assets, for the nonlinear driver "
                          "and the linear ones; edge = RMSE(linear|beta) - RMSE(model), paired "
                          "over markets, Holm.",
            "tables": table, "rows": rows, "verdict": overall(primary),
            "reason": "; ".join(f"{r['comparison']}: RMSE lower by {r['edge']:+.3f} "
                                f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}], adjusted p "
                                f"{r['p_adjusted']:.3g} -> {r['verdict']}" for r in rows) + "."}


# --- C8: invariance under distribution shift ----------------------------------------------------

C8_MARKET = dict(n_days=760, n_nonlinear=0, n_proxies=8, proxy_noise=0.3, n_colliders=0,
                 n_pair_colliders=6, collider_noise=0.1, n_noise=10)
C8_QUICK = dict(C8_MARKET, n_days=560, n_assets=10)
C8_SELECT_DAY = 258  # the one driver selection: the first rebalance on or after this day
C8_SHIFT_DAY = 280  # the shifts start here, after the selection window
C8_EVAL_DAY = C8_SHIFT_DAY + 126  # evaluated from here: the training window is all post-shift
# the positive control's markets: two of the four common drivers are latent, present in the pool
# only through proxies, so that correlation screening picks proxies; when they decouple, a pipeline
# built on them must lose its risk model by construction
C8_CONTROL = dict(n_common=1, n_latent=3, n_latent_proxies=6, n_proxies=0, n_pair_colliders=0)
C8_CONDITIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "no shift": ("none", {}),
    "driver-volatility regimes": (f"driver_vol:start={C8_SHIFT_DAY}:every=126:strength=2", {}),
    "proxies decouple, colliders rewire":
        (f"proxy_decouple:start={C8_SHIFT_DAY};collider_rewire:start={C8_SHIFT_DAY}", {}),
    "mechanism changes (nothing should help)": (f"mechanism:start={C8_SHIFT_DAY}", {}),
    "control markets, no shift": ("none", C8_CONTROL),
    "control markets, proxies decouple (positive control)":
        (f"proxy_decouple:start={C8_SHIFT_DAY}", C8_CONTROL),
}
C8_TWIN = {"control markets, proxies decouple (positive control)": "control markets, no shift"}
C8_ASSOC = "rccp(k=4)|linear(lags=[0,1])|beta|static|hsp"
C8_CI = "pcmci(k=4)|linear(lags=[0,1])|beta|static|hsp"
C8_ARMS = ("true drivers", "conditional independence (pcmci)", "correlation screening", "hrp")


def _true_drivers(m: Any) -> str:
    """The ``fixed`` selector of a synthetic market's true common drivers (names differ per
    seed)."""
    return "fixed(names=[" + ",".join(repr(d) for d in m.truth.common) + "])"


def _select_once(m: Any, **settings: Any) -> BacktestConfig:
    """Backtest settings of the shift studies: the first rebalance on or after day
    ``C8_SELECT_DAY`` selects the drivers, and no later one reselects them."""
    return BacktestConfig(start=str(m.dates[C8_SELECT_DAY].date()), reselect_every=10_000,
                          **settings)


def _c8_market(task: tuple[int, str, dict[str, Any]]) -> dict[str, Any]:
    """One market of one condition: per arm the mean |log(realised / predicted volatility)|
    over the holding periods (model, and sample covariance), volatility, drawdown, Sharpe."""
    import warnings

    seed, shifts, kw = task
    m = synthetic_market(seed=seed, shifts=shifts, **kw)
    t = m.truth
    specs = {"true drivers": f"{_true_drivers(m)}|linear(lags=[0,1])|beta|static|hsp",
             "conditional independence (pcmci)": C8_CI,
             "correlation screening": C8_ASSOC, "hrp": "hrp"}
    cfg = _select_once(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_backtest(m, [specs["true drivers"], C8_CI, C8_ASSOC], cfg, benchmarks=["hrp"])
    from causalfolio.backtest.metrics import performance

    out: dict[str, Any] = {}
    first = m.dates[C8_EVAL_DAY]
    for arm, spec in specs.items():
        s = res.strategies[spec]
        o = s.oos[s.oos.index >= first]
        nav = s.nav[s.nav.index >= m.dates[C8_EVAL_DAY - 1]]
        perf = performance(nav, 0.0)
        out[arm] = {"risk_error_model": float(o["log_ratio_model"].abs().mean()),
                    "risk_bias_model": float(o["log_ratio_model"].mean()),
                    "risk_error_sample": float(o["log_ratio_sample"].abs().mean()),
                    **{k: float(perf[k]) for k in ("annual_volatility", "max_drawdown",
                                                   "sharpe")}}
    picks = res.strategies[C8_ASSOC].rebalances[0].selection.names
    out["picks"] = {lab: sum(t.labels[n] == lab for n in picks) / len(picks) for lab in LABELS}
    return out


def claim_c8(study: Study) -> dict:
    seeds = study.eval[:2] if study.quick else study.eval
    kw = C8_QUICK if study.quick else C8_MARKET
    tasks = [(s, text, {**kw, **extra}) for text, extra in C8_CONDITIONS.values()
             for s in seeds]
    with _pool(study.workers) as pool:
        flat = list(pool.map(_c8_market, tasks))
    per = {cond: flat[k * len(seeds):(k + 1) * len(seeds)]
           for k, cond in enumerate(C8_CONDITIONS)}
    metrics = ("risk_error_model", "risk_bias_model", "risk_error_sample", "annual_volatility",
               "max_drawdown", "sharpe")
    table = {cond: {arm: {mt: list(mean_ci([p[arm][mt] for p in ps])) for mt in metrics}
                    for arm in C8_ARMS} for cond, ps in per.items()}
    picks = {cond: {lab: list(mean_ci([p["picks"][lab] for p in ps])) for lab in LABELS}
             for cond, ps in per.items()}

    def col(cond: str, arm: str, mt: str) -> list[float]:
        return [p[arm][mt] for p in per[cond]]

    rows = []
    c, a, h = "true drivers", "correlation screening", "hrp"
    ci = "conditional independence (pcmci)"
    for cond in C8_CONDITIONS:
        if cond.startswith("control markets"):
            continue
        for mt, what, x, y in (
                ("risk forecast error", "true drivers vs correlation screening",
                 col(cond, a, "risk_error_model"), col(cond, c, "risk_error_model")),
                ("annual_volatility", "true drivers vs correlation screening",
                 col(cond, a, "annual_volatility"), col(cond, c, "annual_volatility")),
                ("max_drawdown", "true drivers vs correlation screening",
                 col(cond, c, "max_drawdown"), col(cond, a, "max_drawdown")),
                ("sharpe", "true drivers vs correlation screening",
                 col(cond, c, "sharpe"), col(cond, a, "sharpe")),
                ("annual_volatility", "HSP on true drivers vs HRP",
                 col(cond, h, "annual_volatility"), col(cond, c, "annual_volatility")),
                ("sharpe", "HSP on true drivers vs HRP",
                 col(cond, c, "sharpe"), col(cond, h, "sharpe")),
                ("risk forecast error", "pcmci vs correlation screening",
                 col(cond, a, "risk_error_model"), col(cond, ci, "risk_error_model")),
                ("annual_volatility", "pcmci vs correlation screening",
                 col(cond, a, "annual_volatility"), col(cond, ci, "annual_volatility"))):
            rows.append({"condition": cond, "comparison": f"{what} ({cond})", "metric": mt,
                         **paired(x, y)})
        if cond != "no shift":  # the same seeds without the shift: common random numbers
            d = [ya - xa - (yb - xb) for xa, ya, xb, yb in zip(
                col(cond, c, "risk_error_model"), col(cond, a, "risk_error_model"),
                col("no shift", c, "risk_error_model"), col("no shift", a, "risk_error_model"),
                strict=True)]
            rows.append({"condition": cond, "metric": "risk forecast error",
                         "comparison": f"edge of true drivers over screening, shift minus no "
                                       f"shift ({cond})",
                         **paired(d, [0.0] * len(d))})
    adjust(rows)  # Holm over the claim's comparisons
    checks = []
    for cond, twin in C8_TWIN.items():  # the positive control: screening, shift vs its twin
        names = {"risk_bias_model": "risk under-forecast", "risk_error_model":
                 "risk forecast error", "annual_volatility": "annual_volatility"}
        for mt, name in names.items():
            checks.append({"condition": cond, "metric": name,
                           "comparison": "correlation screening loses when its proxies "
                                         "decouple (shift vs the same markets without it)",
                           **paired(col(cond, a, mt), col(twin, a, mt))})
    adjust(checks)  # the positive control is a check of the study's power: its own family
    rows += checks
    control = [r for r in rows if "positive control" in r["condition"]
               and r["metric"] in ("risk forecast error", "risk under-forecast")]
    primary = [r["verdict"] for r in rows if r["condition"] == "driver-volatility regimes"
               and r["metric"] in ("risk forecast error", "annual_volatility")
               and "screening" in r["comparison"] and "minus" not in r["comparison"]]
    detected = any(r["verdict"] == HOLDS for r in control)
    half = [(r["ci_high"] - r["ci_low"]) / 2 for r in rows if r["metric"] == "annual_volatility"]
    return {"id": "C8", "title": "Under distribution shift, causal drivers keep their risk "
            "forecasts and realised risk better than associational ones",
            "section": "§3, Commonality Principle (invariance)",
            "quote": "causal mechanisms stay put when the environment changes, associations do "
                     "not (the case for causal portfolios, issue #21)",
            "experiment": (
                f"{len(seeds)} synthetic markets per condition (evaluation seeds {list(seeds)}; "

                "the same seeds in every condition, so the conditions are paired: common random "
                f"numbers), `synthetic_market({', '.join(f'{k}={v}' for k, v in kw.items())})`: "
                "more proxies (noise 0.3 x driver sd) and colliders of two assets (noise 0.1) "
                "than the default, so that correlation screening picks them. The positive "
                f"control's markets add `{C8_CONTROL}`: three of the four common drivers are "
                "latent and "
                "present only through proxies (noise 0.3), which screening picks; when those "
                "proxies decouple, a risk model built on them loses its factor structure by "
                "construction. Drivers are "
                f"selected once, at the first rebalance (day {C8_SELECT_DAY}; "
                "`reselect_every` never again); the shifts start on day "
                f"{C8_SHIFT_DAY}, after the selection window; every metric is measured from "
                f"day {C8_EVAL_DAY} on, when the dynamics' 125-day training window holds only "
                "post-shift data. Arms: HSP on the true drivers "
                f"(`fixed`), HSP on the conditional-independence selector (`{C8_CI}`), HSP on "
                f"correlation screening (`{C8_ASSOC}`) and HRP, all long-only without weight "
                "bounds, monthly, windows 126/125/63. Risk forecast error: the mean over the "
                "evaluated rebalances of |log(realised / predicted volatility)| over each holding "
                "month, predicted from the pipeline's implied covariance "
                "B Sigma_D B' + diag(Sigma_res) (`oos/<slug>.csv`, `predicted_vol_model`); "
                "risk under-forecast: the mean of log(realised / predicted) (> 0: risk "
                "under-forecast). "
                "Paired t-tests over markets; Holm over the claim's comparisons (the no-shift "
                "and mechanism controls included), and separately over the positive control's "
                "3 tests (a check of the study's power, not part of the claim)."),
            "conditions": {k: {"shifts": v[0], **v[1]} for k, v in C8_CONDITIONS.items()},
            "tables": table, "picks": picks, "rows": rows,
            "verdict": overall(primary), "positive_control_detected": detected,
            "reason": _c8_reason(rows, detected, half, len(seeds))}


def _c8_reason(rows: list[dict], detected: bool, half: list[float], n: int) -> str:
    def says(cond: str, metric: str, what: str = "screening") -> str:
        r = next(r for r in rows if r["condition"] == cond and r["metric"] == metric
                 and what in r["comparison"] and "minus" not in r["comparison"])
        scale, fmt = _scaled(metric)
        return (f"{_iv(r['edge'], r['ci_low'], r['ci_high'], scale, fmt)} "
                f"(Holm p {r['p_adjusted']:.2g}, {r['verdict']})")

    text = (f"Driver-volatility regimes: risk-forecast-error edge of the true drivers over "
            f"screening {says('driver-volatility regimes', 'risk forecast error')}, volatility "
            f"edge {says('driver-volatility regimes', 'annual_volatility')}. No shift: "
            f"{says('no shift', 'risk forecast error')}. Mechanism change: "
            f"{says('mechanism changes (nothing should help)', 'risk forecast error')}. ")
    pc, pe = (next(r for r in rows if "positive control" in r["condition"]
                   and r["metric"] == m) for m in ("risk under-forecast", "risk forecast error"))
    text += (f"Colliders rewired and proxies decoupled on the main markets: "
             f"{says('proxies decouple, colliders rewire', 'risk forecast error')}. ")
    text += ("The positive control (screening's proxies of latent drivers decouple after the "
             "selection; shift minus no shift, screening's risk forecast error "
             f"{_iv(pe['edge'], pe['ci_low'], pe['ci_high'], fmt='{:+.3f}')}, Holm p "
             f"{pe['p_adjusted']:.2g}, and under-forecast, mean log(realised / predicted), "
             f"{_iv(pc['edge'], pc['ci_low'], pc['ci_high'], fmt='{:+.3f}')}, Holm p "
             f"{pc['p_adjusted']:.2g}) "
             + ("**was detected**: the study can see an edge that exists by construction. "
                if detected else
                "**was not detected**: with these markets the study lacks the power to see "
                "even an edge that exists by construction, so its other verdicts say little. "))
    text += (f"Power: {n} markets per condition; the median half-width of a 95% interval on "
             f"volatility is {100 * float(np.median(half)):.2f} pp.")
    return text


# --- the regime map ----------------------------------------------------------------------------

REGIMES: dict[str, tuple[Any, ...]] = {
    "n_assets": (14, 60, 200),
    "beta_persistence": (0.9, 0.98, 0.995),
    "beta_noise": (0.1, 0.25, 0.5),
    "n_nonlinear": (0, 1, 2),
    "idio_vol": (0.005, 0.01, 0.02),
    "n_common": (2, 4, 8),
}
"""One factor at a time around the default synthetic market (its value in the middle)."""
QUICK_REGIMES: dict[str, tuple[Any, ...]] = {"n_assets": (14, 30), "beta_noise": (0.1, 0.5)}
COVARIANCES = ("sample", "ledoit_wolf", "implied")
EDGES = (
    ("HSP true drivers - HRP (sample cov)", "hsp_true_sample", "hrp_sample"),
    ("HSP true drivers - HRP (Ledoit-Wolf cov)", "hsp_true_ledoit_wolf", "hrp_ledoit_wolf"),
    ("HSP true drivers, implied cov - HRP (sample cov)", "hsp_true_implied", "hrp_sample"),
    ("HSP selected drivers - HRP (sample cov)", "hsp_selected", "hrp_sample"),
    ("HSP true drivers - minimum variance", "hsp_true_sample", "minvar"),
)


def _cov(value: str) -> str:
    """The hierarchical mappings' covariance parameter for ``value`` (sample/ledoit_wolf/
    implied), spelled as the installed version names it."""
    from causalfolio.plugins.mapping.hsp import Hsp

    names = {p.name for p in Hsp.parameters()}
    key = "covariance" if "covariance" in names else "shrinkage"
    for spelling in ((value, "none") if value == "sample" else (value,)):
        try:
            cf.parse_spec(f"rccp|linear|beta|static|hsp({key}='{spelling}')")
        except cf.SpecError:
            continue
        return f"{key}='{spelling}'"
    raise cf.SpecError(f"hsp has no covariance estimator {value!r}")


def _with(component: str, option: str) -> str:
    """``hsp`` + ``a=1`` -> ``hsp(a=1)``; ``hsp(b=2)`` + ``a=1`` -> ``hsp(b=2,a=1)``."""
    return component[:-1] + f",{option})" if component.endswith(")") else f"{component}({option})"


def _regime_strategies(m: Any, rec: str) -> dict[str, str]:
    """Strategy specs of one market: the true drivers come from its truth (names differ per
    seed), so this part runs backtests market by market rather than as one ablation grid."""
    head = f"{_true_drivers(m)}|linear(lags=[0,1])|beta|static"
    out = {f"hsp_true_{c}": f"{head}|{_with(rec.split('|')[-1], _cov(c))}"
           for c in COVARIANCES}
    out["hsp_selected"] = rec
    out.update(hrp_sample=f"hrp({_cov('sample')})", hrp_ledoit_wolf=f"hrp({_cov('ledoit_wolf')})",
               minvar="mvo")
    return out


def _regime_market(task: tuple[str, Any, int, str, dict]) -> dict[str, dict[str, float]]:
    factor, level, seed, rec, base = task
    m = synthetic_market(seed=seed, **{**base, factor: level})
    specs = _regime_strategies(m, rec)
    cfg = BacktestConfig(diagnostics=False)
    res = run_backtest(m, list(specs.values()), cfg)
    by_spec = {cf.parse_spec(v).spec: k for k, v in specs.items()}
    return {by_spec[label]: {"annual_volatility": float(s.metrics["annual_volatility"]),
                             "sharpe": float(s.metrics["sharpe"])}
            for label, s in res.strategies.items()}


def regime_map(study: Study, rec: str) -> dict:
    regimes = QUICK_REGIMES if study.quick else REGIMES
    tasks = [(f, lvl, s, rec, study.market) for f, lvls in regimes.items() for lvl in lvls
             for s in study.regime_seeds]
    with _pool(study.workers) as pool:
        per = list(pool.map(_regime_market, tasks))
    cells: dict[tuple[str, Any], list[dict]] = {}
    for (f, lvl, *_), r in zip(tasks, per, strict=True):
        cells.setdefault((f, lvl), []).append(r)
    rows = []
    for (f, lvl), markets in cells.items():
        for name, a, b in EDGES:
            for metric, sign in (("annual_volatility", -1.0), ("sharpe", 1.0)):
                x = [sign * mk[a][metric] for mk in markets]
                y = [sign * mk[b][metric] for mk in markets]
                rows.append({"factor": f, "level": lvl, "arm": name, "metric": metric,
                             **paired(x, y)})
    adjust(rows)
    return {"regimes": {k: list(v) for k, v in regimes.items()}, "seeds": list(study.regime_seeds),
            "rows": rows, "bounds": "long-only, no weight bounds (0-100%)",
            "n_tests": len(rows)}


def regime_figures(regime: dict, folder: Path) -> list[Path]:
    """One PNG per metric: the edge against each factor's level, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = pd.DataFrame(regime["rows"])
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric, title in (("annual_volatility", "volatility edge (pp, > 0: HSP less volatile)"),
                          ("sharpe", "Sharpe edge (> 0: HSP better)")):
        factors = list(regime["regimes"])
        fig, axes = plt.subplots(1, len(factors), figsize=(3.2 * len(factors), 3.4),
                                 sharey=True, squeeze=False)
        scale = 100.0 if metric == "annual_volatility" else 1.0
        for ax, f in zip(axes[0], factors, strict=True):
            sub = rows[(rows["factor"] == f) & (rows["metric"] == metric)]
            levels = list(regime["regimes"][f])
            xs = np.arange(len(levels))
            for j, (name, _, _) in enumerate(EDGES):
                e = sub[sub["arm"] == name].set_index("level").reindex(levels)
                off = (j - (len(EDGES) - 1) / 2) * 0.08
                ax.errorbar(xs + off, scale * e["edge"],
                            yerr=[scale * (e["edge"] - e["ci_low"]),
                                  scale * (e["ci_high"] - e["edge"])],
                            fmt="o-", ms=3, lw=1, capsize=2, label=name)
            ax.axhline(0.0, color="black", lw=0.6)
            ax.set_xticks(xs, [str(v) for v in levels])
            ax.set_xlabel(f)
        axes[0][0].set_ylabel(title)
        axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(f"Where does HSP help? {title}; mean over "
                     f"{len(regime['seeds'])} markets per cell, 95% intervals", fontsize=9)
        fig.tight_layout()
        p = folder / f"regime-{metric}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


# --- the shift map: where, under distribution shift, causal allocation helps -------------------

SHIFT_MAP: dict[str, str] = {
    "none": "none",
    "driver_vol x1.5": f"driver_vol:start={C8_SHIFT_DAY}:strength=1.5",
    "driver_vol x2": f"driver_vol:start={C8_SHIFT_DAY}:strength=2",
    "proxy_decouple 1": f"proxy_decouple:start={C8_SHIFT_DAY}:strength=1",
    "intervention x2": f"intervention:start={C8_SHIFT_DAY}:strength=2",
    "intervention x3": f"intervention:start={C8_SHIFT_DAY}:strength=3",
}
"""Shift conditions of the map (kind x strength): one persistent shift from day ``C8_SHIFT_DAY``,
after the one driver selection; the same seeds in every condition (common random numbers)."""
QUICK_SHIFT_MAP = {k: SHIFT_MAP[k] for k in ("none", "driver_vol x2", "proxy_decouple 1")}
SHIFT_MARKETS = 80
"""Markets per condition of the full map (seeds 0..79)."""
SHIFT_BOUNDS = {"unbounded": (0.0, 1.0), "3-10%": BOUNDS}
SHIFT_PERIODS = ("early", "late")
SHIFT_TARGET = 0.005
"""The effect on annualised volatility the map is sized to resolve (0.5 pp)."""
SHIFT_ARMS = {
    "true drivers": "{true}|linear(lags=[0,1])|beta|static|hsp",
    "correlation screening": C8_ASSOC,
    "pcmci": "pcmci(k=4)|linear(lags=[0,1])|beta|static|hsp",
    "hrp": "hrp",
}
"""HSP on three driver sets and HRP: the same bisection on the sample covariance of the same
126-day window, so HSP and HRP differ only in the tree."""
SHIFT_EDGES = (
    ("tree: HSP on true drivers vs HRP", "true drivers", "hrp"),
    ("tree: HSP on screening picks vs HRP", "correlation screening", "hrp"),
    ("drivers: true vs screening picks (HSP)", "true drivers", "correlation screening"),
    ("drivers: pcmci vs screening picks (HSP)", "pcmci", "correlation screening"),
)
"""(name, arm, reference): edge = volatility of the reference - volatility of the arm (> 0: the
arm, the more causal one, is less volatile)."""
NO_DIFFERENCE = "does not matter"


def _period_vols(nav: pd.Series, dates: Any) -> dict[str, float]:
    """Annualised volatility of daily returns in the early and the late half of the days from
    the shift on (``dates``: the market's trading days)."""
    from causalfolio.backtest.metrics import performance

    post = dates[C8_SHIFT_DAY:]
    half = len(post) // 2
    out = {}
    for period, days in zip(SHIFT_PERIODS, (post[:half], post[half:]), strict=True):
        seg = nav[(nav.index >= days[0]) & (nav.index <= days[-1])]
        before = nav[nav.index < days[0]].iloc[-1:]  # the first day's return needs the NAV before
        out[period] = float(performance(pd.concat([before, seg]))["annual_volatility"])
    return out


def _shift_market(task: tuple[int, str, str, dict[str, Any]]) -> dict[str, Any]:
    """One market of one shift condition: every arm under both weight bounds on the same market
    (one stage cache, so the bounds reuse the selection and the dynamics); volatility per period."""
    import hashlib
    import warnings

    seed, cond, shifts, kw = task
    m = synthetic_market(seed=seed, shifts=shifts, **kw)
    specs = {arm: s.format(true=_true_drivers(m)) for arm, s in SHIFT_ARMS.items()}
    cache: dict[str, Any] = {}
    vols: dict[str, dict[str, dict[str, float]]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for bounds, (lo, hi) in SHIFT_BOUNDS.items():
            res = run_backtest(m, list(specs.values()),
                               _select_once(m, min_weight=lo, max_weight=hi, diagnostics=False),
                               cache=cache)
            by_spec = {cf.parse_spec(v).spec: k for k, v in specs.items()}
            vols[bounds] = {by_spec[label]: _period_vols(s.nav, m.dates)
                            for label, s in res.strategies.items()}
    assets = np.ascontiguousarray(m.assets.to_numpy(dtype=float))
    return {"seed": seed, "condition": cond, "vols": vols,
            "assets_sha": hashlib.sha256(assets.tobytes()).hexdigest()[:16]}


def shift_verdict(r: dict, target: float = SHIFT_TARGET) -> str:
    """Helps / hurts (Holm) as :func:`verdict`; *does not matter* when not significant and the 95%
    interval lies inside +-``target``; *inconclusive* otherwise."""
    v = verdict(r["edge"], r["ci_low"], r["ci_high"], r["p_adjusted"])
    if v == UNSURE and -target < r["ci_low"] and r["ci_high"] < target:
        return NO_DIFFERENCE
    return v


def shift_map(study: Study) -> dict:
    """The map: paired volatility edges per (shift kind x strength, bounds, period, comparison),
    Holm over the whole map."""
    from scipy import stats

    conditions = QUICK_SHIFT_MAP if study.quick else SHIFT_MAP
    seeds = study.shift_seeds
    kw = C8_QUICK if study.quick else C8_MARKET
    tasks = [(s, cond, text, kw) for cond, text in conditions.items() for s in seeds]
    with _pool(study.workers) as pool:
        flat = list(pool.map(_shift_market, tasks))
    rows = []
    for cond in conditions:
        markets = [r for r in flat if r["condition"] == cond]
        for bounds in SHIFT_BOUNDS:
            for period in SHIFT_PERIODS:
                for name, arm, ref in SHIFT_EDGES:
                    x = [mk["vols"][bounds][ref][period] for mk in markets]
                    y = [mk["vols"][bounds][arm][period] for mk in markets]
                    n = len(x)
                    diff = np.subtract(x, y)
                    same = bool(np.all(np.abs(diff) < 1e-12))  # e.g. bounds that fix every weight
                    r = {"condition": cond, "bounds": bounds, "period": period,
                         "comparison": name, "metric": "annual_volatility",
                         "seeds": [mk["seed"] for mk in markets],
                         "markets": [mk["assets_sha"] for mk in markets], "identical": same,
                         **({"edge": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0,
                             "n_markets": n} if same else paired(x, y))}
                    sd = float(np.std(diff, ddof=1)) if n > 1 else float("nan")
                    r["half_width"] = (r["ci_high"] - r["ci_low"]) / 2
                    # smallest edge a two-sided 5% test finds with 80% power (unadjusted)
                    r["mde80"] = (float(stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1))
                                  * sd / np.sqrt(n)) if n > 1 else float("nan")
                    rows.append(r)
    adjust(rows)
    for r in rows:
        r["verdict"] = shift_verdict(r)
    return {"conditions": dict(conditions), "seeds": list(seeds), "market": dict(kw),
            "bounds": {k: list(v) for k, v in SHIFT_BOUNDS.items()},
            "edges": [list(e) for e in SHIFT_EDGES], "arms": dict(SHIFT_ARMS),
            "target": SHIFT_TARGET, "rows": rows, "n_tests": len(rows),
            "days": {"select": C8_SELECT_DAY, "shift": C8_SHIFT_DAY, "n_days": kw["n_days"]}}


SHIFT_COLOURS = {HOLDS: "#4daf4a", FAILS: "#e41a1c", NO_DIFFERENCE: "#bdbdbd",
                 UNSURE: "#ffffff"}
SHIFT_WORDS = {HOLDS: "helps", FAILS: "hurts", NO_DIFFERENCE: "does not matter",
               UNSURE: "inconclusive"}


def shift_figures(sm: dict, folder: Path) -> list[Path]:
    """One PNG: a panel per comparison, a cell per (condition; bounds x period), coloured by
    helps / hurts / does not matter / inconclusive and labelled with the edge and half-width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = pd.DataFrame(sm["rows"])
    conds = list(sm["conditions"])
    cols = [(b, p) for b in sm["bounds"] for p in SHIFT_PERIODS]
    names = [e[0] for e in sm["edges"]]
    folder.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 0.55 * len(conds) + 2.0),
                             sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        sub = rows[rows["comparison"] == name].set_index(["condition", "bounds", "period"])
        for i, c in enumerate(conds):
            for j, (b, p) in enumerate(cols):
                r = sub.loc[(c, b, p)]
                ax.add_patch(plt.Rectangle((j, i), 1, 1, fc=SHIFT_COLOURS[r["verdict"]],
                                           ec="black", lw=0.4))
                ax.text(j + 0.5, i + 0.5, f"{100 * r['edge']:+.2f}\n±{100 * r['half_width']:.2f}",
                        ha="center", va="center", fontsize=6)
        ax.set_xlim(0, len(cols))
        ax.set_ylim(len(conds), 0)
        ax.set_xticks(np.arange(len(cols)) + 0.5, [f"{b}\n{p}" for b, p in cols], fontsize=6)
        ax.set_yticks(np.arange(len(conds)) + 0.5, conds, fontsize=7)
        ax.set_title(name, fontsize=7)
    handles = [Patch(fc=SHIFT_COLOURS[v], ec="black", lw=0.4, label=SHIFT_WORDS[v])
               for v in SHIFT_COLOURS]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle("Under shift, where does causal allocation help? Volatility edge in pp "
                 f"(> 0: the first arm less volatile) ± 95% half-width; {len(sm['seeds'])} "
                 f"paired markets per cell; Holm over {sm['n_tests']} tests; does not matter: "
                 f"interval inside ±{100 * sm['target']:.1f} pp", fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    p = folder / "shiftmap-annual_volatility.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return [p]


# --- the document ------------------------------------------------------------------------------


def _iv(m: float, lo: float, hi: float, scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    f = fmt.format
    return f"{f(scale * m)} [{f(scale * lo)}, {f(scale * hi)}]"


def _scaled(metric: str) -> tuple[float, str]:
    """Volatility edges in percentage points, the rest as numbers."""
    return (100.0, "{:+.2f} pp") if metric == "annual_volatility" else (1.0, "{:+.3f}")


def _rows_table(rows: list[dict], *, first: str = "comparison",
                metric: str = "share / RMSE") -> list[str]:
    out = [f"| {first} | metric | edge [95% CI] | p | Holm p | verdict |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        m = r.get("metric", metric)
        scale, fmt = _scaled(m)
        note = f" (identical to `{r['identical_to']}`)" if r.get("identical_to") else ""
        iv = _iv(r["edge"], r["ci_low"], r["ci_high"], scale, fmt)
        out.append(f"| {r[first]}{note} | {m} | {iv} | {r['p_value']:.3g} | "
                   f"{r['p_adjusted']:.3g} | {r['verdict']} |")
    return out


def _detail(claim: dict) -> str:
    """C1 has two parts: fewer colliders (the tested verdict) and avoiding them entirely."""
    if claim["id"] != "C1" or claim["verdict"] != HOLDS:
        return ""
    avoid = any(t["collider"][2] < 0.05 for tab in claim["tables"].values() for t in tab
                if t["selector"] != "correlation screening")
    return ("" if avoid else " for *fewer* colliders; *does not hold* for *avoiding* them (no "
            "selector's collider share is below 5% with 95% confidence)")


COMPANIONS = [
    "Companion studies, run by hand (their commands are inside; a regeneration of this file "
    "keeps these links):", "",
    "- [claims/pcmci.md](claims/pcmci.md): C1 for the conditional-independence selector `pcmci` "
    "(collider, proxy and true-driver shares with intervals at 50, 240 and 2,000 candidates; "
    "speed against tigramite).",
    "- [claims/crash-2020.md](claims/crash-2020.md): real data, a natural shift: predicted "
    "against realised risk of every selector through the 2020 crash (bootstrap replicas of one "
    "path).",
]
"""Hand-run studies beside the generated ones, linked from the verdicts."""


def render(results: dict, study: Study, figures: list[Path], doc: Path) -> str:
    meta = results["meta"]
    lines = ["# The monograph's claims, tested", "",
             "Generated by `examples/claims.py` "
             f"({QUICK_NOTE if study.quick else 'full study'}; wall time "
             f"{meta['wall_s'] / 60:.1f} min on {meta['cores']} cores, {meta['workers']} worker "
             f"processes, {meta['date']}).", "",
             PROTOCOL.format(dev=list(study.dev), eval=list(study.eval)),
             "", "## Verdicts", "", "| claim | § | verdict |", "|---|---|---|"]
    claims = [results[c] for c in ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8")
              if c in results]
    for c in claims:
        lines.append(f"| {c['id']}: {c['title']} | {c['section']} | **{c['verdict']}**"
                     f"{_detail(c)} |")
    lines += ["", *COMPANIONS]
    if "choose" in results:
        ch = results["choose"]
        lines += ["", "## The recommended pipeline", "",
                  f"Command: `{study.command('choose')}`", "",
                  f"Chosen on the development seeds {ch['dev_seeds']}"
                  + (f" in the worlds {', '.join(f'`{w}`' for w in ch['shifts'])} (shifts of "
                     "`synthetic_market`)" if ch.get("shifts") else "")
                  + f" by mean Sharpe among `{ch['grid']}`: **`{ch['chosen']}`**. This is the "
                  "pipeline `causalfolio demo` runs and the one C2, C5 and C6 evaluate. Mean "
                  "Sharpe on the development seeds:", ""]
        worlds = list(ch.get("shifts") or [])
        lines += ["| pipeline | mean Sharpe (dev) |" + "".join(f" {w} |" for w in worlds),
                  "|---|---|" + "---|" * len(worlds)]
        lines += [f"| `{k}` | {v:.3f} |"
                  + "".join(f" {ch['by_world'][k].get(w, float('nan')):.3f} |" for w in worlds)
                  for k, v in ch["mean_sharpe"].items()]
    for c in claims:
        lines += ["", f"## {c['id']}: {c['title']} ({c['section']})", "",
                  f"> {c['quote']}", "", f"**Experiment.** {c['experiment']}", "",
                  f"Command: `{study.command(c['id'])}`", ""]
        if c["id"] == "C1":
            for case, table in c["tables"].items():
                lines += [f"Shares of the picks, {case} (mean [95% CI] over markets):", "",
                          "| selector | " + " | ".join(LABELS) + " |",
                          "|---|" + "---|" * len(LABELS)]
                lines += [f"| {t['selector']} (`{t['spec']}`) | "
                          + " | ".join(_iv(*t[lab]) for lab in LABELS) + " |" for t in table]
                lines.append("")
            lines += _rows_table(c["rows"], first="comparison")
        elif c["id"] == "C8":
            lines += _c8_lines(c)
        elif c["id"] == "C7":
            lines += ["Path RMSE of the sensitivities (mean [95% CI] over markets):", "",
                      "| model | nonlinear driver | linear drivers |", "|---|---|---|"]
            lines += [f"| {m} | {_iv(*t['nonlinear'], fmt='{:.3f}')} | "
                      f"{_iv(*t['linear'], fmt='{:.3f}')} |" for m, t in c["tables"].items()]
            lines += [""] + _rows_table(c["rows"])
        else:
            lines += [f"Reference: `{c['reference']}`. Mean metrics over the markets:", "",
                      "| strategy | Sharpe | volatility | max drawdown | turnover |",
                      "|---|---|---|---|---|"]
            lines += [f"| `{k}` | {v['sharpe']:.3f} | {100 * v['annual_volatility']:.2f}% | "
                      f"{100 * v['max_drawdown']:.2f}% | {100 * v['turnover']:.2f}% |"
                      for k, v in c["means"].items()]
            lines += ["", "Edges (oriented so that > 0 is what the claim says; volatility in "
                      "percentage points, > 0 = less volatile):", ""] + _rows_table(c["rows"])
            for real in c.get("real", []):
                lines += ["", f"Real data, period `{real['period']}` ({real['dates']}), "
                          f"`{real['spec']}`, {real['replicas']} stationary-bootstrap replicas "
                          f"(replica 0 = the data): **{real['verdict']}**", ""]
                lines += _rows_table(real["rows"])
        lines += ["", f"**Verdict: {c['verdict']}{_detail(c)}.** {c['reason']}"]
    if "regime" in results:
        rg = results["regime"]
        lines += ["", "## Where, if anywhere, does HSP help? The regime map", "",
                  f"Command: `{study.command('regime')}`", "",
                  "One factor of the synthetic market at a time around its default, "
                  f"{len(rg['seeds'])} markets (seeds {rg['seeds']}) per cell, {rg['bounds']}. "
                  "HSP differs from HRP only in its tree (both bisect on a covariance), so the "
                  "bisection's covariance is a factor too: sample, Ledoit-Wolf, and the "
                  "sensitivity-implied B Sigma_D B' + diag(Sigma_res) of §8.4. Edges are paired "
                  f"over markets; Holm over all {rg['n_tests']} tests of the map.", ""]
        for p in (p for p in figures if p.stem.startswith("regime")):
            lines.append(f"![{p.stem}]({os.path.relpath(p, doc.parent)})")
        wins = [r for r in rg["rows"] if r["verdict"] == HOLDS]
        losses = [r for r in rg["rows"] if r["verdict"] == FAILS]
        lines += ["", "Significant after Holm (edge > 0: HSP better):", ""]
        if not wins and not losses:
            lines.append("- none: in no regime of this map does any HSP variant differ from "
                         "HRP or minimum variance by more than the noise across markets.")
        for r in wins + losses:
            scale, fmt = _scaled(r["metric"])
            lines.append(f"- {r['factor']}={r['level']}: {r['arm']}, {r['metric']}: "
                         f"{_iv(r['edge'], r['ci_low'], r['ci_high'], scale, fmt)}, "
                         f"Holm p {r['p_adjusted']:.3g} ({r['verdict']})")
        lines += ["", regime_summary(rg)]
    if "shiftmap" in results:
        lines += shift_lines(results["shiftmap"], study.command("shiftmap"),
                             [p for p in figures if p.stem.startswith("shiftmap")], doc)
    return "\n".join(lines) + "\n"


def _c8_lines(c: dict) -> list[str]:
    """C8's tables: mean metrics per condition and arm, what screening picked, the edges."""
    out = ["Mean over markets [95% CI] (risk forecast error: mean |log(realised / predicted "
           "volatility)| after the shift; volatility in %):", "",
           "| condition | arm | risk forecast error (model) | under-forecast (model) | "
           "error (sample cov.) | volatility | max drawdown | Sharpe |",
           "|---|---|---|---|---|---|---|---|"]
    for cond, arms in c["tables"].items():
        for arm, t in arms.items():
            model, bias = (("n/a" if not np.isfinite(t[k][0]) else _iv(*t[k], fmt="{:.3f}"))
                           for k in ("risk_error_model", "risk_bias_model"))
            out.append(f"| {cond} | {arm} | {model} | {bias} | "
                       f"{_iv(*t['risk_error_sample'], fmt='{:.3f}')} | "
                       f"{_iv(*t['annual_volatility'], 100.0)} | "
                       f"{_iv(*t['max_drawdown'], 100.0)} | {_iv(*t['sharpe'])} |")
    out += ["", "What correlation screening picked (share of its 4 picks by true role):", "",
            "| condition | " + " | ".join(LABELS) + " |", "|---|" + "---|" * len(LABELS)]
    out += [f"| {cond} | " + " | ".join(_iv(*p[lab]) for lab in LABELS) + " |"
            for cond, p in c["picks"].items()]
    out += ["", "Edges (> 0: what the claim says; risk forecast error and volatility lower, "
            "drawdown shallower, Sharpe higher; volatility in pp):", ""]
    return out + _rows_table(c["rows"])


def regime_summary(rg: dict) -> str:
    """Plain words: where the causal tree helps, where it hurts, and what matters more."""
    rows = pd.DataFrame(rg["rows"])
    win = rows[rows["verdict"] == HOLDS]
    lose = rows[rows["verdict"] == FAILS]
    half = (rows["ci_high"] - rows["ci_low"]) / 2
    vol = rows["metric"] == "annual_volatility"
    power = (f" With {len(rg['seeds'])} markets per cell the map can only see large edges: the "
             f"median half-width of a 95% interval is {100 * half[vol].median():.2f} pp of "
             f"volatility and {half[~vol].median():.2f} of Sharpe ratio.")
    if win.empty and lose.empty:
        return power + (" **In plain words:** the causal approach wins nowhere on this map: no HSP "
                "variant (true or selected drivers, any bisection covariance) has a volatility "
                "or Sharpe edge over HRP or minimum variance that survives the correction for "
                "the number of regimes tried. On these markets the sensitivity tree adds "
                "nothing measurable to what the covariance bisection already does.")
    parts = []
    if not win.empty:
        parts.append("HSP is better where: " + "; ".join(
            f"{r.arm} ({r.metric}) at {r.factor}={r.level}" for r in win.itertuples()))
    if not lose.empty:
        parts.append("HSP is worse where: " + "; ".join(
            f"{r.arm} ({r.metric}) at {r.factor}={r.level}" for r in lose.itertuples()))
    return power + " **In plain words:** " + ". ".join(parts) + "."


def shift_lines(sm: dict, command: str, figures: list[Path], doc: Path) -> list[str]:
    """The shift map's section: design, power, figure, the table of edges, plain words."""
    rows = pd.DataFrame(sm["rows"])
    n = len(sm["seeds"])
    d = sm["days"]
    half, mde = 100 * rows["half_width"], 100 * rows["mde80"]
    post = d["n_days"] - d["shift"]
    kw = ", ".join(f"{k}={v}" for k, v in sm["market"].items())
    out = ["", "## Under distribution shift, where does causal allocation help? The shift map", "",
           f"Command: `{command}`", "",
           f"**Design.** {len(sm['conditions'])} shift conditions (kind x strength: "
           + ", ".join(f"{k} = `{v}`" for k, v in sm["conditions"].items())
           + f") on `synthetic_market({kw})`, the markets of C8. The same {n} seeds "
           f"({sm['seeds'][0]}..{sm['seeds'][-1]}) in every condition, and every arm and both "
           "weight bounds on the same market: each comparison is paired within a market "
           "(common random numbers), and a shift is the only difference between two conditions' "
           f"markets. Drivers are selected once, at the first rebalance on or after day "
           f"{d['select']}; the shift starts on day {d['shift']} and stays. Time since the shift: "
           f"the early half of the {post} days after it (the 126-day estimation windows still "
           "straddle the shift) and the late half, computed from the same backtests. Weight "
           "bounds: unbounded (long-only, 0-100%) and 3-10% (the claims protocol). Arms: HSP on "
           "the true drivers (`fixed`), on correlation screening "
           f"(`{sm['arms']['correlation screening']}`), on conditional-independence discovery "
           f"(`{sm['arms']['pcmci']}`), and HRP; HSP and HRP bisect the sample covariance of the "
           "same window, so *tree* comparisons (HSP vs HRP) isolate what the sensitivity tree "
           "adds and *drivers* comparisons (HSP vs HSP) what the choice of drivers adds. Edge: "
           "the reference's annualised volatility minus the arm's, in pp (> 0: the first-named "
           "arm, the more causal one, is less volatile); paired t-test over markets; Holm over "
           f"all {sm['n_tests']} tests of the map. Verdicts: *helps* / *hurts* when the interval "
           "excludes 0 and Holm p < 0.05; *does not matter* when not significant and the "
           f"(unadjusted) 95% interval lies inside ±{100 * sm['target']:.1f} pp; *inconclusive* "
           "otherwise.", "",
           f"**Power.** Target: resolve {100 * sm['target']:.1f} pp of volatility. Reached with "
           f"{n} paired markets per cell: median half-width of the 95% intervals "
           f"{half.median():.2f} pp (range {half.min():.2f}-{half.max():.2f}); smallest edge a "
           f"5% test detects with 80% power (unadjusted) median {mde.median():.2f} pp (max "
           f"{mde.max():.2f}); {int((half < 100 * sm['target']).sum())} of {len(rows)} cells "
           f"have a half-width below {100 * sm['target']:.1f} pp.", ""]
    out += [f"![{p.stem}]({os.path.relpath(p, doc.parent)})" for p in figures]
    names = [e[0] for e in sm["edges"]]
    out += ["", "Volatility edge in pp [95% CI], Holm p, verdict:", "",
            "| condition | bounds | period | " + " | ".join(names) + " |",
            "|---|---|---|" + "---|" * len(names)]
    for (c, b, p), g in rows.groupby(["condition", "bounds", "period"], sort=False):
        cells = []
        for name in names:
            r = g[g["comparison"] == name].iloc[0]
            cells.append(f"{_iv(r['edge'], r['ci_low'], r['ci_high'], 100.0, '{:+.2f}')}, "
                         f"{r['p_adjusted']:.2g}, {SHIFT_WORDS[r['verdict']]}")
        out.append(f"| {c} | {b} | {p} | " + " | ".join(cells) + " |")
    return out + ["", shift_summary(sm)]


def shift_summary(sm: dict) -> str:
    """Plain words: per comparison, where it helps, hurts, does not matter."""
    rows = pd.DataFrame(sm["rows"])
    parts = []
    for name, *_ in sm["edges"]:
        g = rows[rows["comparison"] == name]
        where = {v: [f"{r.condition} ({r.bounds}, {r.period})"
                     for r in g[g["verdict"] == v].itertuples()] for v in SHIFT_WORDS}
        said = [f"{SHIFT_WORDS[v]} in {len(c)} of {len(g)} cells"
                + (f" ({'; '.join(c)})" if v in (HOLDS, FAILS) and c else "")
                for v, c in where.items() if c]
        parts.append(f"*{name}*: " + ", ".join(said) + ".")
    return "**In plain words:** " + " ".join(parts)


# --- the command line --------------------------------------------------------------------------

PARTS = ("choose", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "regime", "shiftmap")


def run(study: Study, only: Sequence[str], doc: Path) -> dict:
    """Run the parts in ``only`` (results of the others are read back from ``study.out``)."""
    study.out.mkdir(parents=True, exist_ok=True)
    store = study.out / "claims.json"
    results: dict[str, Any] = json.loads(store.read_text()) if store.is_file() else {}
    t0 = time.perf_counter()
    timings = dict(results.get("meta", {}).get("part_seconds", {}))

    def part(name: str, fn: Callable[[], Any]) -> None:
        if name not in only:
            return
        t = time.perf_counter()
        print(f"[claims] {name} ...", file=sys.stderr, flush=True)
        results[name] = fn()
        timings[name] = time.perf_counter() - t
        print(f"[claims] {name} done in {timings[name]:.0f}s", file=sys.stderr, flush=True)
        _save(store, results)

    part("choose", lambda: choose(study))
    part("C8", lambda: claim_c8(study))  # these two need no recommended pipeline
    part("shiftmap", lambda: shift_map(study))
    if "choose" not in results and set(only) - {"C8", "shiftmap"}:
        raise SystemExit("run the 'choose' part first (--only choose)")
    rec = results.get("choose", {}).get("chosen", "")
    part("C1", lambda: claim_c1(study))
    part("C2", lambda: claim_c2(study, rec))
    part("C3", lambda: claim_c3(study))
    part("C4", lambda: claim_c4(study))
    part("C5", lambda: claim_c5(study, rec))
    part("C6", lambda: claim_c6(study, rec))
    part("C7", lambda: claim_c7(study))
    part("regime", lambda: regime_map(study, rec))
    results["meta"] = {"wall_s": sum(timings.values()), "part_seconds": timings,
                       "cores": os.cpu_count(), "workers": study.workers,
                       "date": time.strftime("%Y-%m-%d"), "quick": study.quick,
                       "last_run_s": time.perf_counter() - t0}
    figures = (regime_figures(results["regime"], doc.parent / "claims")
               if "regime" in results else [])
    if "shiftmap" in results:
        figures += shift_figures(results["shiftmap"], doc.parent / "claims")
    _save(store, results)
    text = render(results, study, figures, doc)
    tmp = doc.with_name(f".{doc.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, doc)
    return results


def _save(path: Path, results: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(results, indent=1, default=_plain))
    os.replace(tmp, path)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI size (checks the machinery only)")
    ap.add_argument("--out", default="runs/claims", help="folder for claims.json")
    ap.add_argument("--doc", default="docs/claims.md", help="the Markdown file written")
    ap.add_argument("--only", default=",".join(PARTS),
                    help=f"comma-separated parts among {', '.join(PARTS)} (default: all)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap draws of the statistics")
    ap.add_argument("--shift-markets", type=int, default=None,
                    help=f"markets per condition of the shift map (default {SHIFT_MARKETS}; "
                         "2 with --quick)")
    args = ap.parse_args(argv)
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(only) - set(PARTS))
    if unknown:
        ap.error(f"unknown part(s) {unknown}; choose among {', '.join(PARTS)}")
    study = Study(quick=args.quick, out=Path(args.out), workers=args.workers,
                  n_boot=200 if args.quick else args.n_boot, shift_markets=args.shift_markets)
    run(study, only, Path(args.doc))
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
