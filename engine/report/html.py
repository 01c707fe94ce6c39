"""A self-contained HTML report of a run folder: charts embedded as PNG ``data:`` URIs.

The page needs no network: no scripts, fonts or styles are fetched, every image is inline. A small
inline script counts the images that decoded and writes the result into ``#report-status`` (and
``data-images`` on ``<body>``), which the headless-browser test reads.

Sections: settings, metrics table and chart, NAV and drawdown against the benchmarks, weights over
time, and for every full pipeline: the common drivers selected at each update with their evidence,
the sensitivity space (classical MDS of the distance matrix) and the dendrogram at chosen dates,
forecast sensitivity paths when a forecaster kept them, and driver risk attribution (SPEC §5,
``Risk_Dj = sum_i w_i dR_i/dD_j sigma_Dj``).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..defaults import COV_WINDOW
from ..errors import DataError
from ..evidence.result import format_p
from . import charts
from .charts import Chart

PCT_METRICS = ("total_return", "annual_return", "annual_volatility", "max_drawdown", "turnover")
EVIDENCE_COLUMNS = ("strength", "score", "evidence", "gain", "likelihood", "parents",
                    "repeatedness")

GENERATOR = '<meta name="generator" content="causalfolio">'
"""Marks a file as a causalfolio report: ``report --out`` overwrites only such files."""
REPORT_SIGNATURES = (GENERATOR.encode(),
                     # reports written before the generator tag: our exact head and default title
                     b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
                     b"causalfolio ")


def check_report_target(path: Path) -> None:
    """Refuse to overwrite a file at ``path`` that is not a causalfolio report."""
    from ..data.folders import check_file_replaceable

    check_file_replaceable(path, signatures=REPORT_SIGNATURES, what="report")


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:2em}h3{margin-top:1.4em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0;display:block;overflow-x:auto;
max-width:100%}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right;white-space:nowrap}
td:has(code){white-space:normal;word-break:break-all;min-width:14em}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;display:block;margin:.6em 0}
code{background:#f4f4f4;padding:0 .2em}.note{color:#555;font-size:.9em}
#report-status{color:#888;font-size:.8em}
caption{caption-side:top;text-align:left;color:#555;font-size:.95em;padding:.2em 0}
td:has(code){text-align:left}
table.settings td{white-space:normal;text-align:left;word-break:normal}
table.settings td:first-child{min-width:10em;word-break:normal}
.warning{background:#fff4e5;border-left:4px solid #e69500;padding:.4em .8em}
"""

STATUS = '<p id="report-status"></p>'
"""Filled by :data:`SCRIPT` with ``images decoded: n/n`` (empty, so invisible, without scripts)."""

SCRIPT = """
(function(){
  function check(){
    var imgs=document.images, ok=0;
    for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++;}}
    var text='images decoded: '+ok+'/'+imgs.length;
    document.body.setAttribute('data-images', ok+'/'+imgs.length);
    document.getElementById('report-status').textContent=text;
  }
  if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
})();
"""


# --- reading the run folder -------------------------------------------------------------------


def load_rebalances(run_dir: str | os.PathLike) -> dict[str, list[dict[str, Any]]]:
    """Per-rebalance records of every strategy: label -> list of records (see runfolder)."""
    from ..backtest.runfolder import damaged, read_json

    p = Path(run_dir)
    meta = read_json(p, "run.json")
    strategies = meta.get("strategies") if isinstance(meta, dict) else None
    if not isinstance(strategies, dict):
        raise damaged(p, "run.json", "'strategies' must map labels to file names")
    out: dict[str, list[dict[str, Any]]] = {}
    for label, slug in strategies.items():
        name = f"rebalances/{slug}.json"
        if not (p / name).is_file():
            raise DataError(f"{p}: missing {name} for strategy {label!r}; the run "
                            "folder is incomplete, rerun the backtest")
        doc = read_json(p, name)
        recs = doc.get("rebalances") if isinstance(doc, dict) else None
        if not (isinstance(recs, list) and recs and all(
                isinstance(r, dict) and isinstance(r.get("date"), str) for r in recs)):
            raise damaged(p, name, "'rebalances' must be a non-empty list of records with dates")
        out[label] = recs
    return out


