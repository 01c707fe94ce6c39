"""Real data, a natural shift: predicted against realised risk through the 2020 crash, per driver
selector (issue #21 item 5).

skfolio's bundled S&P 500 stocks (the 14-stock US portfolio of ``examples/us_portfolio.py``) with
the candidate pool that covers the window (the S&P 500 index, the factor ETFs MTUM, QUAL, SIZE,
USMV, VLUE and the 6 other bundled stocks; nothing is downloaded). Each selector picks drivers
once, on the 252 trading days before 2020-02-03 (the last one 2020-01-31); the same pipeline
``SELECTOR|linear(lags=[0,1])|beta|static|hsp`` (training and covariance windows 252 days, long
only, no weight bounds) sets the weights on 2020-02-03, which are held constant (daily
rebalanced to the target) through 2020-06-30: the crash and its rebound. For each selector:

* predicted volatility: the portfolio's volatility under the pipeline's implied covariance
  B Sigma_D B' + diag(Sigma_res) on 2020-02-03 (``oos``'s ``predicted_vol_model``; HRP, which
  has no drivers, gets the sample covariance of the same 252 days, ``predicted_vol_sample``);
* realised volatility over 2020-02-03..2020-06-30, bias (realised - predicted), log ratio
  log(realised / predicted) (> 0: risk under-forecast), maximum drawdown.

Intervals come from stationary-bootstrap replicas of the one path (``arch.bootstrap`` through
:func:`causalfolio.ablation.markets.resample_indices`): the pre-crash history and the evaluation
months are resampled separately (assets and candidates on the same days), so every replica keeps
a calm history followed by a crash; replica 0 is the data. Replicas are draws from the bootstrap
distribution of *this one path*, not independent markets: an interval says how sure the
numbers are about the 2020 crash, not what another crash would do. Each quantity's interval is
its value on the data +- z * its standard deviation over the replicas; differences against the
reference selector are paired over replicas (:func:`causalfolio.evidence.paired_over_replicas`)
and Holm-adjusted over all comparisons.

Usage::

    python examples/crash_2020.py --replicas 20 --out runs/crash-2020 \\
        --doc docs/claims/crash-2020.md
    python examples/crash_2020.py --replicas 5 --selectors pcmci,fixed --out /tmp/crash  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from claims import adjust  # noqa: E402  (Holm and the claims' verdict rule)

SELECTION_DATE = "2020-02-03"  # first trading day after the selection window (ends 2020-01-31)
EVAL_END = "2020-06-30"
WINDOW = 252  # selection, training and covariance windows, trading days
HISTORY = 260  # trading days kept before the selection date (the windows need 253)
K = 5  # drivers per selector: as many as the all-ETF reference
ETFS = ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")
TAIL = "|linear(lags=[0,1])|beta|static|hsp"
SELECTORS: dict[str, tuple[str, str]] = {  # key -> (label, strategy spec)
    "screening": ("correlation screening", f"rccp(k={K}){TAIL}"),
    "select": ("SELECT (RCCP filters)",
               f"rccp(k={K},lags=[0,1],combine='any',max_asset_corr=0.9,max_r2=0.5){TAIL}"),
    "greedy": ("G(S) greedy", f"greedy(k={K},stop='k'){TAIL}"),
    "mlcorr": ("ML-corr", f"mlcorr(k={K},stop='k'){TAIL}"),
    "bayesnet": ("Bayesian network", f"bayesnet(k={K}){TAIL}"),
    "pcmci": ("causal discovery (pcmci)", f"pcmci(k={K}){TAIL}"),
    "fixed": ("all factor ETFs (fixed)",
              "fixed(names=[" + ",".join(repr(e) for e in ETFS) + f"]){TAIL}"),
    "hrp": ("HRP (no drivers)", "hrp"),
}
REFERENCE = "fixed"
METRICS = ("predicted_vol", "realised_vol", "bias", "log_ratio", "max_drawdown", "hindsight_vol",
           "hindsight_log_ratio", "hindsight_error")
ANNUAL = np.sqrt(252.0)
# comparisons against the reference, oriented so that > 0 means "the selector did better"
EDGES = (("log_ratio", "risk under-forecast, log(realised / predicted)", -1.0),
         ("realised_vol", "realised volatility", -1.0),
         ("max_drawdown", "maximum drawdown", 1.0),
         ("hindsight_error", "hindsight error abs(log(realised / hindsight)), the "
          "sensitivities' invariance", -1.0))
STAMP = "examples/crash_2020.py"
ALPHA = 0.05


def crash_market() -> tuple[Any, dict[str, Any], int]:
    """The US portfolio and its candidates from :data:`HISTORY` trading days before
    :data:`SELECTION_DATE` to :data:`EVAL_END`; returns (market, facts, days before the
    selection date)."""
    from causalfolio.data.real import real_market

    market, facts = real_market(None, start=SELECTION_DATE, end=EVAL_END,
                                history_days=HISTORY)
    n_pre = int((market.dates < pd.Timestamp(SELECTION_DATE)).sum())
    return market, facts, n_pre


def block_lengths(market: Any, n_pre: int) -> tuple[int, int]:
    """Politis-White automatic mean block lengths of the history and of the evaluation months."""
    from causalfolio.ablation.markets import default_block_days
    from causalfolio.data import Market

    def part(sl: slice) -> int:
        return default_block_days(Market(market.assets.iloc[sl], market.candidates.iloc[sl]))

    return part(slice(0, n_pre)), part(slice(n_pre, None))


def replica(market: Any, n_pre: int, r: int, blocks: tuple[int, int], seed: int = 0) -> Any:
    """Replica ``r`` (0: the data): the history and the evaluation months each resampled by the
    stationary bootstrap, on the original calendar."""
    from causalfolio.ablation.markets import resample_indices, resample_market

    n = len(market.dates)
    idx = np.concatenate([resample_indices(n_pre, blocks[0], seed, r),
                          n_pre + resample_indices(n - n_pre, blocks[1], seed + 1, r)])
    return resample_market(market, idx)


def evaluate(market: Any, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each selector's predicted and realised risk on one market (the data or a replica)."""
    from causalfolio.backtest import BacktestConfig, run_backtest

    cfg = BacktestConfig(start=SELECTION_DATE, end=EVAL_END, schedule=(SELECTION_DATE,),
                         driver_window=WINDOW, train_window=WINDOW, cov_window=WINDOW,
                         min_weight=0.0, max_weight=1.0, drift=False)
    specs = [SELECTORS[k][1] for k in keys if k != "hrp"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # solver chatter; failures raise
        res = run_backtest(market, specs, cfg, benchmarks=["hrp"] if "hrp" in keys else [])
    out: dict[str, dict[str, Any]] = {}
    i0 = market.dates.get_loc(pd.Timestamp(SELECTION_DATE))
    for key in keys:
        s = res.strategies[cf_label(res, SELECTORS[key][1])]
        o = s.oos.iloc[0]
        pred = o["predicted_vol_sample"] if key == "hrp" else o["predicted_vol_model"]
        real = float(o["realised_vol"])
        row = {"predicted_vol": float(pred), "realised_vol": real,
               "bias": real - float(pred),
               "log_ratio": float(np.log(real / pred)) if pred > 0 else float("nan"),
               "max_drawdown": float(s.metrics["max_drawdown"]),
               "drivers": [], "hindsight_vol": float("nan"),
               "hindsight_log_ratio": float("nan"), "hindsight_error": float("nan")}
        if key != "hrp":
            rb = s.rebalances[0]
            port = rb.risk["portfolio"]
            resid = port["model_volatility"] ** 2 - port["factor_volatility"] ** 2  # daily
            w = s.weights.iloc[0]
            hind = np.sqrt(factor_variance(market, rb.sensitivities, w, i0, len(market.dates))
                           + resid) * ANNUAL
            row.update(drivers=list(rb.selection.names), hindsight_vol=float(hind),
                       hindsight_log_ratio=float(np.log(real / hind)),
                       hindsight_error=float(abs(np.log(real / hind))))
        out[key] = row
    return out


def factor_variance(market: Any, sens: Any, weights: pd.Series, first: int, stop: int) -> float:
    """Daily factor variance w' B Sigma_D B' w of the portfolio ``weights`` with the
    sensitivities ``sens`` (B, inputs ``driver@lag``) held fixed and Sigma_D the sample
    covariance of the driver inputs on market rows ``first .. stop - 1`` (input ``d@l`` on row t:
    driver d's return on row t - l)."""
    b = np.asarray(sens.aggregate, dtype=float)
    exposure = weights.reindex(list(sens.assets)).fillna(0.0).to_numpy(dtype=float) @ b
    cols = []
    for name in sens.inputs:
        driver, _, lag = name.rpartition("@")
        c = market.candidates[driver].to_numpy(dtype=float)
        cols.append(c[first - int(lag):stop - int(lag)])
    cov = np.atleast_2d(np.cov(np.column_stack(cols), rowvar=False))
    return float(exposure @ cov @ exposure)


def cf_label(res: Any, spec: str) -> str:
    """The backtest's label (canonical spec) of a strategy given as ``spec``."""
    import causalfolio as cf

    label = spec if spec in res.strategies else cf.parse_spec(spec).spec
    if label not in res.strategies:
        raise KeyError(f"{spec} not among the backtest's strategies {list(res.strategies)}")
    return label


def interval(x: np.ndarray) -> tuple[float, float, float]:
    """The value on the data (replica 0) +- t * the standard deviation over the replicas (t: the
    97.5% quantile of Student's t with R - 1 degrees of freedom, as paired_over_replicas)."""
    from causalfolio.evidence import paired_over_replicas

    r = paired_over_replicas(x, np.zeros_like(x), alpha=ALPHA)
    return r.estimate, r.ci_low, r.ci_high


def study(replicas: int, keys: Sequence[str], *, reference: str = REFERENCE, seed: int = 0,
          block_days: int | None = None, progress: Any = None) -> dict[str, Any]:
    """Run the data and ``replicas - 1`` bootstrap replicas; returns tables, comparisons
    (Holm-adjusted, with verdicts) and the per-replica values. ``block_days``: mean block length
    of both segments (default: Politis-White on each)."""
    from causalfolio.evidence import paired_over_replicas

    market, facts, n_pre = crash_market()
    blocks = block_lengths(market, n_pre) if block_days is None else (block_days, block_days)
    per: list[dict[str, dict[str, Any]]] = []
    t0 = time.perf_counter()
    for r in range(replicas):
        per.append(evaluate(replica(market, n_pre, r, blocks, seed), keys))
        if progress:
            progress(f"replica {r + 1}/{replicas} ({time.perf_counter() - t0:.0f} s)")
    values = {k: {m: np.array([p[k][m] for p in per]) for m in METRICS} for k in keys}
    table = {k: {m: list(interval(values[k][m])) for m in METRICS} for k in keys}
    rows = []
    for k in keys:
        if k == reference:
            continue
        for m, what, sign in EDGES:
            if k == "hrp" and m in ("log_ratio", "hindsight_error"):
                continue  # no drivers: a different predictor (sample covariance)
            a, b = (values[reference][m], values[k][m]) if sign < 0 else (
                values[k][m], values[reference][m])
            t = paired_over_replicas(a, b, alpha=ALPHA)
            rows.append({"selector": k, "metric": m, "comparison":
                         f"{SELECTORS[k][0]} vs {SELECTORS[reference][0]}: {what}",
                         "edge": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high,
                         "p_value": t.p_value, "n_replicas": t.info["n_replicas"]})
    adjust(rows)
    rule = ", Politis-White" if block_days is None else ", set by --block-days"
    return {"written_by": STAMP, "replicas": replicas, "seed": seed, "blocks": list(blocks),
            "block_rule": rule,
            "reference": reference, "selectors": list(keys),
            "specs": {k: SELECTORS[k][1] for k in keys},
            "drivers": {k: per[0][k]["drivers"] for k in keys},
            "picks": {k: [p[k]["drivers"] for p in per] for k in keys},
            "stability": {k: stability([p[k]["drivers"] for p in per]) for k in keys},
            "days": {"history": n_pre, "evaluation": len(market.dates) - n_pre,
                     "first": str(market.dates[0].date()), "last": str(market.dates[-1].date())},
            "candidates": list(facts["candidates"]), "table": table, "rows": rows,
            "values": {k: {m: v.tolist() for m, v in d.items()} for k, d in values.items()},
            "seconds": time.perf_counter() - t0}


def stability(picks: Sequence[Sequence[str]]) -> dict[str, float]:
    """How the picks move over the replicas (position 0: the data): the mean Jaccard overlap of
    a replica's picks with the data's, and the share of replicas whose picks hold a market-wide
    series (the index or a factor ETF). NaN for a strategy without drivers."""
    if not picks or not picks[0]:
        return {"jaccard": float("nan"), "market_share": float("nan")}
    ref = set(picks[0])
    rest = [set(p) for p in picks[1:]] or [ref]
    return {"jaccard": float(np.mean([len(ref & p) / len(ref | p) for p in rest])),
            "market_share": float(np.mean([bool(p & {"SP500", *ETFS}) for p in rest]))}


def _iv(m: float, lo: float, hi: float, scale: float = 100.0, fmt: str = "{:.1f}") -> str:
    if not np.isfinite(m):
        return "-"
    return f"{fmt.format(m * scale)} [{fmt.format(lo * scale)}, {fmt.format(hi * scale)}]"


def verdicts(res: dict[str, Any]) -> list[str]:
    """Plain-words findings: the risk under-forecast of every selector, and the comparisons."""
    t, ref = res["table"], SELECTORS[res["reference"]][0]
    under = [k for k in res["selectors"] if t[k]["log_ratio"][1] > 0]
    lines = [("Every selector under-forecast the crash's risk: log(realised / predicted) is "
              "above zero with 95% confidence for all of them" if len(under) == len(t) else
              f"Risk under-forecast with 95% confidence for {len(under)} of {len(t)}: "
              + ", ".join(SELECTORS[k][0] for k in under))
             + f" (realised volatility {min(v['realised_vol'][0] for v in t.values()):.0%} to "
               f"{max(v['realised_vol'][0] for v in t.values()):.0%} a year against predicted "
               f"{min(v['predicted_vol'][0] for v in t.values()):.0%} to "
               f"{max(v['predicted_vol'][0] for v in t.values()):.0%})."]
    causal = [k for k in res["selectors"] if np.isfinite(t[k]["hindsight_log_ratio"][0])]
    inside = [k for k in causal
              if t[k]["hindsight_log_ratio"][1] <= 0 <= t[k]["hindsight_log_ratio"][2]]
    half = {k: (t[k]["hindsight_log_ratio"][2] - t[k]["hindsight_log_ratio"][1]) / 2
            for k in inside}
    named = f" ({', '.join(SELECTORS[k][0] for k in inside)})" if inside else ""
    lines.append(
        "Hindsight (the drivers' covariance measured over the crash, the pre-crash "
        "sensitivities and specific variances kept): log(realised / hindsight) has a 95% "
        f"interval holding 0 for {len(inside)} of {len(causal)} selectors with drivers{named}"
        + ("; for these the under-forecast is consistent with the drivers' volatility alone "
           "changing, the sensitivities staying put (consistent with, not proof of, "
           "invariance; a wide interval says little: half-widths "
           + ", ".join(f"{SELECTORS[k][0]} {half[k]:.2f}" for k in inside) + ")."
           if inside else "."))
    st = {k: v for k, v in res["stability"].items() if np.isfinite(v["jaccard"])}
    if st:
        lo = min(st, key=lambda k: st[k]["jaccard"])
        miss = [f"{SELECTORS[k][0]} {1 - v['market_share']:.0%}" for k, v in st.items()
                if v["market_share"] < 1]
        lines.append(
            f"Picks over the replicas of the history: the least stable is {SELECTORS[lo][0]} "
            f"(mean overlap {st[lo]['jaccard']:.2f} with its picks on the data); "
            + (f"share of replicas whose picks hold neither the index nor a factor ETF (a risk "
               f"model without a market factor): {', '.join(miss)}." if miss else
               "every replica's picks hold the index or a factor ETF."))
    by = {v: [r for r in res["rows"] if r["verdict"] == v]
          for v in ("holds", "does not hold", "inconclusive")}
    lines.append(f"Against {ref} (> 0: the selector did better), Holm over "
                 f"{len(res['rows'])} comparisons: better in {len(by['holds'])}, worse in "
                 f"{len(by['does not hold'])}, inconclusive in {len(by['inconclusive'])}.")
    for v, word in (("holds", "Better"), ("does not hold", "Worse")):
        if by[v]:
            lines.append(f"{word}: " + "; ".join(r["comparison"] for r in by[v]) + ".")
    return lines


def render(res: dict[str, Any], command: str, alt: dict[str, Any] | None = None) -> str:
    """The result as a markdown section (the table, the comparisons, the verdicts); ``alt``: the
    same study with another block length, shown as a robustness check (its table and
    verdicts)."""
    d = res["days"]
    out = [f"<!-- generated by {STAMP}; rerun the command below to reproduce -->",
           "# Real data, a natural shift: risk forecasts through the 2020 crash", "",
           f"Command: `{command}`", "",
           f"Data: skfolio's bundled prices, the 14-stock US portfolio, candidates "
           f"{', '.join(res['candidates'])}. Each selector picks drivers once on the {WINDOW} "
           f"trading days before {SELECTION_DATE}; `SELECTOR{TAIL}` (training and covariance "
           f"windows {WINDOW} days, long only, no weight bounds) sets the weights on "
           f"{SELECTION_DATE}, held constant to {EVAL_END} ({d['evaluation']} trading days: the "
           "crash and the rebound). Predicted volatility: the implied covariance "
           "B Sigma_D B' + diag(Sigma_res) on the selection date (HRP: the sample covariance of "
           "the same window). Realised: the same weights' daily returns over the evaluation "
           "months. Hindsight volatility (not a forecast): the pre-crash sensitivities B and "
           "specific variances with the drivers' covariance Sigma_D measured over the evaluation "
           "months: if the mechanism B held through the crash and only the drivers moved, it "
           "matches the realised volatility (log ratio near 0). Picks: the mean Jaccard overlap "
           "of each replica's drivers with those picked on the data, and the share of replicas "
           "whose drivers include the index or a factor ETF. All volatilities annualised, "
           "in %.", "",
           f"**Unit of replication: {res['replicas']} stationary-bootstrap replicas of one path** "
           f"(replica 0 = the data; the {d['history']} history days and the {d['evaluation']} "
           f"evaluation days resampled separately, mean blocks {res['blocks'][0]} and "
           f"{res['blocks'][1]} days{res['block_rule']}), not independent markets: the "
           "intervals say how sure these numbers are about the 2020 crash, not what another "
           "crash would do. "
           "Each interval is the value on the data +- t x its standard deviation over the "
           "replicas, t the 97.5% quantile of Student's t with replicas - 1 degrees of freedom "
           "(drivers are re-selected on each replica's history); differences against "
           f"the reference ({SELECTORS[res['reference']][0]}) are paired over replicas, with "
           "Holm over all comparisons.", "", *_selector_table(res)]
    out += ["", "| comparison | edge [95% CI] | p | Holm p | verdict |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        ratio = r["metric"] in ("log_ratio", "hindsight_error")
        scale, fmt = (1.0, "{:+.3f}") if ratio else (100.0, "{:+.2f}")
        unit = "" if ratio else " pp"
        out.append(f"| {r['comparison']} | "
                   f"{_iv(r['edge'], r['ci_low'], r['ci_high'], scale, fmt)}{unit} | "
                   f"{r['p_value']:.3g} | {r['p_adjusted']:.3g} | {r['verdict']} |")
    out += ["", "Edges are oriented so that > 0 means the selector did better than the "
            "reference: a smaller log ratio (less under-forecast), lower realised volatility, a "
            "shallower drawdown, a smaller hindsight error. *holds*: interval above zero and "
            "Holm p < 0.05; *does not hold*: significantly the other way; *inconclusive*: "
            "neither.", "",
            "**Verdicts.** " + " ".join(verdicts(res)), ""]
    if alt is not None:
        out += [f"## Robustness: mean block length {alt['blocks'][0]} days", "",
                f"The same study with {alt['replicas']} replicas and mean blocks of "
                f"{alt['blocks'][0]} days in both segments (`--also-block-days "
                f"{alt['blocks'][0]}`; longer blocks keep more of the crash's volatility "
                "clustering; the comparisons table is in the JSON output).", "",
                *_selector_table(alt), "", "**Verdicts.** " + " ".join(verdicts(alt)), ""]
    return "\n".join(out)


def _selector_table(res: dict[str, Any]) -> list[str]:
    t = res["table"]
    out = ["| selector | drivers (on the data) | predicted vol | realised vol | bias (pp) | "
           "log(realised / predicted) | max drawdown | hindsight vol | "
           "log(realised / hindsight) | picks: overlap with the data's, share with a market "
           "series |", "|---|---|---|---|---|---|---|---|---|---|"]
    for k in res["selectors"]:
        v = t[k]
        drivers = ", ".join(res["drivers"][k]) or "-"
        out.append(f"| {SELECTORS[k][0]} | {drivers} | {_iv(*v['predicted_vol'])} | "
                   f"{_iv(*v['realised_vol'])} | {_iv(*v['bias'])} | "
                   f"{_iv(*v['log_ratio'], scale=1.0, fmt='{:.2f}')} | "
                   f"{_iv(*v['max_drawdown'])} | {_iv(*v['hindsight_vol'])} | "
                   f"{_iv(*v['hindsight_log_ratio'], scale=1.0, fmt='{:.2f}')} | "
                   f"{_stab(res['stability'][k])} |")
    return out


def _stab(st: dict[str, float]) -> str:
    if not np.isfinite(st["jaccard"]):
        return "-"
    return f"{st['jaccard']:.2f}, {st['market_share']:.0%}"


def _ours(path: Path) -> bool:
    """A file we wrote: JSON carrying our stamp, or markdown starting with our comment."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    if path.suffix == ".json":
        try:
            return json.loads(text).get("written_by") == STAMP
        except (ValueError, AttributeError):
            return False
    return text.startswith(f"<!-- generated by {STAMP}")


def _write(path: Path, text: str) -> None:
    """Write ``text`` atomically; refuse to replace a file this script did not write."""
    from causalfolio.errors import ConfigError

    if path.exists() and not _ours(path):
        raise ConfigError(f"{path} exists and was not written by {STAMP}; choose another path")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=20,
                    help="replicas including the data itself (>= 3; 20 as in docs/claims.md)")
    ap.add_argument("--selectors", default=",".join(SELECTORS),
                    help=f"comma-separated, among {', '.join(SELECTORS)} (default: all)")
    ap.add_argument("--reference", default=REFERENCE, choices=list(SELECTORS))
    ap.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws")
    ap.add_argument("--block-days", type=int, help="mean block length of the bootstrap, trading "
                    "days (default: Politis-White, separately on the history and the crash)")
    ap.add_argument("--also-block-days", type=int, help="rerun with this mean block length in "
                    "both segments as a robustness check (its table and verdicts in the document, "
                    "everything in crash_2020.json under 'robustness')")
    ap.add_argument("--out", required=True, help="folder for crash_2020.json")
    ap.add_argument("--doc", help="also write the markdown section here")
    args = ap.parse_args(argv)
    keys = [k.strip() for k in args.selectors.split(",") if k.strip()]
    bad = [k for k in keys if k not in SELECTORS]
    if bad:
        ap.error(f"unknown selector(s) {bad}; choose among {', '.join(SELECTORS)}")
    if args.reference not in keys:
        ap.error(f"--selectors must include the reference {args.reference!r}")
    if len(keys) < 2 or len(set(keys)) != len(keys):
        ap.error("--selectors: give at least two distinct selectors")
    if args.replicas < 3:
        ap.error("--replicas must be >= 3 (the data and at least 2 bootstrap replicas)")
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    for name in ("block_days", "also_block_days"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    out = Path(args.out)
    target = out / "crash_2020.json"
    from causalfolio.errors import ConfigError

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder")
    for path in (target, Path(args.doc) if args.doc else None):  # before the minutes of work
        if path is not None and path.exists() and not _ours(path):
            raise ConfigError(f"{path} exists and was not written by {STAMP}; choose another "
                              "path")
    parts = ["python examples/crash_2020.py", f"--replicas {args.replicas}"]
    if keys != list(SELECTORS):
        parts.append(f"--selectors {','.join(keys)}")
    if args.reference != REFERENCE:
        parts.append(f"--reference {args.reference}")
    if args.seed:
        parts.append(f"--seed {args.seed}")
    if args.block_days is not None:
        parts.append(f"--block-days {args.block_days}")
    if args.also_block_days is not None:
        parts.append(f"--also-block-days {args.also_block_days}")
    command = " ".join([*parts, f"--out {args.out}"] + ([f"--doc {args.doc}"] if args.doc else []))
    if args.replicas < 20:
        print(f"note: {args.replicas} replicas, fewer than the 20 of docs/claims.md: wide, "
              "rough intervals", file=sys.stderr)
    res = study(args.replicas, keys, reference=args.reference, seed=args.seed,
                block_days=args.block_days, progress=lambda s: print(s, file=sys.stderr))
    res["command"] = command
    alt = None
    if args.also_block_days is not None:
        alt = study(args.replicas, keys, reference=args.reference, seed=args.seed,
                    block_days=args.also_block_days,
                    progress=lambda s: print(f"robustness: {s}", file=sys.stderr))
        res["robustness"] = alt
    text = render(res, command, alt)
    _write(target, json.dumps(res, indent=1, default=float))
    if args.doc:
        _write(Path(args.doc), text)
    print(text)
    return 0


if __name__ == "__main__":
    from causalfolio.errors import CausalfolioError

    try:
        sys.exit(main())
    except CausalfolioError as exc:  # one line, like the causalfolio command
        print(f"{Path(__file__).name}: error: {exc}", file=sys.stderr)
        sys.exit(2)
