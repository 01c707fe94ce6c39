"""The result of one statistical comparison."""

from __future__ import annotations

import math
from typing import Any

import attrs


def plain(v: Any) -> Any:
    """A JSON-able copy of ``v``: numpy scalars/arrays become floats/lists, NaN stays NaN."""
    import numpy as np

    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v.tolist()]
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


P_FLOOR = 1e-4
"""Smallest p-value printed as a number; below it, ``< 1e-4`` (no test here is calibrated
that far into the tail, and bootstrap p-values cannot go below ``1 / (n_boot + 1)``)."""


def format_p(p: Any, digits: int = 3) -> str:
    """A p-value as people read it: ``< 1e-4`` below :data:`P_FLOOR`, 4 decimals below 0.001,
    else ``digits`` decimals; ``n/a`` when missing or not a number.

    The one formatter of the console tables (``ablate``, ``backtest``) and the reports.
    """
    try:
        v = float(p)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(v):
        return "n/a"
    if v < P_FLOOR:
        return "< 1e-4"
    if v < 0.001:
        return f"{v:.4f}"
    return f"{v:.{digits}f}"


def p_phrase(p: Any, digits: int = 3) -> str:
    """``p = 0.012`` or ``p < 1e-4`` for running text (:func:`format_p` for table cells)."""
    text = format_p(p, digits)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


@attrs.frozen
class TestResult:
    """A point estimate with its two-sided interval and p-value.

    Attributes
    ----------
    estimate
        The statistic (e.g. annualised Sharpe(a) - Sharpe(b)).
    ci_low, ci_high
        Bounds of the ``1 - alpha`` interval, same unit as ``estimate``.
    p_value
        Two-sided p-value of "no difference".
    method
        Which test produced it (e.g. ``ledoit-wolf-2008``).
    info
        JSON-able settings and side results (block length, replicas, ...).
    """

    __test__ = False  # not a pytest test class despite the name

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    info: dict = attrs.field(factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able mapping (NaN kept as float NaN)."""
        return {"estimate": float(self.estimate), "ci_low": float(self.ci_low),
                "ci_high": float(self.ci_high), "p_value": float(self.p_value),
                "method": self.method, "info": plain(self.info)}

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero (False when undefined)."""
        lo, hi = self.ci_low, self.ci_high
        return not (math.isnan(lo) or math.isnan(hi)) and (lo > 0 or hi < 0)