def _evidence(scores: dict[str, dict[str, Any]] | None, names: Sequence[str]
              ) -> tuple[str, dict[str, float]]:
    """The evidence column used for colouring and its value per selected driver."""
    if not scores:
        return "rank", {n: float(len(names) - k) for k, n in enumerate(names)}
    cols: list[str] = []
    for row in scores.values():
        for c, v in row.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and c not in cols:
                cols.append(c)
    col = next((c for c in EVIDENCE_COLUMNS if c in cols), cols[0] if cols else None)
    if col is None:
        return "rank", {n: float(len(names) - k) for k, n in enumerate(names)}
    vals = {}
    for n in names:
        v = (scores.get(n) or {}).get(col)
        vals[n] = float(v) if isinstance(v, (int, float)) and v == v else float("nan")
    return col, vals


def selection_updates(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records at which the driver selection changed (a new selection key), in date order."""
    out, last = [], None
    for r in records:
        d = r.get("drivers")
        if not d:
            continue
        key = d.get("key") or tuple(d.get("names", ()))
        if key != last:
            out.append(r)
            last = key
    return out


def cluster_tree(record: dict[str, Any]) -> tuple[np.ndarray, list[str], str]:
    """The cluster tree of a rebalance: (scipy linkage matrix, leaf names, where it came from).

    The mapping's own tree when its diagnostics hold one (``linkage``, with leaves named by
    ``assets`` when given: mappings may work in a canonical asset order); otherwise single
    linkage on the distance matrix the mapping received.
    """
    diag = record.get("diagnostics") or {}
    names = list(record["sensitivities"]["aggregate"].keys())
    if diag.get("linkage"):
        leaves = list(diag.get("assets") or names)
        return np.asarray(diag["linkage"], float), leaves, "from the mapping"
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    dist = np.asarray((record.get("forecast") or {}).get("distance")
                      or record["sensitivities"]["distance"], dtype=float)
    z = linkage(squareform(0.5 * (dist + dist.T), checks=False), "single")
    return z, names, "single linkage on the distance matrix"


def driver_exposures(record: dict[str, Any]) -> pd.Series:
    """Portfolio sensitivity to each driver: sum over lags and assets of w_i * s_i,(driver, lag).

    Units: portfolio return per unit driver return. Inputs are named ``driver@lag``; lags of one
    driver are summed (the total response to a move of that driver spread over the lags).
    """
    sens = record.get("sensitivities")
    if not sens:
        raise DataError("this rebalance has no sensitivities (a benchmark run)")
    agg = pd.DataFrame(sens["aggregate"]).T  # assets x inputs
    w = pd.Series(record["weights"], dtype=float).reindex(agg.index).fillna(0.0)
    per_input = agg.astype(float).mul(w, axis=0).sum(axis=0)
    drivers = [str(c).rsplit("@", 1)[0] for c in per_input.index]
    return per_input.groupby(drivers, sort=False).sum()


def _stored_attribution(record: dict[str, Any]) -> dict[str, float] | None:
    """Risk per input stored with a rebalance: Table 1 diagnostics first, then the mapping's."""
    return ((record.get("risk") or {}).get("attribution")
            or (record.get("diagnostics") or {}).get("attribution"))


