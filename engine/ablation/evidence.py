"""The evidence of an ablation study: paired comparisons with a reference, marginal effects with
intervals, multiple-testing control (SPA, StepM, MCS) and selection-bias measures (DSR, PBO).

Glue between the results table of :func:`causalfolio.ablation.run_ablation` (one row per market and
combination) and the pure statistics of :mod:`causalfolio.evidence`.

Rules
-----
- One market: within-market tests of each combination against the reference on the same days
  (Sharpe: Ledoit-Wolf 2008; volatility: the annualised volatility difference with an
  equally-weighted-cosine fixed-b interval, :func:`causalfolio.evidence.volatility_diff`, which
  keeps its coverage under separate persistent volatility paths from 2000 days, and says so
  below; max drawdown: paired stationary bootstrap);
  turnover has no within-market interval (NaN, method ``n/a``).
- Several markets: a paired t-test over markets of the per-market metric values (and Wilcoxon).
- Identical arms (``identical_to`` set in every market) keep their rows but are counted once: they
  are left out of the Holm sets, of SPA/StepM/MCS/PBO and of the DSR's number of trials.
- SPA, StepM and MCS run on one market's daily returns; with several independent markets, on
  5-day returns (sums of 5 consecutive daily returns, a fifth of the bootstrap cost, the same
  mean per day) concatenated market after market (the bootstrap blocks may straddle two
  markets; with blocks of a few periods against hundreds per market this is negligible).
  Losses are negative returns: SPA/StepM ask whether a combination's expected return exceeds
  the reference's, the MCS keeps the combinations whose expected return cannot be told apart
  from the best's.
- DSR and PBO use the daily returns (concatenated over independent markets) of the distinct
  pipelines.
- Bootstrap replicas of one real dataset (``market.replica``) are not independent markets: the
  grid tests run on the data path (replica 0) alone, whose own stationary bootstrap is the
  resampling (block = the resampling's ``market.block_days``). Several datasets each with
  replicas: per dataset, combined by :data:`COMBINE_RULE` (Holm/Bonferroni over datasets).
  Every test's ``unit`` says which.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from .. import evidence as ev
from ..backtest.runfolder import to_jsonable
from ..data.io import atomic_write_bytes, atomic_write_frame
from ..errors import ConfigError, DataError
from ..evidence.result import plain

METRICS: tuple[str, ...] = ("sharpe", "annual_volatility", "max_drawdown", "turnover")
SUMMARY_COLUMNS = ["factor", "choice", "metric", "effect", "ci_low", "ci_high", "p_value",
                   "p_holm", "n_markets", "n_cells"]
COMPARISON_COLUMNS = ["id", "label", "benchmark", "metric", "reference", "diff", "ci_low",
                      "ci_high", "p_value", "p_adjusted", "identical_to", "n_markets", "method"]
REQUIRED = ("market", "id", "label", "benchmark", "status", *METRICS)


@attrs.frozen(eq=False)  # holds arrays/frames: identity equality, hashable
class StudyEvidence:
    """The statistics of one study.

    Attributes
    ----------
    summary
        Marginal effect of each choice of each factor (``factor, choice, metric, effect, ci_low,
        ci_high, p_value, p_holm, n_markets, n_cells``): mean metric with that choice minus the
        mean of the other choices of the factor, paired within each cell (market x other
        factors); interval and p-value across markets (several markets: per-market means, paired
        t) or across the cells of the one market; Holm over the rows of each metric.
    comparisons
        One row per (combination, metric) against the reference: ``diff, ci_low, ci_high,
        p_value, p_adjusted`` (Holm over the distinct combinations of that metric),
        ``identical_to``, ``n_markets``, ``method``.
    evidence
        JSON-able SPA, StepM, MCS, DSR and PBO results with their settings.
    """

    summary: pd.DataFrame
    comparisons: pd.DataFrame
    evidence: dict

    def write(self, out: str | Path) -> list[Path]:
        """Write ``summary.csv/.parquet``, ``comparisons.csv/.parquet`` and ``evidence.json``
        into the folder ``out`` (each file atomically); returns the paths."""
        out = Path(out)
        if not out.is_dir():
            raise ConfigError(f"{out} is not a folder; write the evidence into the study's "
                              "result folder")
        paths = []
        for name, frame in (("summary", self.summary), ("comparisons", self.comparisons)):
            for suffix in ("parquet", "csv"):
                p = out / f"{name}.{suffix}"
                atomic_write_frame(frame, p, index=False)
                paths.append(p)
        p = out / "evidence.json"
        atomic_write_bytes(p, json.dumps(to_jsonable(self.evidence), indent=2).encode())
        paths.append(p)
        return paths


def _missing(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _text(v: Any) -> str:
    return "" if _missing(v) else str(v)


def _is_true(v: Any) -> bool:
    return str(v).strip().lower() in ("true", "1", "1.0")


# --- inputs ------------------------------------------------------------------------------------


def _check_table(table: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise DataError("table: expected the study's results DataFrame")
    missing = [c for c in (*REQUIRED, *factors) if c not in table.columns]
    if missing:
        raise DataError(f"results table lacks columns {missing}; it must come from an ablation "
                        "with a market column")
    t = table.copy()
    t["market"] = t["market"].astype(str)
    t["id"] = t["id"].astype(str)
    t["label"] = t["label"].astype(str)
    t["benchmark"] = t["benchmark"].map(_is_true)
    if "identical_to" not in t:
        t["identical_to"] = None
    t["identical_to"] = t["identical_to"].map(lambda v: None if _missing(v) else str(v))
    dup = t.duplicated(["market", "id"])
    if dup.any():
        r = t[dup].iloc[0]
        raise DataError(f"results table has two rows for combination {r['label']!r} in market "
                        f"{r['market']!r}")
    return t


def _resolve_reference(t: pd.DataFrame, reference: str) -> tuple[str, str]:
    ok = t[t["status"] == "ok"]
    for col in ("label", "id"):
        hit = ok.loc[ok[col] == str(reference), ["id", "label"]].drop_duplicates()
        if len(hit):
            return str(hit.iloc[0]["id"]), str(hit.iloc[0]["label"])
    choices = list(dict.fromkeys(ok["label"]))
    raise ConfigError(f"reference {reference!r} is not a successful combination of this study; "
                      f"choose one of: {', '.join(choices)}")


def _market_returns(returns: Mapping[str, pd.DataFrame], market: str) -> pd.DataFrame:
    if market not in returns:
        raise DataError(f"no daily returns for market {market!r}; markets with returns: "
                        f"{', '.join(map(str, returns))}")
    r = returns[market]
    if not isinstance(r, pd.DataFrame):
        raise DataError(f"returns[{market!r}]: expected a (dates x combination ids) DataFrame")
    r = r.copy()
    r.columns = [str(c) for c in r.columns]
    return r


def _pair(r: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray] | None:
    if a not in r or b not in r:
        return None
    both = r[[a, b]].dropna()
    if len(both) < 10:
        return None
    return both[a].to_numpy(float), both[b].to_numpy(float)


# --- identical arms ----------------------------------------------------------------------------


def _study_identical(t: pd.DataFrame, ref: str, ref_label: str) -> dict[str, str]:
    """``id -> label of the first member`` for ids identical to another arm in every market.

    The reference always stays: when it belongs to a group, the other members of that group
    (the first one included) become identical to the reference.
    """
    out: dict[str, str] = {}
    ok = t[t["status"] == "ok"]
    for cid, rows in ok.groupby("id", sort=False):
        firsts = rows["identical_to"].tolist()
        if firsts and all(f is not None for f in firsts) and len(set(firsts)) == 1 \
                and firsts[0] != rows["label"].iloc[0]:
            out[str(cid)] = firsts[0]
    if ref in out:
        group = out.pop(ref)
        label_of = dict(zip(ok["id"], ok["label"], strict=False))
        for cid in list(out):
            if out[cid] == group:
                out[cid] = ref_label
        first_id = next((i for i, lab in label_of.items() if lab == group), None)
        if first_id is not None and first_id != ref:
            out[first_id] = ref_label
    return out


# --- comparisons -------------------------------------------------------------------------------


def _within_market(r: pd.DataFrame, cid: str, ref: str, t_row: pd.Series, ref_row: pd.Series,
                   metric: str, *, block: int | None, n_boot: int, seed: int,
                   alpha: float) -> dict[str, Any]:
    nan = float("nan")
    if metric == "turnover":
        return {"diff": float(t_row["turnover"]) - float(ref_row["turnover"]), "ci_low": nan,
                "ci_high": nan, "p_value": nan, "method": "n/a"}
    pr = _pair(r, cid, ref)
    if pr is None:
        return {"diff": float(t_row[metric]) - float(ref_row[metric]), "ci_low": nan,
                "ci_high": nan, "p_value": nan, "method": "n/a (no daily returns)"}
    a, b = pr
    kw: dict[str, Any] = {"block_size": block, "n_boot": n_boot, "seed": seed, "alpha": alpha}
    if metric == "sharpe":
        res = ev.sharpe_diff(a, b, **kw)
        return {"diff": res.estimate, "ci_low": res.ci_low, "ci_high": res.ci_high,
                "p_value": res.p_value, "method": res.method,
                "block_size": res.info.get("block_size")}
    if metric == "annual_volatility":  # robust to separate persistent volatility paths
        res = ev.volatility_diff(a, b, alpha=alpha)
        return {"diff": res.info.get("vol_diff", nan), "ci_low": res.info.get("vol_ci_low", nan),
                "ci_high": res.info.get("vol_ci_high", nan),
                "p_value": res.info.get("vol_p_value", nan), "method": res.method,
                **({"note": res.info["note"]} if "note" in res.info else {})}
    res = ev.metric_diff(a, b, ev.max_drawdown, vectorized=True, **kw)
    return {"diff": res.estimate, "ci_low": res.ci_low, "ci_high": res.ci_high,
            "p_value": res.p_value, "method": res.method,
            "block_size": res.info.get("block_size")}


def replica_zero(t: pd.DataFrame) -> str | None:
    """The market holding the data itself when the markets are stationary-bootstrap replicas
    of it (``market.replica`` = 0), else ``None`` (independent markets)."""
    if "market.replica" not in t.columns:
        return None
    rep = pd.to_numeric(t["market.replica"], errors="coerce")
    if rep.isna().any():
        return None
    zero = t.loc[rep == 0, "market"].unique()
    return str(zero[0]) if len(zero) == 1 else None


def _replication(t: pd.DataFrame) -> str | dict[str, list[str]] | None:
    """How the markets of a study replicate: ``None`` (independent markets), the replica-0
    market (replicas of one dataset), or :func:`datasets` (several resampled datasets)."""
    ok = t[t["status"] == "ok"]
    zero = replica_zero(ok)
    if zero is not None:
        return zero
    paths = datasets(ok)
    return paths if paths is not None and len(paths) > 1 else None


def _over_datasets(x: np.ndarray, y: np.ndarray, markets: Sequence[str],
                   paths: dict[str, list[str]], alpha: float) -> Any:
    """Several resampled datasets: each dataset's difference on its data path with its
    replicas' spread (:func:`causalfolio.evidence.paired_over_replicas`), combined as the mean
    over datasets with standard error ``sqrt(sum se_d^2) / D`` (independent datasets) and
    Student-t quantiles with the fewest replicas' degrees of freedom."""
    from scipy import stats

    pos = {m: i for i, m in enumerate(markets)}
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    parts = []
    for m0, members in paths.items():
        idx = [pos[m] for m in members if m in pos]
        if m0 in pos:
            parts.append(_over_markets(xa[idx], ya[idx], [markets[i] for i in idx], m0, alpha))
    nan = float("nan")
    ok = [r for r in parts if np.isfinite(r.estimate)]
    info = {"n_markets": len(ok), "n_datasets": len(ok),
            "by_dataset": [r.estimate for r in parts],
            "combined": "mean over datasets of the difference on each data path; se = "
                        "sqrt(sum of the datasets' replica se^2) / D; t quantiles"}
    if not ok:
        return ev.TestResult(nan, nan, nan, nan, "bootstrap-replicas-datasets", info)
    est = float(np.mean([r.estimate for r in ok]))
    ses = [r.info.get("se", nan) for r in ok]
    se = float(np.sqrt(np.sum(np.square(ses)))) / len(ok)
    dof = min(int(r.info.get("n_replicas", 0)) - 1 for r in ok)
    if not (np.isfinite(se) and se > 0 and dof >= 1):
        p = 1.0 if all(r.p_value == 1.0 for r in ok) else nan
        lo = hi = est if p == 1.0 else nan
        return ev.TestResult(est, lo, hi, p, "bootstrap-replicas-datasets", info)
    q = float(stats.t.ppf(1 - alpha / 2, dof))
    p = float(2 * stats.t.sf(abs(est) / se, dof))
    return ev.TestResult(est, est - q * se, est + q * se, p, "bootstrap-replicas-datasets",
                         {**info, "se": se})


