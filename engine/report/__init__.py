"""Self-contained HTML reports of run folders and ablation folders (charts as inline PNG)."""

from .ablation import is_ablation_folder, render_ablation_report, write_ablation_report
from .html import render_report, write_report

__all__ = ["is_ablation_folder", "render_ablation_report", "render_report",
           "write_ablation_report", "write_report"]
