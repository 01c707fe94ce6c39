"""The evidence section of an ablation report: forest plot of the comparisons with the reference,
MCS membership, SPA/StepM, DSR and PBO, each with one plain-language sentence.

Reads ``comparisons.parquet``/``.csv`` and ``evidence.json`` of the folder (written by
:meth:`causalfolio.ablation.evidence.StudyEvidence.write`); absent files give no section.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..evidence.result import p_phrase
from . import charts
from .html import _img, _p

ABLATE = "'causalfolio ablate' with the same --out"
FOREST = (("sharpe", "Sharpe ratio"), ("annual_volatility", "annualised volatility"),
          ("max_drawdown", "max drawdown"))


def has_evidence(folder: Path) -> bool:
    """True when the folder holds comparisons and evidence.json."""
    return (folder / "evidence.json").is_file() and (
        (folder / "comparisons.parquet").is_file() or (folder / "comparisons.csv").is_file())


def load(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The comparisons table and the evidence mapping (DataError when damaged)."""
    from ..backtest.runfolder import damaged, read_json

    ev = read_json(folder, "evidence.json", command=ABLATE)
    if not isinstance(ev, dict):
        raise damaged(folder, "evidence.json", "not a JSON object", command=ABLATE)
    name = ("comparisons.parquet" if (folder / "comparisons.parquet").is_file()
            else "comparisons.csv")
    try:
        comp = (pd.read_parquet(folder / name) if name.endswith(".parquet")
                else pd.read_csv(folder / name))
    except Exception as exc:  # noqa: BLE001 - a damaged file becomes one clear line
        raise damaged(folder, name, exc, command=ABLATE) from None
    need = ["label", "metric", "diff", "ci_low", "ci_high", "p_value", "p_adjusted"]
    lacking = [c for c in need if c not in comp.columns]
    if lacking:
        raise damaged(folder, name, f"no column {lacking[0]!r}", command=ABLATE)
    return comp, ev


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _names(items: Any) -> str:
    items = [str(i) for i in (items or [])]
    return ", ".join(f"<code>{html.escape(i)}</code>" for i in items) if items else "none"


METHODS = {
    "paired-t": "across {n} independent markets (paired t-test over markets)",
    "bootstrap-replicas": ("on the data (replica 0), with the standard error from the spread over "
                           "its {r} stationary-bootstrap replicas"),
    "ledoit-wolf-2008": ("on one market (Ledoit-Wolf 2008 studentised block-bootstrap test of "
                         "the Sharpe ratio difference)"),
    "stationary-bootstrap-percentile": "on one market (paired stationary bootstrap, percentile "
                                       "interval)",
}
"""How each ``method`` of comparisons.csv is said in the report ({n}: markets, {r}: replicas)."""


def method_phrase(rows: pd.DataFrame, n_markets: int) -> str:
    """Where and how the comparisons were measured, from the ``method`` the statistics used
    (comparisons.csv), not from the number of markets."""
    used = [str(m) for m in rows["method"].dropna().unique()] if "method" in rows else []
    used = [m for m in used if not m.startswith("n/a")]
    most = (pd.to_numeric(rows["n_markets"], errors="coerce").max() if "n_markets" in rows
            else math.nan)
    n = int(most) if most == most and most > 0 else n_markets
    if not used:
        return "with no test (no interval could be computed)"
    said = [METHODS.get(m, "by {m}").format(n=n, r=max(n - 1, 0), m=html.escape(m))
            for m in used]
    return " and ".join(said)


