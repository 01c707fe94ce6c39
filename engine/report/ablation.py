"""A self-contained HTML report of an ablation result folder (``causalfolio ablate --out``).

Shows the results table, Sharpe ratio per combination with the benchmarks highlighted, the NAV
of the best combinations against the benchmarks, and the per-choice effect summary as charts: for
every factor (a stage, a component parameter or a settings axis that varies in the grid), the mean
of a metric at each level minus the mean over all pipeline rows (the ``effect`` column of
``choices.csv``, or of ``summary.csv`` in folders written before it, see
:func:`causalfolio.ablation.summary.summarize`).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pandas as pd

from ..errors import DataError
from . import charts
from . import evidence as evidence_section
from .html import GENERATOR, SCRIPT, STYLE, _fmt, _img, check_report_target

TABLE_METRICS = ("total_return", "annual_volatility", "sharpe", "max_drawdown", "turnover")
EFFECT_METRICS = ("sharpe", "total_return", "annual_volatility")


ABLATE = "'causalfolio ablate' with the same --out"


def is_ablation_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` holds an ablation result (study.json and results.csv/parquet)."""
    p = Path(path)
    return (p / "study.json").is_file() and ((p / "results.parquet").is_file()
                                              or (p / "results.csv").is_file())


def _read(p: Path, name: str) -> pd.DataFrame:
    from ..backtest.runfolder import read_frame

    if (p / f"{name}.parquet").is_file():
        return read_frame(p, f"{name}.parquet", pd.read_parquet, command=ABLATE)
    if (p / f"{name}.csv").is_file():
        return read_frame(p, f"{name}.csv", pd.read_csv, command=ABLATE)
    raise DataError(f"{p}: no {name}.parquet or {name}.csv; the ablation has not finished "
                    "(rerun 'causalfolio ablate' with the same --out to complete it)")


def _one_row_per_combination(table: pd.DataFrame) -> tuple[pd.DataFrame, str | None, str]:
    """With several markets: one row per combination (metrics averaged over the markets where it
    succeeded), the market whose NAVs are drawn, and a note saying so."""
    if "market" not in table or table["market"].nunique() < 2:
        first = str(table["market"].iloc[0]) if "market" in table and len(table) else None
        return table, first, ""
    markets = list(dict.fromkeys(table["market"].astype(str)))
    ok = table[table["status"] == "ok"]
    metrics = [m for m in TABLE_METRICS if m in table]
    means = ok.groupby("id", sort=False)[metrics].mean()
    rows = table.drop_duplicates("id").set_index("id")
    failed = table[table["status"] != "ok"].groupby("id").size()
    rows["status"] = ["ok" if i in means.index else "failed" for i in rows.index]
    rows.loc[means.index, metrics] = means
    if "error" in rows:
        rows["error"] = [f"failed on {failed.get(i, 0)} of {len(markets)} markets"
                         if i in failed.index else rows.at[i, "error"] for i in rows.index]
    note = (f"{len(markets)} markets ({', '.join(markets[:5])}{', ...' if len(markets) > 5 else ''}"
            f"): metrics are means over the markets where a combination succeeded; the NAV "
            f"chart shows market {markets[0]}.")
    return rows.reset_index(), markets[0], note