def driver_attribution(records: Sequence[dict[str, Any]],
                       driver_vol: pd.DataFrame | None = None) -> tuple[pd.DataFrame, bool]:
    """Driver risk attribution at every rebalance (SPEC §5 diagnostics).

    ``Risk_Dj = sigma_Dj * sum_i w_i dR_i/dD_j`` with sigma_Dj the driver's daily volatility over
    the covariance window before the rebalance (``driver_vol``: dates x drivers, daily units).
    Without volatilities, the attribution stored with each rebalance (the pipeline's Table 1
    diagnostics under ``risk``, or a mapping's own diagnostics; key ``attribution``: input
    ``d@l`` -> Risk, from :mod:`causalfolio.diagnostics`) is used when every rebalance has one,
    lags summed; otherwise the exposures ``sum_i w_i dR_i/dD_j``.

    Returns
    -------
    (dates x drivers frame, True when volatilities were applied). Drivers not selected at a date
    are NaN there.
    """
    stored = [_stored_attribution(r) for r in records if r.get("sensitivities")]
    if driver_vol is None and stored and all(isinstance(a, dict) and a for a in stored):
        # a mapping that ran causalfolio.diagnostics stored Risk per input d@l: sum the lags
        rows = {}
        for r in records:
            if r.get("sensitivities"):
                a = pd.Series(_stored_attribution(r), dtype=float)
                rows[pd.Timestamp(r["date"])] = a.groupby(
                    [str(c).rsplit("@", 1)[0] for c in a.index], sort=False).sum()
        return pd.DataFrame(rows).T.sort_index(), True
    rows = {}
    for r in records:
        if not r.get("sensitivities"):
            continue
        e = driver_exposures(r)
        date = pd.Timestamp(r["date"])
        if driver_vol is not None:
            missing = [d for d in e.index if d not in driver_vol.columns]
            if missing:
                raise DataError(f"no volatility for drivers {missing[:5]} on {date.date()}")
            e = e * driver_vol.loc[date, list(e.index)].astype(float)
        rows[date] = e
    frame = pd.DataFrame(rows).T.sort_index()
    return frame, driver_vol is not None


def driver_volatility(candidates: pd.DataFrame, dates: Sequence[pd.Timestamp], window: int
                      ) -> pd.DataFrame:
    """Daily volatility of every candidate over the ``window`` days strictly before each date."""
    out = {}
    for d in dates:
        past = candidates.loc[candidates.index < pd.Timestamp(d)].iloc[-window:]
        out[pd.Timestamp(d)] = past.std(ddof=1)
    return pd.DataFrame(out).T


# --- HTML pieces ------------------------------------------------------------------------------


def _img(chart: Chart) -> str:
    t = html.escape(chart.title)
    return f'<figure><img src="{chart.data_uri()}" alt="{t}" title="{t}"></figure>'


def _fmt(metric: str, v: Any) -> str:
    if v is None:
        return "n/a"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return html.escape(str(v))
    if x != x:
        return "n/a"
    return f"{100 * x:.2f}%" if metric in PCT_METRICS else f"{x:.3f}"


SHORT = {"total_return": "total return", "annual_return": "annual return",
         "annual_volatility": "volatility", "sharpe": "Sharpe", "sortino": "Sortino",
         "max_drawdown": "max drawdown", "calmar": "Calmar", "turnover": "turnover",
         "gross_exposure": "gross exposure"}


