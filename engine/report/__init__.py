"""Self-contained HTML reports of run folders and ablation folders (charts as inline PNG)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

# Loaded on first use: the command line builds the ``report`` parser without pandas/matplotlib.
_LAZY = {
    "is_ablation_folder": "ablation", "render_ablation_report": "ablation",
    "write_ablation_report": "ablation", "render_report": "html", "write_report": "html",
}

__all__ = ["is_ablation_folder", "render_ablation_report", "render_report",
           "write_ablation_report", "write_report"]

if TYPE_CHECKING:
    from .ablation import is_ablation_folder, render_ablation_report, write_ablation_report
    from .html import render_report, write_report


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
