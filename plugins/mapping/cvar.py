"""``cvar``: minimum CVaR by the Rockafellar-Uryasev linear program (SPEC §5; monograph §8.3.2
item 3, §8.4 item 4).

Scenarios are the trailing historical asset returns, or driver scenarios mapped through the
sensitivities, r_t = B x_t (x_t = the driver inputs ``d@l`` on date t), optionally plus the
model residuals e = r - B x resampled by a seeded permutation (breaking their timing, keeping
their cross-section).
"""

from __future__ import annotations

from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import ConfigError
from causalfolio.params import in_range, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping
from causalfolio.weights import check_exposures

from ._optim import (
    TRADING_DAYS,
    InfeasibleProblemError,
    check_solver_name,
    driver_design,
    exposures_of,
    gross_param,
    long_short_param,
    min_cvar,
    net_param,
    returns_matrix,
)
from .mvo import return_range


def driver_scenarios(inputs: MappingInputs, owner: str, residuals: str) -> np.ndarray:
    """Asset-return scenarios B x_t (+ permuted residuals), shape (T', N)."""
    x, r, b, _ = driver_design(inputs, owner)
    scen = x @ b.T
    if residuals == "resample":
        e = r - scen
        perm = np.random.default_rng(inputs.seed).permutation(len(e))
        scen = scen + e[perm]
    return scen


@attrs.define(frozen=True, kw_only=True)
class Cvar(RiskMapping):
    """Minimum conditional value at risk (Rockafellar-Uryasev LP) over return scenarios."""

    name = "cvar"
    needs_sensitivities = False

    alpha: float = param(0.95, doc="confidence level of CVaR (share of scenarios not in the "
                                   "tail)", validator=in_range(0.0, 1.0, lo_open=True,
                                                               hi_open=True))
    scenarios: Literal["historical", "drivers"] = param(
        "historical", doc="historical: trailing asset returns; drivers: B x_t through the "
                          "sensitivities (needs all five stages)")
    residuals: Literal["none", "resample"] = param(
        "none", doc="with scenarios=drivers: add the model residuals, permuted with the seed")
    min_return: float | None = param(None, doc="annual floor on the mean scenario return "
                                               "(decimal, /252 daily)")
    solver: str = param("auto", doc="cvxpy solver tried first ('auto': HIGHS, CLARABEL, ECOS, "
                                    "SCS... as installed)")
    window: int | None = param(None, doc="scenario window in trading days", validator=positive)
    long_short: bool = long_short_param()
    gross: float | None = gross_param()
    net: float = net_param()

    def validate(self) -> None:
        check_exposures(self.name, self.gross, self.net)
        check_solver_name(self.name, self.solver)

    def scenario_matrix(self, inputs: MappingInputs) -> np.ndarray:
        """The (S, N) scenario matrix the LP uses."""
        if self.scenarios == "historical":
            return returns_matrix(inputs)
        if inputs.sensitivities is None:
            raise ConfigError("cvar(scenarios='drivers') maps driver scenarios through the "
                              "sensitivities: give all five stages, or use "
                              "scenarios='historical' for a benchmark")
        return driver_scenarios(inputs, self.name, self.residuals)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        scen = self.scenario_matrix(inputs)
        floor = None
        ls = exposures_of(self)
        if self.min_return is not None:
            floor = self.min_return / TRADING_DAYS
            best = (return_range(scen.mean(axis=0), inputs.constraints)[1] if ls is None
                    else float("inf"))
            if floor > best + 1e-15:
                raise InfeasibleProblemError(
                    f"cvar: min_return {self.min_return:g} a year is infeasible: the best mean "
                    f"scenario return within the bounds is {best * TRADING_DAYS:.4g} a year")
        w, info = min_cvar(scen, self.alpha, inputs.constraints, solver=self.solver,
                           min_return=floor, what="the minimum-CVaR LP", exposures=ls)
        info.update(alpha=self.alpha, scenarios=self.scenarios, n_scenarios=int(len(scen)))
        return Allocation(weights=pd.Series(w, index=list(inputs.assets)), diagnostics=info)


@hookimpl
def register_mappings(register):
    register(Cvar)