def _over_markets(x: np.ndarray, y: np.ndarray, markets: Sequence[str],
                  replica0: str | dict[str, list[str]] | None, alpha: float) -> Any:
    """Independent markets: paired t over markets. Bootstrap replicas of one market: the
    difference on the data with the replicas' spread as its standard error. Several resampled
    datasets: :func:`_over_datasets`."""
    if replica0 is None:
        return ev.paired_over_markets(x, y, alpha=alpha)
    if isinstance(replica0, dict):
        return _over_datasets(x, y, markets, replica0, alpha)
    order = [list(markets).index(replica0)] if replica0 in markets else []
    order += [i for i in range(len(markets)) if i not in order]
    xs, ys = np.asarray(x, float)[order], np.asarray(y, float)[order]
    if replica0 not in markets:  # no value on the data: the estimate is undefined
        xs, ys = np.r_[np.nan, xs], np.r_[np.nan, ys]
    return ev.paired_over_replicas(xs, ys, alpha=alpha)


def _comparisons(t: pd.DataFrame, returns: Mapping[str, pd.DataFrame], markets: list[str],
                 ref: str, ref_label: str, identical: dict[str, str], *, block: int | None,
                 n_boot: int, seed: int, alpha: float) -> pd.DataFrame:
    replica0 = _replication(t)
    ok = t[t["status"] == "ok"]
    combos = ok.drop_duplicates("id")
    rows: list[dict[str, Any]] = []
    one = len(markets) == 1
    r = _market_returns(returns, markets[0]) if one else None
    done: dict[str, list[dict[str, Any]]] = {}   # label -> its rows (reused by identical arms)
    for _, c in combos.iterrows():
        cid = c["id"]
        if cid == ref:
            continue
        first = identical.get(cid)
        if first in done:
            rows += [{**row, "id": cid, "label": c["label"], "benchmark": bool(c["benchmark"]),
                      "identical_to": first} for row in done[first]]
            continue
        start = len(rows)
        mine = ok[ok["id"] == cid].set_index("market")
        theirs = ok[ok["id"] == ref].set_index("market")
        for metric in METRICS:
            base = {"id": cid, "label": c["label"], "benchmark": bool(c["benchmark"]),
                    "metric": metric, "reference": ref_label,
                    "identical_to": identical.get(cid)}
            if one:
                m = markets[0]
                if m not in mine.index or m not in theirs.index:
                    continue
                res = _within_market(r, cid, ref, mine.loc[m], theirs.loc[m], metric,
                                     block=block, n_boot=n_boot, seed=seed, alpha=alpha)
                res.pop("block_size", None)  # = the study's block_days
                rows.append({**base, **res, "n_markets": 1})
            elif (metric == "annual_volatility" and isinstance(replica0, str)
                  and replica0 in mine.index and replica0 in theirs.index
                  and replica0 in returns):
                # the replicas' spread of a volatility covered 55-75% under separate persistent
                # volatility paths (docs/evidence.md): the EWC interval on the data path instead
                res = _within_market(_market_returns(returns, replica0), cid, ref,
                                     mine.loc[replica0], theirs.loc[replica0], metric,
                                     block=block, n_boot=n_boot, seed=seed, alpha=alpha)
                rows.append({**base, **res, "n_markets": 1})
            else:
                common = [m for m in markets if m in mine.index and m in theirs.index]
                x = mine.loc[common, metric].to_numpy(float)
                y = theirs.loc[common, metric].to_numpy(float)
                pm = _over_markets(x, y, common, replica0, alpha)
                rows.append({**base, "diff": pm.estimate, "ci_low": pm.ci_low,
                             "ci_high": pm.ci_high, "p_value": pm.p_value,
                             "method": pm.method, "n_markets": pm.info["n_markets"],
                             "p_wilcoxon": pm.info.get("p_wilcoxon")})
        done[c["label"]] = rows[start:]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    frame["p_adjusted"] = np.nan
    for _, sub in frame.groupby("metric", sort=False):
        distinct = sub[sub["identical_to"].isna()]
        adj = pd.Series(ev.holm(distinct["p_value"].to_numpy(float)), index=distinct.index)
        frame.loc[adj.index, "p_adjusted"] = adj
        adjusted = dict(zip(distinct["label"], adj, strict=True))
        for i, row in sub[sub["identical_to"].notna()].iterrows():
            if row["identical_to"] == ref_label:
                frame.loc[i, "p_adjusted"] = 1.0
            else:
                frame.loc[i, "p_adjusted"] = adjusted.get(row["identical_to"], np.nan)
    cols = COMPARISON_COLUMNS + [c for c in frame.columns if c not in COMPARISON_COLUMNS]
    return frame[cols].reset_index(drop=True)


