"""A self-contained HTML report of an ablation result folder (``causalfolio ablate --out``).

Shows the results table, Sharpe ratio per combination with the benchmarks highlighted, the NAV
of the best combinations against the benchmarks, and the per-choice effect summary as charts: for
every factor (a stage, a component parameter or a settings axis that varies in the grid), the mean
of a metric at each level minus the mean over all pipeline rows (the ``effect`` column of
``summary.csv``, see :func:`causalfolio.ablation.summary.summarize`).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pandas as pd

from ..errors import DataError
from . import charts
from .html import SCRIPT, STYLE, _fmt, _img

TABLE_METRICS = ("total_return", "annual_volatility", "sharpe", "max_drawdown", "turnover")
EFFECT_METRICS = ("sharpe", "total_return", "annual_volatility")


def is_ablation_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` holds an ablation result (study.json and results.csv/parquet)."""
    p = Path(path)
    return (p / "study.json").is_file() and ((p / "results.parquet").is_file()
                                              or (p / "results.csv").is_file())


def _read(p: Path, name: str) -> pd.DataFrame:
    if (p / f"{name}.parquet").is_file():
        return pd.read_parquet(p / f"{name}.parquet")
    if (p / f"{name}.csv").is_file():
        return pd.read_csv(p / f"{name}.csv")
    raise DataError(f"{p}: no {name}.parquet or {name}.csv; the ablation has not finished "
                    "(rerun 'causalfolio ablate' with the same --out to complete it)")


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
    study = json.loads((p / "study.json").read_text())
    table = _read(p, "results")
    summary = _read(p, "summary")
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
    if summary.empty:
        body.append("<p>No factor varies among the successful pipeline combinations.</p>")
    else:
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
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")


def write_ablation_report(folder: str | os.PathLike, out: str | os.PathLike | None = None, *,
                          top: int = 8, title: str | None = None) -> Path:
    """Write the ablation report (default FOLDER/report.html); returns its path."""
    text = render_ablation_report(folder, top=top, title=title)
    path = Path(out) if out is not None else Path(folder) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