def render_ablation_report(folder: str | os.PathLike, *, top: int = 8,
                           title: str | None = None) -> str:
    """The HTML text of the report of an ablation folder.

    Parameters
    ----------
    folder
        The folder written by :func:`causalfolio.ablation.run_ablation` / ``causalfolio ablate``.
    top
        Number of best combinations (by Sharpe ratio) drawn in the NAV chart with the benchmarks.
    title
        Page title (default: the folder's name).
    """
    p = Path(folder)
    if not is_ablation_folder(p):
        raise DataError(f"{p} is not an ablation result folder (no study.json and results)")
    from ..backtest.runfolder import damaged, read_json

    study = read_json(p, "study.json", command=ABLATE)
    if not isinstance(study, dict) or not isinstance(study.get("context") or {}, dict):
        raise damaged(p, "study.json", "not a JSON object with a 'context'", command=ABLATE)
    table = _read(p, "results")
    summary = _read(p, "summary")
    # the evidence's effects with intervals (summary with ``choice``), drawn as forest plots
    with_ci = summary if {"choice", "ci_low", "ci_high"} <= set(summary.columns) else None
    effects = "summary"
    if (p / "choices.parquet").is_file() or (p / "choices.csv").is_file():
        effects = "choices"  # per-choice mean/effect (summary.* holds the evidence)
        summary = _read(p, "choices")
    level = "choice" if with_ci is not None and effects == "summary" else "level"
    need = {"results": ("status", "benchmark", "label", "id", *TABLE_METRICS),
            effects: ("factor", "metric", level, "effect")}
    for name, frame in (("results", table), (effects, summary)):
        lacking = [c for c in need[name] if c not in frame.columns]
        if lacking and not (name == effects and frame.empty):
            file = f"{name}.parquet" if (p / f"{name}.parquet").is_file() else f"{name}.csv"
            raise damaged(p, file, f"no column {lacking[0]!r}", command=ABLATE)
    table, nav_market, note = _one_row_per_combination(table)
    title = title or f"causalfolio ablation: {p.name}"
    ok = table[table["status"] == "ok"]
    failed = table[table["status"] != "ok"]
    bench = ok["benchmark"].astype(str).str.lower().isin(["true", "1"])
    dates = (study.get("context") or {}).get("dates") or []
    body = [f"<h1>{html.escape(title)}</h1>",
            f'<p class="note">{len(table)} combinations ({len(ok)} ok, {len(failed)} failed)'
            + (f", {len(dates)} common rebalance dates from {html.escape(dates[0])} to "
               f"{html.escape(dates[-1])}" if dates else "") + "</p>",
            '<p id="report-status">images not checked (scripts disabled)</p>',
            *([f'<p class="note">{html.escape(note)}</p>'] if note else []),
            "<h2>Results</h2>"]
    if len(ok):
        ranked = ok.sort_values("sharpe", ascending=False)
        names = [f"{k}. {label}" for k, label in enumerate(ranked["label"].astype(str), 1)]
        is_bench = bench.loc[ranked.index].to_numpy()
        sharpe = pd.Series(ranked["sharpe"].to_numpy(float), index=names)
        body.append(_img(charts.bar_chart(
            sharpe, "Sharpe ratio per combination (benchmarks in red)", "Sharpe ratio",
            highlight={n for n, b in zip(names, is_bench, strict=True) if b}, zoom=True)))
        rows = []
        for k, (_, r) in enumerate(ranked.iterrows(), 1):
            cells = "".join(f"<td>{_fmt(m, r[m])}</td>" for m in TABLE_METRICS)
            tag = " (benchmark)" if str(r["benchmark"]).lower() in ("true", "1") else ""
            rows.append(f"<tr><td>{k}</td><td><code>{html.escape(str(r['label']))}</code>{tag}"
                        f"</td>{cells}</tr>")
        head = "".join(f"<th>{m}</th>" for m in TABLE_METRICS)
        body.append(f"<table><tr><th>rank</th><th>combination</th>{head}</tr>{''.join(rows)}"
                    "</table>")
        if (p / "nav.parquet").is_file():
            nav = pd.read_parquet(p / "nav.parquet")
            if isinstance(nav.columns, pd.MultiIndex):  # several markets: draw the first one
                nav = nav[nav_market] if nav_market in nav.columns.levels[0] else nav.iloc[:, :0]
            best = [i for i in ranked.loc[~bench.loc[ranked.index], "id"].head(top)
                    if i in nav.columns]
            pick = best + [i for i in ok.loc[bench, "id"] if i in nav.columns]
            if pick:
                label_of = dict(zip(ok["id"], ok["label"].astype(str), strict=True))
                shown = nav[pick].rename(columns=label_of)
                body.append(_img(charts.nav_chart(
                    shown, f"NAV of the best {len(best)} combinations and the benchmarks")))
    if len(failed):
        items = "".join(f"<li><code>{html.escape(str(r['label']))}</code>: "
                        f"{html.escape(str(r.get('error')))}</li>" for _, r in failed.iterrows())
        body.append(f"<h3>Failed combinations</h3><ul>{items}</ul>")
    body += evidence_section.section(p)
    body.append("<h2>Effect of each choice</h2>")
    if with_ci is not None and not with_ci.empty:
        body.append('<p class="note">With intervals: mean of the metric with that choice minus '
                    "the mean of the other choices of the factor, paired within each market and "
                    "setting of the other factors; 95% interval across markets (or, with one "
                    "market, across the settings of the other factors); p_holm adjusts for the "
                    "number of choices (summary.csv).</p>")
        for factor, rows in with_ci.groupby("factor", sort=False):
            for metric in EFFECT_METRICS:
                sub = rows[rows["metric"] == metric]
                if sub.empty:
                    continue
                shown = pd.DataFrame({"label": sub["choice"].astype(str),
                                      "diff": sub["effect"].astype(float),
                                      "ci_low": sub["ci_low"].astype(float),
                                      "ci_high": sub["ci_high"].astype(float)})
                body.append(_img(charts.forest_chart(
                    shown, f"{factor}: effect on {metric} (95% intervals)",
                    f"effect on {metric}")))
    bars = None if (effects == "summary" and with_ci is not None) else summary
    if (bars is None or bars.empty) and (with_ci is None or with_ci.empty):
        body.append("<p>No factor varies among the successful pipeline combinations.</p>")
    elif bars is not None and not bars.empty:
        body.append('<p class="note">Effect = mean of the metric over the combinations with that '
                    "choice minus the mean over all pipeline combinations (benchmarks and failures "
                    "excluded): the marginal effect of the choice averaged over the other "
                    "factors.</p>")
        for factor, rows in summary.groupby("factor", sort=False):
            body.append(f"<h3>{html.escape(str(factor))}</h3>")
            for metric in EFFECT_METRICS:
                s = rows[rows["metric"] == metric]
                if s.empty:
                    continue
                eff = pd.Series(s["effect"].to_numpy(float), index=s["level"].astype(str))
                unit = " (x100 = percentage points)" if metric != "sharpe" else ""
                body.append(_img(charts.bar_chart(
                    eff, f"{factor}: effect on {metric}", f"effect on {metric}{unit}")))
    body.append("<h2>Study</h2>")
    body.append(f"<pre>{html.escape(json.dumps(study.get('grid', study), indent=2))}</pre>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" + GENERATOR +
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")


def write_ablation_report(folder: str | os.PathLike, out: str | os.PathLike | None = None, *,
                          top: int = 8, title: str | None = None) -> Path:
    """Write the ablation report (default FOLDER/report.html); returns its path."""
    from ..data.io import atomic_write_bytes

    path = Path(out) if out is not None else Path(folder) / "report.html"
    check_report_target(path)  # never overwrite a file that is not a causalfolio report
    text = render_ablation_report(folder, top=top, title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