# --- marginal effects --------------------------------------------------------------------------


def _summary(t: pd.DataFrame, factors: Sequence[str], markets: list[str],
             identical: dict[str, str], alpha: float) -> pd.DataFrame:
    replica0 = _replication(t)
    pipes = t[(t["status"] == "ok") & ~t["benchmark"]].copy()
    rows: list[dict[str, Any]] = []
    if pipes.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    keys = {f: pipes[f].astype(object).map(_text) for f in factors}
    first_id = dict(zip(pipes["label"], pipes["id"], strict=False))
    canon = pipes["id"].map(lambda i: first_id.get(identical.get(i, ""), i))
    for f in factors:
        others = [g for g in factors if g != f]
        cell = pipes["market"].astype(str)
        for g in others:
            cell = cell + "\x1f" + keys[g]
        level = keys[f]
        choices = list(dict.fromkeys(level))
        if len(choices) < 2:
            continue
        # cells made of the same portfolios as an earlier cell (identical arms) count once
        members = canon.groupby([pipes["market"], cell], sort=False).agg(
            lambda s: tuple(sorted(s)))
        dup = pd.Series(list(zip(members.index.get_level_values(0), members, strict=True)),
                        index=members.index).duplicated()
        frame = pd.DataFrame({"market": pipes["market"], "cell": cell, "level": level})
        for metric in METRICS:
            frame["v"] = pipes[metric].astype(float)
            wide = frame.groupby(["market", "cell", "level"], sort=False)["v"].mean().unstack(
                "level")
            wide = wide[~dup.reindex(wide.index).fillna(True).to_numpy(bool)]
            for choice in choices:
                if choice not in wide:
                    continue
                rest = wide.drop(columns=[choice]).mean(axis=1, skipna=True)
                ok = wide[choice].notna() & rest.notna()
                x, y = wide[choice][ok], rest[ok]
                if not len(x):
                    continue
                mk = x.index.get_level_values("market")
                if len(markets) > 1:
                    xs = x.groupby(mk, sort=False).mean()
                    ys = y.groupby(mk, sort=False).mean()
                    res = _over_markets(xs.to_numpy(), ys.to_numpy(), list(xs.index), replica0,
                                        alpha)
                else:
                    res = ev.paired_over_markets(x.to_numpy(), y.to_numpy(), alpha=alpha)
                rows.append({"factor": f, "choice": choice, "metric": metric,
                             "effect": res.estimate, "ci_low": res.ci_low,
                             "ci_high": res.ci_high, "p_value": res.p_value,
                             "n_markets": int(mk.nunique()), "n_cells": int(len(x)),
                             "method": res.method, "p_wilcoxon": res.info.get("p_wilcoxon")})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    out["p_holm"] = np.nan
    for _, sub in out.groupby("metric", sort=False):
        out.loc[sub.index, "p_holm"] = ev.holm(sub["p_value"].to_numpy(float))
    cols = SUMMARY_COLUMNS + [c for c in out.columns if c not in SUMMARY_COLUMNS]
    return out[cols]


