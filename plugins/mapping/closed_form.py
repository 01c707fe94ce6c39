"""``closed_form``: w = M^-1 1 / (1'M^-1 1) on the sensitivity distance matrix (SPEC §5,
monograph §6.1.1-6.1.2, §8.6).

M is D + eps I (regularised), D itself through its Moore-Penrose pseudo-inverse, or the Gaussian
kernel K = exp(-D^2 / (2 h^2)). A Euclidean distance matrix is hollow and indefinite (one positive
eigenvalue, the rest negative or zero), so for M built from D the closed form is a *stationary
point* of w'Mw on {1'w = 1}, not a minimum; only the kernel is positive definite and gives the
minimum. ``method='qp'`` solves the bounded problem min w'Mw (§6.1.2) instead: convex (cvxpy)
for the kernel, a local KKT point (SLSQP from 1/N) for the indefinite matrices.
"""

from __future__ import annotations

from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import ConfigError
from causalfolio.params import param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping
from causalfolio.weights import check_exposures

from ._optim import (
    bandwidth,
    check_solver_name,
    exposures_of,
    finalize_weights,
    gaussian_kernel,
    gross_param,
    local_quadratic_min,
    long_short_param,
    min_eig,
    net_param,
    psd_factor,
    require_distance,
    solve,
    weight_variable,
)

Matrix = Literal["regularised", "pinv", "kernel"]


def closed_form_weights(m: np.ndarray, *, pinv: bool = False, rcond: float = 1e-10
                        ) -> np.ndarray | None:
    """M^-1 1 / (1'M^-1 1) (or with the pseudo-inverse); ``None`` when 1'M^-1 1 is ~0 or M is
    exactly singular (the budget constraint cannot be met by a stationary point)."""
    ones = np.ones(len(m))
    try:
        x = np.linalg.pinv(m, rcond=rcond, hermitian=True) @ ones if pinv else \
            np.linalg.solve(m, ones)
    except np.linalg.LinAlgError:
        return None
    s = float(ones @ x)
    if not np.isfinite(s) or abs(s) <= 1e-12 * max(1.0, float(np.abs(x).sum())):
        return None
    return x / s


@attrs.define(frozen=True, kw_only=True)
class ClosedForm(RiskMapping):
    """Closed-form w = M^-1 1 / 1'M^-1 1 for regularised D, pinv(D) or a kernel; or the QP."""

    name = "closed_form"

    matrix: Matrix = param("kernel", doc="regularised (D + eps I), pinv (pseudo-inverse of D) or "
                                         "kernel (exp(-D^2/2h^2), positive definite)")
    method: Literal["closed", "qp"] = param(
        "closed", doc="closed: the Lagrange solution projected onto the bounds when it leaves "
                      "them; qp: min w'Mw over the bounded simplex (§6.1.2)")
    eps: float = param(1e-2, doc="ridge for 'regularised', relative to the mean off-diagonal "
                                 "distance: M = D + eps * mean(D) I", validator=positive)
    rcond: float = param(1e-10, doc="relative cutoff of small singular values for 'pinv'",
                         validator=positive)
    bandwidth: float | None = param(None, doc="kernel bandwidth h (default: median off-diagonal "
                                              "distance)", validator=positive)
    solver: str = param("auto", doc="cvxpy solver tried first for the convex QP")
    long_short: bool = long_short_param()
    gross: float | None = gross_param()
    net: float = net_param()

    def validate(self) -> None:
        check_exposures(self.name, self.gross, self.net)
        check_solver_name(self.name, self.solver)

    def _matrix(self, d: np.ndarray) -> tuple[np.ndarray, dict]:
        n = len(d)
        if self.matrix == "kernel":
            h = bandwidth(d, self.bandwidth)
            return gaussian_kernel(d, h), {"bandwidth": h}
        if self.matrix == "regularised":
            off = d[~np.eye(n, dtype=bool)]
            ridge = self.eps * (float(off.mean()) if off.size and off.mean() > 0 else 1.0)
            return d + ridge * np.eye(n), {"ridge": ridge}
        return d.copy(), {"rcond": self.rcond}

    def allocate(self, inputs: MappingInputs) -> Allocation:
        import cvxpy as cp

        d = require_distance(inputs, self.name)
        n = len(d)
        m, diag = self._matrix(d)
        lam_min = min_eig(m)
        convex = lam_min >= -1e-12 * max(1.0, float(np.abs(m).max()))
        diag.update(matrix=self.matrix, method=self.method, min_eigenvalue=lam_min,
                    positive_definite=bool(lam_min > 0),
                    condition=float(np.linalg.cond(m)) if n > 1 else 1.0)
        limits = inputs.constraints
        ls = exposures_of(self)
        method = self.method
        if method == "closed":
            raw = closed_form_weights(m, pinv=self.matrix == "pinv", rcond=self.rcond)
            if raw is None:
                diag["fallback"] = ("qp: 1'M^-1 1 is zero or M is singular, no stationary "
                                    "point meets the budget (§8.6.2 item 3)")
                method = "qp"
            else:
                diag["raw_weights"] = raw.tolist()
                diag["stationary_point_only"] = not convex
                if ls is not None:
                    raw = raw * ls[0]  # the budget sum w = net
                    if ls[1] is None or np.abs(raw).sum() <= ls[1] + 1e-12:
                        weights = raw
                    else:
                        diag["fallback"] = "qp: the closed form exceeds the gross limit"
                        method = "qp"
                elif limits.contains(raw):
                    weights = raw
                else:
                    weights = limits.project(raw)
                    diag["projected"] = float(np.abs(weights - raw).max())
        if method == "qp":
            if convex:
                w, cons = weight_variable(n, inputs.constraints, ls)
                info = solve(cp.Problem(cp.Minimize(cp.sum_squares(psd_factor(m).T @ w)), cons),
                             solver=self.solver, what=f"the closed_form {self.matrix} QP")
                weights, info["projection"] = finalize_weights(w.value, inputs.constraints, ls)
            elif ls is not None:
                raise ConfigError(
                    f"closed_form: the {self.matrix} matrix is indefinite, so the long-short "
                    "QP has no minimum; use matrix='kernel' or method='closed'")
            else:
                weights, info = local_quadratic_min(m, inputs.constraints)
                info["local_only"] = True
            diag.update(info)
        diag["objective"] = float(weights @ m @ weights)
        return Allocation(weights=pd.Series(weights, index=list(inputs.assets)),
                          diagnostics=diag)


@hookimpl
def register_mappings(register):
    register(ClosedForm)
