"""A self-contained HTML report of an ablation result folder (``causalfolio ablate --out``).

Leads with the evidence (forest plot of each combination's difference to the reference with its
interval, model confidence set members marked), then the ranked results table (on the data,
replica 0, for bootstrap replicas), the NAV of the best combinations against the benchmarks, and
the effect of each choice: for every factor (a stage, a component parameter or a settings axis
that varies in the grid), the evidence summary's ``effect`` (the choice minus the other choices,
with an interval). A folder without statistics shows the per-choice means minus the overall mean
instead (``choices.csv``'s ``mean_minus_overall``, see
:func:`causalfolio.ablation.summary.summarize`), never called an effect.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd

from ..errors import DataError
from . import charts
from . import evidence as evidence_section
from .html import (
    GENERATOR,
    SCRIPT,
    STATUS,
    STYLE,
    _fmt,
    _img,
    check_report_target,
    settings_table,
)

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
    """With several markets: one row per combination, the market whose NAVs are drawn, and a
    note saying so. Independent markets: metrics averaged over the markets where a combination
    succeeded. Bootstrap replicas of one market: the rows of the data itself (replica 0), the
    statistic a backtest on the data gives (a mean over replicas matches no backtest)."""
    if "market" not in table or table["market"].nunique() < 2:
        first = str(table["market"].iloc[0]) if "market" in table and len(table) else None
        return table, first, ""
    from ..ablation.evidence import replica_zero

    markets = list(dict.fromkeys(table["market"].astype(str)))
    zero = replica_zero(table.assign(market=table["market"].astype(str)))
    if zero is not None:
        rows = table[table["market"].astype(str) == zero]
        note = (f"{len(markets)} markets: the data (replica 0) and {len(markets) - 1} "
                "stationary-bootstrap replicas of it. The results table and the NAV chart show "
                "the data itself (replica 0), as a backtest on it gives them; the intervals "
                "above come from the replicas.")
        return rows.reset_index(drop=True), zero, note
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


def _overall_column(frame: pd.DataFrame) -> str:
    """The per-choice table's level-minus-overall-mean column (``effect`` in older folders)."""
    from ..ablation.summary import OVERALL

    return OVERALL if OVERALL in frame.columns else "effect"


def _effects_note(with_ci: pd.DataFrame) -> str:
    """What the effects' intervals are computed over, from the ``method`` the statistics used."""
    methods = set(with_ci["method"].astype(str)) if "method" in with_ci else {"paired-t"}
    if methods == {"bootstrap-replicas"}:
        over = ("the difference on the data (replica 0), its 95% interval from the spread over "
                "the stationary-bootstrap replicas")
    elif methods == {"paired-t"}:
        over = ("95% interval of a paired t-test across markets (or, with one market, across "
                "the settings of the other factors: they share one return path, so that interval "
                "is descriptive, not evidence from independent draws)")
    else:
        over = f"95% intervals by {', '.join(sorted(methods))}"
    return ("Effect of a choice = the mean of the metric with that choice minus the mean of the "
            "other choices of the factor, paired within each market and setting of the other "
            f"factors; {over}; p_holm adjusts for the number of choices (summary.csv).")


def render_ablation_report(folder: str | os.PathLike, *, top: int = 8,
                           title: str | None = None) -> str:
    """The HTML text of the report of an ablation folder.

    The report leads with the evidence (forest plot of every combination's difference to the
    reference with its interval, MCS members marked), then the results table (ranked, with a
    caption saying a ranking is not evidence), the NAVs, the effect of each choice and the study.

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
        effects = "choices"  # per-choice mean/spread (summary.* holds the evidence)
        summary = _read(p, "choices")
    level = "choice" if with_ci is not None and effects == "summary" else "level"
    need = {"results": ("status", "benchmark", "label", "id", *TABLE_METRICS),
            effects: ("factor", "metric", level,
                      "effect" if level == "choice" else _overall_column(summary))}
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
            STATUS,
            *([f'<p class="note">{html.escape(note)}</p>'] if note else [])]
    evidence = evidence_section.section(p)
    body += evidence  # the intervals first: a ranking without them is not evidence
    body.append("<h2>Results</h2>")
    if len(ok):
        ranked = ok.sort_values("sharpe", ascending=False)
        where = ("on the data (replica 0)" if "replica 0" in note else
                 "means over the markets" if note else "on the data")
        caption = (f"Metrics {where}, ranked by Sharpe ratio. A ranking without intervals is "
                   "not evidence" + (": the differences to the reference and their intervals "
                                     "are in the evidence section above." if evidence else
                                     ": this study computed no intervals."))
        rows = []
        for k, (_, r) in enumerate(ranked.iterrows(), 1):
            cells = "".join(f"<td>{_fmt(m, r[m])}</td>" for m in TABLE_METRICS)
            tag = " (benchmark)" if str(r["benchmark"]).lower() in ("true", "1") else ""
            rows.append(f"<tr><td>{k}</td><td><code>{html.escape(str(r['label']))}</code>{tag}"
                        f"</td>{cells}</tr>")
        head = "".join(f"<th>{m}</th>" for m in TABLE_METRICS)
        body.append(f"<table><caption>{html.escape(caption)}</caption><tr><th>rank</th>"
                    f"<th>combination</th>{head}</tr>{''.join(rows)}</table>")
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
    body.append("<h2>Effect of each choice</h2>")
    if with_ci is not None and not with_ci.empty:
        body.append(f'<p class="note">{html.escape(_effects_note(with_ci))}</p>')
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
    elif summary.empty:
        body.append("<p>No factor varies among the successful pipeline combinations.</p>")
    else:  # no statistics: the per-choice means, not called effects (they carry no interval)
        col = _overall_column(summary)
        body.append('<p class="note">No intervals were computed for this study. Shown: the mean '
                    "of the metric over the combinations with each choice minus the mean over "
                    "all pipeline combinations (benchmarks and failures excluded; choices.csv's "
                    f"<code>{col}</code>), a description of the grid, not evidence.</p>")
        for factor, rows in summary.groupby("factor", sort=False):
            body.append(f"<h3>{html.escape(str(factor))}</h3>")
            for metric in EFFECT_METRICS:
                s = rows[rows["metric"] == metric]
                if s.empty:
                    continue
                eff = pd.Series(s[col].to_numpy(float), index=s["level"].astype(str))
                unit = " (x100 = percentage points)" if metric != "sharpe" else ""
                body.append(_img(charts.bar_chart(
                    eff, f"{factor}: mean {metric} minus the overall mean",
                    f"mean {metric} minus the overall mean{unit}")))
    body.append("<h2>Study</h2>")
    grid = study.get("grid", study)
    body.append(settings_table(grid if isinstance(grid, dict) else {"grid": grid}))
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
