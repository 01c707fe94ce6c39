"""``mvo_reg``: minimum variance plus a diversification term in sensitivity space (SPEC §5,
monograph §8.3.2 item 1, §8.4 item 5, §8.6 item 4).

Objective, over long-only bounded weights::

    kernel      w'Sigma w + lambda * c_K * w'Kw,        K = exp(-D^2 / (2 h^2))     (default)
    dispersion  w'Sigma w - lambda * c_S * sum_i w_i ||s_i - S'w||^2
    distance    w'Sigma w + lambda * c_D * w'Dw         (literal monograph form: degenerate)

The scale factors c make lambda dimensionless: c_K = mean(diag Sigma) (K has unit diagonal),
c_S = mean(diag Sigma) / mean_i ||s_i - s_bar||^2 and c_D = mean(diag Sigma) / mean(D offdiag).
"""

from __future__ import annotations

import warnings
from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import ConfigError
from causalfolio.params import non_negative, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._optim import (
    bandwidth,
    check_solver_name,
    covariance,
    finalize,
    gaussian_kernel,
    local_quadratic_min,
    min_eig,
    psd_factor,
    require_distance,
    returns_matrix,
    solve,
    weight_variable,
)

Term = Literal["kernel", "dispersion", "distance"]


class DegenerateObjectiveWarning(UserWarning):
    """The literal w'Dw diversification term rewards concentration (w'Dw = 0 on one asset)."""


@attrs.define(frozen=True, kw_only=True)
class MvoReg(RiskMapping):
    """Minimum variance regularised by a sensitivity-space diversification term."""

    name = "mvo_reg"

    lam: float = param(1.0, doc="strength lambda of the diversification term (dimensionless, "
                                "see the scaling in the docs)", validator=non_negative)
    term: Term = param("kernel", doc="kernel (w'Kw similarity, convex, default), dispersion "
                                     "(maximise sum_i w_i ||s_i - S'w||^2, convex) or distance "
                                     "(literal w'Dw: non-convex and degenerate, warns)")
    bandwidth: float | None = param(None, doc="kernel bandwidth h in sensitivity units (default: "
                                              "median off-diagonal distance)",
                                    validator=positive)
    covariance: Literal["sample", "ledoit_wolf", "oas"] = param(
        "sample", doc="covariance estimator of the trailing window")
    solver: str = param("auto", doc="cvxpy solver tried first ('auto': the fallback chain)")
    window: int | None = param(None, doc="covariance window in trading days",
                               validator=positive)

    def validate(self) -> None:
        check_solver_name(self.name, self.solver)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        import cvxpy as cp

        r = returns_matrix(inputs)
        cov = covariance(r, self.covariance)
        n = cov.shape[0]
        scale = float(np.mean(np.diag(cov))) or 1.0
        # objective divided by the mean variance: of order 1, as solver tolerances are absolute
        f = psd_factor(cov) / np.sqrt(scale)
        d = require_distance(inputs, self.name)
        diag: dict = {"term": self.term, "lam": self.lam}
        if self.term == "kernel":
            h = bandwidth(d, self.bandwidth)
            k = gaussian_kernel(d, h)
            fk = psd_factor(k)
            w, cons = weight_variable(n, inputs.constraints)
            obj = cp.sum_squares(f.T @ w) + self.lam * cp.sum_squares(fk.T @ w)
            info = solve(cp.Problem(cp.Minimize(obj), cons), solver=self.solver,
                         what="the kernel-regularised minimum-variance problem")
            weights, info["projection"] = finalize(w.value, inputs.constraints)
            diag["bandwidth"] = h
            diag["similarity"] = float(weights @ k @ weights)
        elif self.term == "dispersion":
            if inputs.sensitivities is None:
                raise ConfigError("mvo_reg(term='dispersion') needs the sensitivities")
            s = np.asarray(inputs.sensitivities.aggregate, dtype=float)
            sq = np.sum(s**2, axis=1)
            spread = float(np.mean(np.sum((s - s.mean(axis=0)) ** 2, axis=1)))
            c = 1.0 / spread if spread > 0 else 0.0
            w, cons = weight_variable(n, inputs.constraints)
            # sum_i w_i ||s_i - S'w||^2 = sq'w - ||S'w||^2 when sum w = 1: concave in w
            disp = sq @ w - cp.sum_squares(s.T @ w)
            obj = cp.sum_squares(f.T @ w) - self.lam * c * disp
            info = solve(cp.Problem(cp.Minimize(obj), cons), solver=self.solver,
                         what="the dispersion-regularised minimum-variance problem")
            weights, info["projection"] = finalize(w.value, inputs.constraints)
            diag["dispersion"] = float(sq @ weights - np.sum((s.T @ weights) ** 2))
        else:
            off = d[~np.eye(n, dtype=bool)]
            c = 1.0 / float(off.mean()) if off.size and off.mean() > 0 else 0.0
            m = cov / scale + self.lam * c * d
            warnings.warn(
                "mvo_reg(term='distance') minimises w'Sigma w + lambda w'Dw with a hollow "
                "distance matrix: w'Dw is 0 on any single asset, so the term rewards "
                "concentration; use term='kernel' or 'dispersion' to diversify",
                DegenerateObjectiveWarning, stacklevel=2)
            lam_min = min_eig(m)
            if lam_min >= -1e-12 * max(1.0, float(np.abs(m).max())):
                w, cons = weight_variable(n, inputs.constraints)
                info = solve(cp.Problem(cp.Minimize(cp.sum_squares(psd_factor(m).T @ w)), cons),
                             solver=self.solver, what="the distance-regularised problem")
                weights, info["projection"] = finalize(w.value, inputs.constraints)
            else:
                weights, info = local_quadratic_min(m, inputs.constraints)
            diag["nonconvex"] = bool(lam_min < 0)
            diag["min_eigenvalue"] = lam_min
            diag["warning"] = "literal w'Dw term: degenerate (rewards concentration)"
        diag.update(info)
        diag["volatility_annual"] = float(np.sqrt(max(weights @ cov @ weights, 0.0) * 252))
        return Allocation(weights=pd.Series(weights, index=list(inputs.assets)),
                          diagnostics=diag)


@hookimpl
def register_mappings(register):
    register(MvoReg)
