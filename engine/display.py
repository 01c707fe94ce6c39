"""Short text and HTML renderings of results for the console and notebooks (``_repr_html_``).

A backtest holds daily NAVs, weights and per-rebalance evidence; printing it whole is useless
(hundreds of kilobytes). These helpers give one-line summaries and compact HTML tables whose
size depends on the number of strategies shown, never on the number of days or assets.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

MAX_ROWS = 20
"""Rows shown by a summary table before it says how many more there are."""


def date_span(dates: Sequence[Any]) -> str:
    """``2015-07-01..2016-06-01`` (or ``no dates``)."""
    if len(dates) == 0:
        return "no dates"
    first, last = pd.Timestamp(dates[0]), pd.Timestamp(dates[-1])
    return f"{first.date()}..{last.date()}"


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def names(items: Sequence[Any], limit: int = 6) -> str:
    """``a, b, c, ... (+7 more)``."""
    items = [str(i) for i in items]
    head = ", ".join(items[:limit])
    return head + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")


def _number(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.4g}"
    return str(v)


def text_table(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> str:
    """The first ``max_rows`` rows of ``frame`` as aligned text, numbers to 4 significant
    digits, index entries cut to 60 characters."""
    shown = frame.iloc[:max_rows].copy()
    shown.index = [shorten(str(i), 60) for i in shown.index]
    body = shown.to_string(float_format=lambda v: f"{v:.4g}")
    if len(frame) > max_rows:
        body += f"\n... {len(frame) - max_rows} more rows"
    return body


def html_table(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> str:
    """The first ``max_rows`` rows of ``frame`` as an HTML table (escaped, 4 significant
    digits)."""
    shown = frame.iloc[:max_rows]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = []
    for idx, row in shown.iterrows():
        cells = "".join(f"<td>{html.escape(_number(v))}</td>" for v in row.tolist())
        rows.append(f"<tr><th style='text-align:left'>{html.escape(shorten(str(idx), 60))}"
                    f"</th>{cells}</tr>")
    more = (f"<tr><td colspan='{len(shown.columns) + 1}'>... {len(frame) - max_rows} more rows"
            "</td></tr>" if len(frame) > max_rows else "")
    return (f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(rows)}{more}"
            "</tbody></table>")


def html_block(title: str, lines: Sequence[str], table: str = "") -> str:
    """A title, a few escaped lines of facts and an optional table (already HTML)."""
    facts = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return (f"<div><strong>{html.escape(title)}</strong><ul style='margin:0'>{facts}</ul>"
            f"{table}</div>")