def metrics_html(metrics: pd.DataFrame) -> str:
    """The metrics table (strategies x metrics) as an HTML table; headers in words, a gross
    exposure of 1 everywhere (long-only) left out."""
    if "gross_exposure" in metrics and np.allclose(metrics["gross_exposure"].astype(float), 1.0):
        metrics = metrics.drop(columns="gross_exposure")
    head = "".join(f"<th>{html.escape(SHORT.get(str(c), str(c)))}</th>" for c in metrics.columns)
    body = []
    for label, row in metrics.iterrows():
        cells = "".join(f"<td>{_fmt(str(c), row[c])}</td>" for c in metrics.columns)
        body.append(f"<tr><td><code>{html.escape(str(label))}</code></td>{cells}</tr>")
    return (f'<table class="metrics"><tr><th>strategy</th>{head}</tr>' + "".join(body)
            + "</table>")


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for idx, row in frame.iterrows():
        cells = "".join(
            f"<td>{v:.{digits}g}</td>" if isinstance(v, (float, np.floating)) and v == v
            else "<td></td>" if _blank(v) else f"<td>{html.escape(str(v))}</td>"
            for v in row.tolist())
        rows.append(f"<tr><td>{html.escape(str(idx))}</td>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _blank(v: Any) -> bool:
    """None and NaN: shown as an empty cell, never as the text ``None``/``nan``."""
    return v is None or (isinstance(v, (float, np.floating)) and v != v)


def _flat(mapping: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in (mapping or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += _flat(v, key + ".")
        else:
            out.append((key, v))
    return out


def settings_table(mapping: Any) -> str:
    """A settings mapping as a two-column table (nested keys dotted, lists comma-separated,
    None as "default"), instead of raw JSON."""
    rows = []
    for key, v in _flat(mapping):
        if isinstance(v, (list, tuple)):
            text = ", ".join(json.dumps(x) if isinstance(x, (dict, list)) else str(x) for x in v)
        elif isinstance(v, dict):
            text = "none"
        else:
            text = "none" if v is None else str(v)
        rows.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(text)}</td></tr>")
    return f'<table class="settings"><tr><th>setting</th><th>value</th></tr>{"".join(rows)}</table>'


def _pick_dates(records: Sequence[dict[str, Any]], dates: Sequence[str] | None) -> list[int]:
    """Indices of the records shown in detail: the given dates (nearest rebalance on or before
    each), default first, middle and last."""
    n = len(records)
    if n == 0:
        return []
    if not dates:
        return sorted({0, n // 2, n - 1})
    have = pd.DatetimeIndex([pd.Timestamp(r["date"]) for r in records])
    out = []
    for d in dates:
        try:
            t = pd.Timestamp(d)
        except (ValueError, TypeError):
            raise DataError(f"report date {d!r} is not a date; use YYYY-MM-DD") from None
        k = int(have.searchsorted(t, side="right")) - 1
        if k < 0:
            raise DataError(f"report date {t.date()} is before the first rebalance "
                            f"{have[0].date()}")
        out.append(k)
    return sorted(set(out))


def collinear_warning(label: str, records: Sequence[dict[str, Any]]) -> str | None:
    """The near-collinear drivers warning of a strategy (VIF stored at each selection), or
    None."""
    from ..backtest.collinearity import collinear, describe

    with_vif = [r for r in records if (r.get("universe") or {}).get("vif")]
    flagged = [(r["date"], collinear(r["universe"]["vif"])) for r in with_vif]
    flagged = [f for f in flagged if f[1]]
    return describe(label, flagged, len(with_vif)) if flagged else None


def active_weights(weights: pd.DataFrame, benchmark: pd.DataFrame) -> pd.DataFrame:
    """Weight minus the benchmark's at each rebalance of ``weights`` (dates x assets): the
    benchmark's last weights on or before each date, assets it does not hold at 0."""
    w = weights.drop(columns=[c for c in ("turnover",) if c in weights.columns]).astype(float)
    ref = benchmark.drop(columns=[c for c in ("turnover",) if c in benchmark.columns])
    ref = ref.astype(float).sort_index().reindex(w.index, method="ffill")
    return w - ref.reindex(columns=w.columns).fillna(0.0)


def _weights_section(label: str, records: list[dict[str, Any]], weights: pd.DataFrame,
                     base: tuple[str, pd.DataFrame] | None) -> list[str]:
    """Weights at each rebalance: nothing drawn when they are constant; else a heatmap of the
    active weights (minus the first benchmark's) or, for that benchmark, of the weights; then
    the mapping's per-asset risk contributions when it stored them."""
    w = weights.drop(columns=[c for c in ("turnover",) if c in weights.columns]).astype(float)
    short = charts._short(label, 60)
    parts = ["<h3>Weights over time</h3>"]
    if len(w) < 2 or np.allclose(w.to_numpy(), w.iloc[0].to_numpy(), atol=1e-9):
        first = w.iloc[0]
        same = np.allclose(first.to_numpy(), first.iloc[0], atol=1e-9)
        what = (f"{100 * first.iloc[0]:.2f}% in each of the {len(first)} assets" if same else
                ", ".join(f"{html.escape(str(k))} {100 * v:.1f}%" for k, v in first.items()))
        parts.append(f"<p>Constant weights at every rebalance: {what} (no chart).</p>")
    elif base is not None and base[0] != label:
        active = 100 * active_weights(w, base[1])
        parts.append(f'<p class="note">Active weight = the target weight minus that of '
                     f"<code>{html.escape(base[0])}</code> at each rebalance, in percentage "
                     "points (red: more than the benchmark, blue: less).</p>")
        parts.append(_img(charts.heatmap_chart(
            active, f"Active weights vs {base[0]}: {short}",
            f"weight minus {charts._short(base[0], 20)}'s (pp)", diverging=True)))
    else:
        parts.append(_img(charts.heatmap_chart(100 * w, f"Target weights: {short}",
                                               "weight (%)")))
    rc = {pd.Timestamp(r["date"]): (r.get("diagnostics") or {}).get("risk_contributions")
          for r in records}
    rc = {d: v for d, v in rc.items() if isinstance(v, dict) and v}
    if rc:
        frame = 100 * pd.DataFrame(rc).T.sort_index().reindex(columns=w.columns).astype(float)
        parts.append('<p class="note">Risk contribution of each asset (share of the portfolio\'s '
                     "variance, %, as the mapping computed it on its covariance).</p>")
        parts.append(_img(charts.heatmap_chart(frame, f"Risk contributions: {short}",
                                               "share of portfolio risk (%)")))
    return parts


def _strategy_section(label: str, records: list[dict[str, Any]], weights: pd.DataFrame,
                      dates: Sequence[str] | None, paths: dict[str, Any] | None,
                      driver_vol: pd.DataFrame | None,
                      base: tuple[str, pd.DataFrame] | None = None) -> str:
    warn = collinear_warning(label, records)
    parts = [f'<p class="warning">Warning: {html.escape(warn)}.</p>'] if warn else []
    parts += _weights_section(label, records, weights, base)
    if not any(r.get("drivers") for r in records):
        return "\n".join(parts)
    # drivers and their evidence
    updates = selection_updates(records)
    sel: dict[pd.Timestamp, dict[str, float]] = {}
    col = "rank"
    for r in updates:
        names = r["drivers"]["names"]
        col, vals = _evidence(r["drivers"].get("scores"), names)
        sel[pd.Timestamp(r["date"])] = vals
    parts.append("<h3>Common drivers selected at each update</h3>")
    parts.append(f'<p class="note">{len(updates)} selection update(s); colour = {html.escape(col)}'
                 " of the selector's evidence.</p>")
    parts.append(_img(charts.drivers_chart(sel, f"Selected drivers ({col})")))
    last = updates[-1]["drivers"]
    if last.get("scores"):
        sc = pd.DataFrame(last["scores"]).T.dropna(axis=1, how="all")
        sc = sc.drop(columns="selected", errors="ignore")  # a selector's own flag: said below
        chosen = set(last.get("names") or [])
        sc.insert(0, "selected", ["yes" if k in chosen else "" for k in sc.index])
        n_up = int((sc["selected"] == "").sum())
        parts.append(f"<p>Evidence at the last update ({html.escape(updates[-1]['date'])}): "
                     "the selected drivers" + (f", then the {n_up} best candidates that were "
                                               "not selected (the margin of the selection)"
                                               if n_up else "") + ".</p>")
        parts.append(_table(sc))
    # sensitivity space and dendrogram at chosen dates
    parts.append("<h3>Sensitivity space and cluster tree</h3>")
    parts.append('<p class="note">Assets placed by classical multidimensional scaling of the '
                 "sensitivity distance matrix used by the mapping (forecast or static): assets "
                 "close together respond alike to the common drivers. Marker area = weight."
                 "</p>")
    for k in _pick_dates(records, dates):
        r = records[k]
        d = r["date"]
        dist = np.asarray((r.get("forecast") or {}).get("distance")
                          or r["sensitivities"]["distance"], dtype=float)
        assets = list(r["sensitivities"]["aggregate"].keys())
        w = [r["weights"].get(a, 0.0) for a in assets]
        parts.append(f"<h4>{html.escape(d)}</h4>")
        parts.append(_img(charts.sensitivity_map(dist, assets, f"Sensitivity space on {d}",
                                                 weights=w)))
        z, leaves, how = cluster_tree(r)
        parts.append(_img(charts.dendrogram_chart(z, leaves, f"Cluster tree on {d} ({how})")))
    # forecast paths
    if paths:
        parts.append("<h3>Forecast sensitivity paths</h3>")
        for d, (arr, assets, inputs) in paths.items():
            parts.append(_img(charts.forecast_paths_chart(
                arr, assets, inputs, f"Forecast sensitivities to {inputs[0]} from {d}")))
    elif any((r.get("forecast") or {}).get("horizon") for r in records):
        parts.append('<p class="note">A forecaster ran, but its simulated paths are kept only in '
                     "memory: pass <code>--report</code> to <code>backtest</code>/<code>demo"
                     "</code> to chart them.</p>")
    # attribution
    attr, with_vol = driver_attribution(records, driver_vol)
    if not attr.empty:
        parts.append("<h3>Driver risk attribution</h3>")
        if with_vol:
            ylabel = "daily risk, return units"
            note = ("Risk_Dj = sigma_Dj * sum_i w_i dR_i/dD_j (SPEC §5): the portfolio's "
                    "directional risk from each driver, daily, sigma over the covariance window.")
        else:
            ylabel = "exposure (return per unit driver return)"
            note = ("Exposure sum_i w_i dR_i/dD_j of the portfolio to each driver (lags summed). "
                    "Driver volatilities are not in the run folder; the report written by "
                    "<code>--report</code> multiplies by them to give Risk_Dj.")
        parts.append(f'<p class="note">{note}</p>')
        top = attr.abs().mean().sort_values(ascending=False).index[:12]
        shown = attr[top]
        parts.append(_img(charts.attribution_chart(
            shown, "Driver risk attribution" if with_vol else "Driver exposure", ylabel)))
    return "\n".join(parts)


def is_benchmark(label: str) -> bool:
    """A benchmark strategy (a mapping alone, e.g. ``equal``), not a five-stage pipeline."""
    return "|" not in label


def _p(p: float) -> str:
    return html.escape(format_p(p))


def sharpe_tests(nav: pd.DataFrame, ref: str, *, n_boot: int = 999, seed: int = 0
                 ) -> list[tuple[str, Any]]:
    """Each strategy's Sharpe ratio minus that of ``ref`` (Ledoit-Wolf 2008 block-bootstrap
    test on the daily returns of the NAVs, common days; the same settings as the CLI prints):
    (label, TestResult or a reason it is undefined)."""
    from ..evidence import sharpe_diff

    returns = nav.pct_change().iloc[1:]
    out: list[tuple[str, Any]] = []
    for label in nav.columns:
        if label == ref:
            continue
        both = returns[[label, ref]].dropna()
        if len(both) < 10:
            out.append((label, "fewer than 10 common days"))
            continue
        out.append((label, sharpe_diff(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy(),
                                       n_boot=n_boot, seed=seed)))
    return out


def sharpe_tests_html(nav: pd.DataFrame, ref: str) -> str:
    """The Sharpe-difference table against the first benchmark."""
    rows = []
    for label, res in sharpe_tests(nav, ref):
        name = f"<td><code>{html.escape(str(label))}</code></td>"
        if isinstance(res, str) or res.estimate != res.estimate:
            why = res if isinstance(res, str) else res.info.get("note", "undefined")
            rows.append(f"{name}<td>n/a</td><td>{html.escape(str(why))}</td><td></td><td></td>")
            continue
        b = res.info.get("block_size")
        rows.append(f"{name}<td>{res.estimate:+.3f}</td><td>[{res.ci_low:+.3f}, "
                    f"{res.ci_high:+.3f}]</td><td>{_p(res.p_value)}</td>"
                    f"<td>{'' if b is None else b}</td>")
    caption = (f"Sharpe ratio minus that of {ref}: Ledoit-Wolf (2008) studentised block-bootstrap"
               " test on the same days, 95% interval, 999 replicates, seed 0 (as the command "
               "line prints it).")
    return (f"<table><caption>{html.escape(caption)}</caption><tr><th>strategy</th>"
            "<th>Sharpe difference</th><th>95% interval</th><th>p</th><th>block (days)</th>"
            f"</tr>{''.join(f'<tr>{r}</tr>' for r in rows)}</table>")


def calendar_returns(nav: pd.DataFrame) -> pd.DataFrame:
    """Total return of every strategy in each calendar year (years x strategies), from the NAV
    at the end of the previous year (or the first NAV) to the last NAV of the year."""
    nav = nav.astype(float)
    years = nav.index.year
    out = {}
    prev = nav.iloc[0]
    for y in sorted(set(years)):
        last = nav[years == y].iloc[-1]
        out[y] = last / prev - 1.0
        prev = last
    return pd.DataFrame(out).T


def performance_section(nav: pd.DataFrame, weights: dict[str, pd.DataFrame],
                        ref: str | None) -> list[str]:
    """NAV (and relative to the first benchmark), the Sharpe-difference test, drawdown, rolling
    Sharpe and volatility, turnover per rebalance and returns per calendar year."""
    parts = []
    if ref is not None and len(nav.columns) > 1:
        parts.append(sharpe_tests_html(nav, ref))
    parts.append(_img(charts.nav_chart(nav)))
    if ref is not None and len(nav.columns) > 1:
        rel = 100 * nav.div(nav[ref], axis=0)  # the benchmark itself: the flat line at 100
        parts.append(_img(charts.nav_chart(
            rel, f"NAV relative to {charts._short(ref, 40)} (100 = level with it)",
            ylabel=f"NAV / NAV of {charts._short(ref, 20)} x 100")))
    parts.append(_img(charts.drawdown_chart(nav)))
    returns = nav.pct_change().iloc[1:]
    window = 252 if len(returns) >= 300 else max(20, len(returns) // 3)
    if len(returns) >= 2 * window or window == 252:
        say = "1-year" if window == 252 else f"{window}-day (history shorter than 300 days)"
        parts.append(_img(charts.rolling_chart(returns, window,
                                               f"Rolling {say} Sharpe ratio and volatility")))
    turn = pd.DataFrame({k: w["turnover"] for k, w in weights.items() if "turnover" in w})
    turn = turn.iloc[1:]  # the first rebalance buys the portfolio from cash
    if len(turn):
        parts.append(_img(charts.nav_chart(
            100 * turn, "Turnover at each rebalance (after the first)",
            ylabel="turnover (% of NAV)", xlabel="rebalance date", marker="o")))
    years = calendar_returns(nav)
    first, last = nav.index[0], nav.index[-1]
    rows = []
    for y, r in years.iterrows():
        part = " (part)" if (y == first.year and first.month > 1) or (
            y == last.year and last.month < 12) else ""
        cells = "".join(f"<td>{_fmt('total_return', v)}</td>" for v in r)
        rows.append(f"<tr><td>{y}{part}</td>{cells}</tr>")
    head = "".join(f"<th><code>{html.escape(charts._short(str(c), 40))}</code></th>"
                   for c in years.columns)
    parts.append("<table><caption>Return in each calendar year</caption><tr><th>year</th>"
                 f"{head}</tr>{''.join(rows)}</table>")
    return parts


def render_report(run_dir: str | os.PathLike, *, dates: Sequence[str] | None = None,
                  market: Any = None, result: Any = None, title: str | None = None) -> str:
    """The HTML text of the report of a run folder.

    Parameters
    ----------
    run_dir
        A folder written by :func:`causalfolio.backtest.write_run`.
    dates
        Rebalance dates (YYYY-MM-DD) at which to draw the sensitivity map and the dendrogram;
        each is moved back to the last rebalance on or before it. Default: first, middle, last.
    market
        The :class:`~causalfolio.data.Market` the run used, if at hand: driver volatilities then
        turn exposures into risk attribution.
    result
        The in-memory :class:`~causalfolio.backtest.BacktestResult`, if at hand: forecast paths
        (not written to run folders) are then charted.
    title
        Page title (default: the run folder's name).
    """
    from ..backtest.runfolder import load_run

    run = load_run(run_dir)
    meta, metrics, nav, weights = run["run"], run["metrics"], run["nav"], run["weights"]
    records = load_rebalances(run_dir)
    for recs in records.values():  # bad dates fail before any drawing
        _pick_dates(recs, dates)
    title = title or f"causalfolio report: {Path(run_dir).name}"
    cfg = meta.get("config", {})
    body = [f"<h1>{html.escape(title)}</h1>",
            f'<p class="note">causalfolio {html.escape(str(meta.get("causalfolio_version", "")))}'
            f" &middot; {len(meta.get('rebalance_dates', []))} rebalances from "
            f"{html.escape(str(meta['rebalance_dates'][0]))} to "
            f"{html.escape(str(meta['rebalance_dates'][-1]))} &middot; schedule "
            f"{html.escape(str(cfg.get('schedule')))} &middot; bounds "
            f"{html.escape(str(cfg.get('bounds')))} &middot; cost "
            f"{html.escape(str(cfg.get('cost_bps')))} bps &middot; risk-free rate "
            f"{html.escape(str(cfg.get('risk_free_used', '0% a year')))} (Sharpe and Sortino "
            "on excess returns)</p>",
            STATUS,
            "<h2>Performance</h2>", metrics_html(metrics),
            _img(charts.metrics_chart(metrics))]
    bench = [k for k in meta["strategies"] if is_benchmark(k)]
    base = (bench[0], weights[bench[0]]) if bench else None
    body += performance_section(nav, weights, bench[0] if bench else None)
    driver_vol_all = None
    for label, recs in records.items():
        body.append(f"<h2>Strategy <code>{html.escape(label)}</code></h2>")
        paths = None
        if result is not None and label in getattr(result, "strategies", {}):
            paths = {}
            rebs = result.strategies[label].rebalances
            for k in _pick_dates(recs, dates):
                fc, sens = rebs[k].forecast, rebs[k].sensitivities
                if fc is not None and fc.paths is not None and sens is not None:
                    paths[recs[k]["date"]] = (fc.paths, list(sens.assets), list(sens.inputs))
        dv = None
        if market is not None and any(r.get("sensitivities") for r in recs):
            if driver_vol_all is None:
                window = int(cfg.get("windows", {}).get("cov", COV_WINDOW))
                driver_vol_all = driver_volatility(
                    market.candidates, [pd.Timestamp(d) for d in meta["rebalance_dates"]], window)
            dv = driver_vol_all
        body.append(_strategy_section(label, recs, weights[label], dates, paths, dv, base))
    body.append("<h2>Settings</h2>")
    body.append(settings_table(cfg))
    if "data" in meta:
        body.append("<h3>Data</h3>")
        body.append(settings_table(meta["data"] if isinstance(meta["data"], dict)
                                   else {"data": meta["data"]}))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" + GENERATOR +
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")


def write_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, *,
                 dates: Sequence[str] | None = None, market: Any = None, result: Any = None,
                 title: str | None = None) -> Path:
    """Write the HTML report of a run folder; returns its path (default RUN_DIR/report.html).

    Written to a temporary file and renamed into place. An existing file at ``out`` that is not
    a causalfolio report is never overwritten (:class:`~causalfolio.errors.ConfigError`). See
    :func:`render_report`.
    """
    from ..data.io import atomic_write_bytes

    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    check_report_target(path)
    text = render_report(run_dir, dates=dates, market=market, result=result, title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
