"""Shared code of the geometric mappings (kernel, shrinkage, manifold, graph): per-asset risk
from the trailing window and the turn from a risk vector into bounded weights."""

from __future__ import annotations

from typing import Any

from causalfolio._lazy import np, pd
from causalfolio.stages import Allocation, MappingInputs

from ._optim import cvar_of, inverse_vol, returns_matrix


def asset_risk(inputs: MappingInputs, measure: str = "volatility", alpha: float = 0.95
               ) -> np.ndarray:
    """Per-asset risk (N,) from the trailing returns: daily volatility (sample sd) or CVaR."""
    r = returns_matrix(inputs)
    if measure == "volatility":
        return r.std(axis=0, ddof=1)
    return np.array([cvar_of(r[:, i], alpha) for i in range(r.shape[1])])


def risk_weights(inputs: MappingInputs, risk: np.ndarray, power: float,
                 diagnostics: dict[str, Any]) -> Allocation:
    """Weights proportional to risk^-power, projected onto the constraints (Euclidean) if needed.

    Non-positive risks (a constant asset, or a CVaR that is a gain) are floored at 1e-12 times
    the largest positive risk, which gives such an asset the largest weight allowed.
    """
    risk = np.asarray(risk, dtype=float)
    pos = risk[risk > 0]
    floor = 1e-12 * float(pos.max()) if pos.size else 1.0
    w = inverse_vol(np.clip(risk, floor, None), power)
    out = inputs.constraints.project(w)
    diagnostics = dict(diagnostics)
    diagnostics["risk"] = dict(zip(inputs.assets, map(float, risk), strict=True))
    diagnostics["bounds_projection"] = float(np.abs(out - w).max())
    return Allocation(weights=pd.Series(out, index=list(inputs.assets)), diagnostics=diagnostics)