# --- multiple testing and selection bias ------------------------------------------------------


PERIOD_DAYS = 5  # several markets: SPA/StepM/MCS on 5-day returns (a fifth of the bootstrap cost)


def _stacked(returns: Mapping[str, pd.DataFrame], markets: list[str], ids: list[str], *,
             period: int = 1) -> tuple[np.ndarray, list[int]]:
    """(sum_m T_m x K) returns of ``ids``, market after market (rows with a NaN dropped).

    With ``period > 1`` each market's daily returns are summed over consecutive non-overlapping
    ``period``-day spans (the incomplete last span dropped): ``period``-day returns to first
    order, with the same mean per day.
    """
    blocks, lengths = [], []
    for m in markets:
        r = _market_returns(returns, m)
        lacking = [i for i in ids if i not in r]
        if lacking:
            raise DataError(f"returns of market {m!r} lack combinations {lacking}")
        part = r[ids].dropna().to_numpy(float)
        if period > 1:
            n = len(part) // period * period
            part = part[:n].reshape(n // period, period, len(ids)).sum(axis=1)
        blocks.append(part)
        lengths.append(len(part))
    return np.vstack(blocks), lengths


def datasets(t: pd.DataFrame) -> dict[str, list[str]] | None:
    """The data paths of a study whose markets are stationary-bootstrap replicas, else ``None``.

    Returns ``replica-0 market -> [its markets, replica 0 first]``, one entry per real dataset
    (a dataset is a value of the ``market.*`` columns other than ``market.replica``,
    ``market.block_days`` and ``market.resample``; one entry for one resampled dataset).
    ``None`` when the markets are independent (no ``market.replica`` column) or a dataset has no
    replica 0 (the data path is missing: nothing to test on).
    """
    if "market.replica" not in t.columns or t.empty:
        return None
    rep = pd.to_numeric(t["market.replica"], errors="coerce")
    if rep.isna().any():
        return None
    keys = [c for c in t.columns if c.startswith("market.")
            and c not in ("market.replica", "market.block_days", "market.resample")]
    ds = (t[keys].astype(object).map(_text).agg("\x1f".join, axis=1) if keys
          else pd.Series("", index=t.index))
    out: dict[str, list[str]] = {}
    for _, idx in ds.groupby(ds, sort=False).groups.items():
        sub = t.loc[idx]
        zero = sub.loc[rep[idx] == 0, "market"].unique()
        if len(zero) != 1:
            return None
        rest = [m for m in dict.fromkeys(sub["market"]) if m != zero[0]]
        out[str(zero[0])] = [str(zero[0]), *rest]
    return out


def _resample_block(t: pd.DataFrame, market: str) -> int | None:
    """The mean block length (days) the stationary bootstrap used to make the replicas of
    ``market``'s dataset (the ``market.block_days`` column), or ``None``."""
    if "market.block_days" not in t.columns:
        return None
    b = pd.to_numeric(t.loc[t["market"] == market, "market.block_days"], errors="coerce")
    b = b.dropna()
    return int(b.iloc[0]) if len(b) else None


UNIT_MARKETS = ("independent markets: each market's 5-day returns, concatenated market after "
                "market (the tests' stationary bootstrap resamples these periods)")
UNIT_ONE = "days of the one market (the tests' stationary bootstrap resamples them)"
UNIT_PATH = ("days of the data path (replica 0); the tests' own stationary bootstrap is the "
             "resampling, the {n} other bootstrap replicas are not used (they are draws of the "
             "same bootstrap, not independent markets)")
COMBINE_RULE = {
    "spa": "Holm over datasets: min(1, D x the smallest per-dataset p-value), per p-value kind",
    "stepm": "each dataset at family-wise error alpha / D (Bonferroni over datasets); superior "
             "in any dataset",
    "mcs": "each dataset's set at size 0.1 / D (Bonferroni over datasets); included = in the "
           "set of at least one dataset",
    "dsr": "Holm over datasets: p = min(1, D x the smallest per-dataset p-value); the numbers "
           "shown are those of that dataset",
    "pbo": "mean over datasets (descriptive; no test)",
}


def _grid_tests(t: pd.DataFrame, returns: Mapping[str, pd.DataFrame], markets: list[str],
                ref: str, ref_label: str, identical: dict[str, str], *, block: int | None,
                n_boot: int, seed: int, alpha: float, given: bool = False) -> dict[str, Any]:
    """SPA, StepM, MCS, DSR and PBO on the study's unit of replication.

    Independent markets: pooled (5-day returns concatenated over markets). Bootstrap replicas
    of one real dataset: on the data path (replica 0) only. Several datasets, each with
    replicas: per dataset on its data path, combined by :data:`COMBINE_RULE`.
    """
    ok = t[t["status"] == "ok"]
    paths = datasets(ok)
    if paths is None:
        unit = UNIT_ONE if len(markets) == 1 else UNIT_MARKETS
        return _grid_tests_on(t, returns, markets, ref, ref_label, identical, block=block,
                              n_boot=n_boot, seed=seed, alpha=alpha, unit=unit,
                              replication="one market" if len(markets) == 1 else
                              "independent markets")
    per: dict[str, dict[str, Any]] = {}
    n_sets = len(paths)
    for m0, members in paths.items():
        own = _resample_block(ok, m0)  # each dataset's test: its resampling's block
        b = block if given or own is None else own
        per[m0] = _grid_tests_on(t, returns, [m0], ref, ref_label, identical, block=b,
                                 n_boot=n_boot, seed=seed, alpha=alpha / n_sets,
                                 mcs_size=0.1 / n_sets,
                                 unit=UNIT_PATH.format(n=len(members) - 1),
                                 replication="data path (replica 0) of a resampled dataset")
        per[m0]["settings"]["replicas_not_used"] = len(members) - 1
    if n_sets == 1:
        return next(iter(per.values()))
    return _combine_datasets(per, alpha)


def _combine_datasets(per: dict[str, dict[str, Any]], alpha: float) -> dict[str, Any]:
    """One result of several datasets' grid tests by :data:`COMBINE_RULE`."""
    d = len(per)
    out: dict[str, Any] = {"per_dataset": per, "notes": [
        n for name, r in per.items() for n in (f"{name}: {x}" for x in r.get("notes", []))]}
    unit = (f"{d} real datasets, each tested on its data path (replica 0) with the tests' own "
            "stationary bootstrap; replicas not used; combined over datasets")
    spas = [r["spa"] for r in per.values() if "spa" in r]
    if spas:
        out["spa"] = {"pvalues": {k: min(1.0, d * min(s["pvalues"][k] for s in spas))
                                  for k in ("lower", "consistent", "upper")},
                      "n_datasets": d, "combined": COMBINE_RULE["spa"], "unit": unit}
    steps = {name: r["stepm"] for name, r in per.items() if "stepm" in r}
    if steps:
        sup = list(dict.fromkeys(x for s in steps.values() for x in s["superior"]))
        out["stepm"] = {"superior": sup, "size": alpha,
                        "superior_by_dataset": {k: s["superior"] for k, s in steps.items()},
                        "n_datasets": d, "combined": COMBINE_RULE["stepm"], "unit": unit}
    sets = {name: r["mcs"] for name, r in per.items() if "mcs" in r}
    if sets:
        names = list(dict.fromkeys(x for s in sets.values() for x in s["names"]))
        inc = [x for x in names if any(x in s["included"] for s in sets.values())]
        out["mcs"] = {"included": inc, "excluded": [x for x in names if x not in inc],
                      "pvalues": {x: max(s["pvalues"].get(x, 0.0) for s in sets.values())
                                  for x in names},
                      "size": 0.1, "names": names,
                      "included_by_dataset": {k: s["included"] for k, s in sets.items()},
                      "n_datasets": d, "combined": COMBINE_RULE["mcs"], "unit": unit}
    dsrs = {name: r["dsr"] for name, r in per.items() if "dsr" in r}
    if dsrs:
        finite = {k: v for k, v in dsrs.items() if _finite(v.get("p_value"))}
        pick = min(finite, key=lambda k: finite[k]["p_value"]) if finite else next(iter(dsrs))
        best = dict(dsrs[pick])
        p = best.get("p_value")
        best.update(dataset=pick, p_value_dataset=p,
                    p_value=(min(1.0, d * p) if isinstance(p, (int, float))
                             and math.isfinite(p) else p),
                    n_datasets=d, combined=COMBINE_RULE["dsr"], unit=unit,
                    p_by_dataset={k: v.get("p_value") for k, v in dsrs.items()})
        out["dsr"] = best
    pbos = {name: r["pbo"] for name, r in per.items() if "pbo" in r}
    if pbos:
        out["pbo"] = {"pbo": float(np.mean([v["pbo"] for v in pbos.values()])),
                      "pbo_by_dataset": {k: v["pbo"] for k, v in pbos.items()},
                      "n_datasets": d, "combined": COMBINE_RULE["pbo"], "unit": unit}
    first = next(iter(per.values()))["settings"]
    out["settings"] = {**{k: v for k, v in first.items() if k in ("reps", "seed", "bootstrap",
                                                                   "losses")},
                       "replication": f"{d} resampled datasets, each on its data path",
                       "unit": unit, "n_datasets": d, "n_markets": d,
                       "combined": COMBINE_RULE,
                       "per_dataset": {k: r["settings"] for k, r in per.items()}}
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _grid_tests_on(t: pd.DataFrame, returns: Mapping[str, pd.DataFrame], markets: list[str],
                   ref: str, ref_label: str, identical: dict[str, str], *, block: int | None,
                   n_boot: int, seed: int, alpha: float, unit: str, replication: str,
                   mcs_size: float = 0.1) -> dict[str, Any]:
    ok = t[(t["status"] == "ok") & t["market"].isin(markets)]
    everywhere = ok.groupby("id", sort=False)["market"].nunique()
    full = [i for i in everywhere.index if everywhere[i] == len(markets)]
    distinct = [i for i in full if i not in identical]
    labels = dict(zip(ok["id"], ok["label"], strict=False))
    bench = dict(zip(ok["id"], ok["benchmark"], strict=False))
    out: dict[str, Any] = {}
    notes: list[str] = []
    if ref not in distinct:
        return {"notes": [f"the reference {ref_label!r} lacks returns in some market: no "
                          "SPA/StepM/MCS/DSR/PBO"]}
    x, lengths = _stacked(returns, markets, distinct)
    if x.shape[0] < 20:
        return {"notes": [f"only {x.shape[0]} common days: too few for the grid tests"]}
    period = PERIOD_DAYS if len(markets) > 1 else 1
    xp, plengths = (x, lengths) if period == 1 else _stacked(returns, markets, distinct,
                                                             period=period)
    names = [labels[i] for i in distinct]
    if len(set(names)) != len(names):
        names = distinct
    pos = {i: k for k, i in enumerate(distinct)}
    cands = [i for i in distinct if i != ref]
    days = int(block) if block is not None else ev.auto_block_days(x)
    b = max(1, min(math.ceil(days / period), xp.shape[0] - 1))
    unit_p = "daily" if period == 1 else f"{period}-day"
    settings = {"block_days": days, **({"block_periods": b} if period > 1 else {}),
                "reps": n_boot, "seed": seed, "bootstrap": "stationary",
                "replication": replication, "unit": unit,
                "n_markets": len(markets), "days_per_market": lengths,
                "period_days": period, "n_periods": int(xp.shape[0]),
                "periods_per_market": plengths,
                "losses": f"negative {unit_p} returns (lower loss = higher return)",
                "pooling": ("one path" if len(markets) == 1 else
                            f"per-market {unit_p} returns concatenated market after market")}
    out["settings"] = settings
    if cands:
        loss = -xp
        cand_names = [names[pos[i]] for i in cands]
        out["spa"] = {**ev.spa(loss[:, pos[ref]], loss[:, [pos[i] for i in cands]],
                               block_size=b, reps=n_boot, seed=seed, names=cand_names),
                      "unit": unit}
        out["stepm"] = {**ev.stepm(loss[:, pos[ref]], loss[:, [pos[i] for i in cands]],
                                   size=alpha, block_size=b, reps=n_boot, seed=seed,
                                   names=cand_names), "unit": unit}
    else:
        notes.append("no combination besides the reference: no SPA/StepM")
    if len(distinct) >= 2:
        out["mcs"] = {**ev.mcs(-xp, size=mcs_size, block_size=b, reps=n_boot, seed=seed,
                               names=names), "unit": unit}
    pipes = [i for i in distinct if not bench[i]]
    trials = pipes if len(pipes) >= 2 else distinct
    ann = math.sqrt(252)
    sr = x[:, [pos[i] for i in trials]].mean(axis=0) / x[:, [pos[i] for i in trials]].std(
        axis=0, ddof=1) * ann
    k_best = int(np.nanargmax(sr))
    best = trials[k_best]
    sd = float(np.nanstd(sr, ddof=1)) if len(trials) > 1 else 0.0
    dsr = ev.deflated_sharpe(x[:, pos[best]], n_trials=len(trials), sharpe_std=sd)
    daily = ("daily returns of the one path" if len(markets) == 1 else
             "daily returns of the independent markets, concatenated")
    out["dsr"] = {**dsr, "best": labels[best], "best_id": best,
                  "trials": [labels[i] for i in trials],
                  "n_identical_dropped": int(sum(1 for i in identical
                                                 if not bench.get(i, False))),
                  "unit": daily}
    if len(trials) >= 2:
        t_rows = x.shape[0]
        s = 16
        while s > 2 and t_rows < 2 * s:
            s -= 2
        if t_rows >= 4:
            res = ev.pbo(x[:, [pos[i] for i in trials]], n_splits=s)
            logits = np.asarray(res.pop("logits"), dtype=float)
            qs = (0.05, 0.25, 0.5, 0.75, 0.95)
            out["pbo"] = {**res, "strategies": [labels[i] for i in trials],
                          "logit_quantiles": dict(zip(map(str, qs),
                                                      np.quantile(logits, qs).tolist(),
                                                      strict=True)),
                          "unit": daily}
    else:
        notes.append("fewer than two distinct pipelines: no PBO")
    out["notes"] = notes
    return out


# --- entry point -------------------------------------------------------------------------------


def _study_block(t: pd.DataFrame, returns: Mapping[str, pd.DataFrame], markets: list[str],
                 identical: dict[str, str], given: int | None) -> tuple[int, str]:
    """The one block length (days) of every bootstrap of the study, and where it comes from.

    Given: it. Bootstrap replicas: the block the resampling used (``market.block_days``, the
    same rule on the assets). Otherwise :func:`causalfolio.evidence.auto_block_days` of the
    distinct combinations' daily returns of each market, the median over markets (rounded up).
    """
    if given is not None:
        return int(given), "given (block_days)"
    ok = t[t["status"] == "ok"]
    paths = datasets(ok)
    if paths is not None:
        b = _resample_block(ok, next(iter(paths)))
        if b is not None:
            return b, "the resampling's mean block (market.block_days)"
        markets = list(paths)
    per = []
    for m in markets:
        r = _market_returns(returns, m)
        ids = [i for i in dict.fromkeys(ok.loc[ok["market"] == m, "id"])
               if i in r and i not in identical]
        x = r[ids].dropna().to_numpy(float)
        if x.shape[0] >= 10 and x.shape[1]:
            per.append(ev.auto_block_days(x))
    b = math.ceil(float(np.median(per))) if per else 1
    return max(1, b), ("automatic, on the daily returns of the distinct combinations" +
                       (" (median over markets)" if len(per) > 1 else ""))



def analyse_study(table: pd.DataFrame, returns: Mapping[str, pd.DataFrame], *, reference: str,
                  factors: Sequence[str], block_days: int | None = None, n_boot: int = 1000,
                  seed: int = 0, alpha: float = 0.05) -> StudyEvidence:
    """The evidence of a study: comparisons with ``reference``, effects, grid-wide tests.

    Parameters
    ----------
    table
        One row per (market, combination): ``market``, ``id`` (the same across markets),
        ``label``, ``benchmark``, ``status`` ('ok'/'failed'), ``identical_to`` (label of the first
        identical member in that market, or None), the ``factors`` columns and the metrics
        ``sharpe, annual_volatility, max_drawdown, turnover``.
    returns
        ``market id -> DataFrame`` (dates x combination ids) of daily simple portfolio returns.
    reference
        Label or id of the combination (or benchmark) everything is compared with.
    factors
        Columns whose levels are the study's choices (as
        :func:`causalfolio.ablation.summary.factors`).
    block_days
        Block length in days of every bootstrap of the study; default: the resampling's block
        for replicas, else :func:`causalfolio.evidence.auto_block_days` of the combinations'
        daily returns (recorded as ``settings.block_days`` in ``evidence``).
    n_boot
        Bootstrap replicates of every test (>= 50).
    seed
        Seed of every bootstrap.
    alpha
        1 - confidence level of the intervals; also StepM's family-wise error rate.

    Returns
    -------
    StudyEvidence
    """
    from ..evidence import _checks

    alpha = _checks.alpha(alpha)
    n_boot = _checks.positive_int(n_boot, "n_boot", minimum=50)
    seed = _checks.positive_int(seed, "seed", minimum=0)
    if block_days is not None:
        block_days = _checks.positive_int(block_days, "block_days")
    factors = [str(f) for f in factors]
    t = _check_table(table, factors)
    ref, ref_label = _resolve_reference(t, reference)
    markets = list(dict.fromkeys(t.loc[t["status"] == "ok", "market"]))
    identical = _study_identical(t, ref, ref_label)
    block, block_source = _study_block(t, returns, markets, identical, block_days)
    comparisons = _comparisons(t, returns, markets, ref, ref_label, identical, block=block,
                               n_boot=n_boot, seed=seed, alpha=alpha)
    summary = _summary(t, factors, markets, identical, alpha)
    grid = _grid_tests(t, returns, markets, ref, ref_label, identical, block=block,
                       n_boot=n_boot, seed=seed, alpha=alpha, given=block_days is not None)
    grid_settings = grid.pop("settings", None)
    evidence = {
        "reference": {"id": ref, "label": ref_label},
        "markets": markets, "n_markets": len(markets),
        "identical": {i: first for i, first in identical.items()},
        "settings": {"block_days": block, "block_source": block_source,
                     "block_rule": ev.BLOCK_RULE, "n_boot": n_boot, "seed": seed, "alpha": alpha,
                     "comparisons": ("within-market tests (Sharpe: Ledoit-Wolf 2008; "
                                     "volatility: EWC fixed-b log-variance interval; "
                                     "max drawdown: stationary bootstrap)"
                                     if len(markets) == 1 else
                                     "difference on the data (replica 0), standard error = "
                                     "the spread over its stationary-bootstrap replicas "
                                     "(volatility: EWC fixed-b interval on the data path)"
                                     if replica_zero(t[t["status"] == "ok"]) is not None else
                                     "per resampled dataset as with one, then the mean over "
                                     "datasets (se from the datasets' replica spreads)"
                                     if isinstance(_replication(t), dict) else
                                     "paired t-test over markets (Wilcoxon in p_wilcoxon)"),
                     "p_adjusted": "Holm over the distinct combinations of each metric",
                     "p_holm": "Holm over the (factor, choice) rows of each metric",
                     "grid_tests": grid_settings},
        **grid,
    }
    if "note" in comparisons:
        evidence["comparison_notes"] = sorted(
            {f"{m}: {n}" for m, n in zip(comparisons["metric"], comparisons["note"],
                                         strict=True) if isinstance(n, str)})
    return StudyEvidence(summary=summary, comparisons=comparisons, evidence=plain(evidence))