def sentences(comp: pd.DataFrame, ev: dict[str, Any]) -> dict[str, str]:
    """One plain-language sentence (HTML) per statistic, keyed by name."""
    ref = html.escape(str((ev.get("reference") or {}).get("label", "the reference")))
    out: dict[str, str] = {}
    sh = comp[(comp["metric"] == "sharpe")]
    distinct = sh[sh["identical_to"].isna()] if "identical_to" in sh else sh
    n_sig = int((distinct["p_adjusted"].astype(float) < 0.05).sum())
    where = method_phrase(distinct, int(ev.get("n_markets") or 1))
    out["comparisons"] = (f"Measured {where}, {n_sig} of {len(distinct)} distinct combinations "
                          f"have a Sharpe ratio different from {ref} after Holm's adjustment for "
                          "the number of combinations (adjusted p &lt; 0.05).")
    spa = ev.get("spa")
    if isinstance(spa, dict):
        p = _num((spa.get("pvalues") or {}).get("consistent"))
        verdict = ("at least one combination beats it at the 5% level" if p < 0.05 else
                   "there is no evidence that any combination beats it")
        out["spa"] = (f"Does any combination earn a higher mean return than {ref}? Hansen's SPA "
                      f"test gives {html.escape(p_phrase(p))}: {verdict}.")
    stepm = ev.get("stepm")
    if isinstance(stepm, dict):
        out["stepm"] = (f"Romano-Wolf StepM (family-wise error {_num(stepm.get('size')):.0%}) "
                        f"finds these better than {ref}: {_names(stepm.get('superior'))}.")
    mcs = ev.get("mcs")
    if isinstance(mcs, dict):
        inc = mcs.get("included") or []
        out["mcs"] = (f"The {1 - _num(mcs.get('size')):.0%} model confidence set keeps "
                      f"{len(inc)} of {mcs.get('n_models')} combinations, whose mean return the "
                      f"data cannot tell apart from the best one's: {_names(inc)}.")
    dsr = ev.get("dsr")
    if isinstance(dsr, dict) and math.isfinite(_num(dsr.get("sharpe"))):
        n = dsr.get("n_trials")
        pn = _num(dsr.get("p_best_of_noise"))
        noise = (f"a Sharpe of {_num(dsr['sharpe']):.2f} is what the best of {n} noise "
                 f"strategies reaches {pn:.0%} of the time" if math.isfinite(pn) else
                 f"the best Sharpe is {_num(dsr['sharpe']):.2f}")
        out["dsr"] = (f"With {n} distinct combinations tried, {noise} (the best of {n} reaches "
                      f"{_num(dsr.get('expected_max_sharpe')):.2f} on average); the deflated "
                      f"Sharpe ratio of <code>{html.escape(str(dsr.get('best')))}</code> is "
                      f"{_num(dsr.get('dsr')):.2f} ({html.escape(p_phrase(dsr.get('p_value')))}).")
    pbo = ev.get("pbo")
    if isinstance(pbo, dict):
        v = _num(pbo.get("pbo"))
        read = ("choosing the best in-sample combination is about as good as picking at random"
                if v >= 0.4 else "the in-sample winner tends to stay good out of sample")
        out["pbo"] = (f"In {v:.0%} of {pbo.get('n_combinations')} splits of the history into "
                      "in-sample and out-of-sample halves, the best in-sample combination "
                      f"ranked at or below the median out of sample (probability of backtest "
                      f"overfitting): {read}.")
    for note in ev.get("notes") or []:
        out.setdefault("notes", "")
        out["notes"] += html.escape(str(note)) + ". "
    return out


def section(folder: Path) -> list[str]:
    """HTML parts of the evidence section (empty when the folder has no evidence)."""
    if not has_evidence(folder):
        return []
    comp, ev = load(folder)
    text = sentences(comp, ev)
    ref = str((ev.get("reference") or {}).get("label", "reference"))
    mcs = ev.get("mcs") or {}
    inset = set(mcs.get("included") or [])
    body = ["<h2>Evidence</h2>",
            f'<p class="note">Every combination against the reference <code>{html.escape(ref)}'
            "</code>: difference and 95% interval, p-value and Holm-adjusted p-value. See "
            "docs/evidence.md for what each statistic answers and assumes.</p>",
            f"<p>{text['comparisons']}</p>"]
    for metric, name in FOREST:
        rows = comp[comp["metric"] == metric]
        if rows.empty:
            continue
        same = rows["identical_to"] if "identical_to" in rows else pd.Series(None, rows.index)
        shown = [f"{lab} (identical)" if isinstance(it, str) and it else lab
                 for lab, it in zip(rows["label"].astype(str), same, strict=True)]
        marked = {nm for nm, lab in zip(shown, rows["label"].astype(str), strict=True)
                  if lab in inset}
        rows = rows.assign(label=shown)
        body.append(_img(charts.forest_chart(
            rows, f"{name}: difference to {ref} (95% intervals)",
            f"{name} minus that of {ref}", marked=marked if metric == "sharpe" else ())))
    for key in ("spa", "stepm", "mcs", "dsr", "pbo", "notes"):
        if key in text:
            body.append(f"<p>{text[key]}</p>")
    show = comp[comp["metric"] == "sharpe"]
    if len(show):
        head = ("<tr><th>combination</th><th>Sharpe diff</th><th>95% interval</th><th>p</th>"
                "<th>Holm p</th><th>in MCS</th><th>identical to</th></tr>")
        cells = []
        for _, r in show.iterrows():
            it = r.get("identical_to")
            it = "" if not isinstance(it, str) else f"<code>{html.escape(it)}</code>"
            lo, hi = _num(r["ci_low"]), _num(r["ci_high"])
            ci = f"[{lo:+.3f}, {hi:+.3f}]" if math.isfinite(lo) else "n/a"
            cells.append(f"<tr><td><code>{html.escape(str(r['label']))}</code></td>"
                         f"<td>{_num(r['diff']):+.3f}</td><td>{ci}</td>"
                         f"<td>{_p(r['p_value'])}</td><td>{_p(r['p_adjusted'])}</td>"
                         f"<td>{'yes' if str(r['label']) in inset else ''}</td><td>{it}</td></tr>")
        body.append(f"<table>{head}{''.join(cells)}</table>")
    return body
