"""``mvo``: mean-variance benchmarks with cvxpy (SPEC §5; monograph §9.1).

Maximum Sharpe, minimum volatility, quadratic utility and target return, on the sample or a
shrunk covariance of the trailing window, long-only within the weight bounds.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import ParameterError
from causalfolio.params import param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping
from causalfolio.weights import check_exposures

from ._optim import (
    TRADING_DAYS,
    InfeasibleProblemError,
    check_solver_name,
    covariance,
    exposures_of,
    finalize_weights,
    gross_param,
    limits_of,
    long_short_param,
    net_param,
    psd_factor,
    returns_matrix,
    solve,
    weight_variable,
)

Objective = Literal["max_sharpe", "min_volatility", "quadratic_utility", "target_return"]
CovEstimator = Literal["sample", "ledoit_wolf", "oas"]


def return_range(mu: np.ndarray, bounds: Any, hi: float | None = None) -> tuple[float, float]:
    """Smallest and largest mu'w over the constraints: ``bounds`` is the mapping's
    :class:`DateConstraints` or a (min, max) pair, or the min with ``hi`` the max. Exact: a
    greedy fill for bounds only, a linear program with linear constraints."""
    if hi is not None:
        bounds = (bounds, hi)
    return limits_of(bounds, len(mu)).return_range(mu)


def min_variance(f: np.ndarray, bounds: Any, *, solver: str,
                 mu: np.ndarray | None = None, floor: float | None = None,
                 what: str = "the minimum-variance problem", exposures=None
                 ) -> tuple[np.ndarray, dict]:
    """min ||F'w||^2 (= w'Sigma w) over the bounded simplex (or, with ``exposures``, over
    sum w = net, sum |w| <= gross), optionally with mu'w >= floor."""
    import cvxpy as cp

    w, cons = weight_variable(f.shape[0], bounds, exposures)
    if floor is not None and mu is not None:
        m = float(np.abs(mu).max()) or 1.0  # scaled so the constraint is O(1)
        cons.append((mu / m) @ w >= floor / m)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(f.T @ w)), cons)
    info = solve(prob, solver=solver, what=what)
    weights, adj = finalize_weights(w.value, bounds, exposures)
    info["projection"] = adj
    return weights, info


def max_sharpe(mu: np.ndarray, f: np.ndarray, rf: float, bounds: Any, *,
               solver: str, exposures=None) -> tuple[np.ndarray, dict]:
    """Tangency portfolio by the homogenisation y = kappa w (Cornuejols-Tutuncu).

    min ||F'y||^2 s.t. (mu - rf)'y = 1, sum y = kappa, lo kappa <= y <= hi kappa, kappa >= 0
    (and linear rows A y <= b kappa); w = y / kappa. Needs a feasible portfolio with positive
    excess return.
    """
    import cvxpy as cp

    n = len(mu)
    y, kappa = cp.Variable(n), cp.Variable(nonneg=True)
    ex = mu - rf
    ex = ex / float(np.abs(ex).max())  # same maximiser; y of order 1 for the solver
    if exposures is None:
        cons = [ex @ y == 1, *limits_of(bounds, n).cvxpy(y, kappa)]
    else:  # long-short: sum w = net, sum |w| <= gross, homogenised
        net, gross = exposures
        cons = [ex @ y == 1, cp.sum(y) == net * kappa]
        if gross is not None:
            cons.append(cp.norm1(y) <= gross * kappa)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(f.T @ y)), cons)
    info = solve(prob, solver=solver, what="the maximum-Sharpe problem")
    k = float(kappa.value)
    if not k > 0:
        from causalfolio.errors import NumericalError

        raise NumericalError(f"maximum-Sharpe problem returned kappa = {k}; cannot normalise")
    weights, adj = finalize_weights(np.asarray(y.value) / k, bounds, exposures)
    info["projection"] = adj
    return weights, info


@attrs.define(frozen=True, kw_only=True)
class Mvo(RiskMapping):
    """Mean-variance benchmarks: max Sharpe, min volatility, quadratic utility, target return."""

    name = "mvo"
    needs_sensitivities = False

    objective: Objective = param(
        "min_volatility",
        doc="max_sharpe, min_volatility, quadratic_utility (mu'w - risk_aversion/2 w'Sw) or "
            "target_return (min variance with mu'w >= target_return)")
    covariance: CovEstimator = param("sample", doc="covariance estimator: sample, ledoit_wolf, "
                                                  "oas (shrinkage, scikit-learn)")
    risk_free: float = param(0.0, doc="annual risk-free rate for max_sharpe (decimal, /252 daily)")
    risk_aversion: float = param(1.0, doc="delta of quadratic_utility (dimensionless)",
                                 validator=positive)
    target_return: float | None = param(
        None, doc="annual target return for target_return (decimal, /252 daily)")
    infeasible: Literal["raise", "closest"] = param(
        "raise", doc="target above the best attainable return: raise, or take the closest "
                     "(highest-return, then least-variance) portfolio")
    solver: str = param("auto", doc="cvxpy solver tried first; 'auto' = CLARABEL, OSQP, ECOS, "
                                    "SCS... as installed; the others are the fallback chain")
    window: int | None = param(None, doc="covariance window in trading days (default: the "
                                         "backtest's covariance window)", validator=positive)
    long_short: bool = long_short_param()
    gross: float | None = gross_param()
    net: float = net_param()

    def validate(self) -> None:
        check_exposures(self.name, self.gross, self.net)
        if self.objective == "target_return" and self.target_return is None:
            raise ParameterError("mvo: parameter 'target_return' is required with "
                                 "objective='target_return', e.g. mvo(objective=target_return, "
                                 "target_return=0.08)")
        check_solver_name(self.name, self.solver)

    def allocate(self, inputs: MappingInputs) -> Allocation:
        import cvxpy as cp

        r = returns_matrix(inputs)
        mu = r.mean(axis=0)
        cov = covariance(r, self.covariance)
        unit = float(np.sqrt(np.mean(np.diag(cov)))) or 1.0
        f = psd_factor(cov) / unit  # objectives of order 1: solver tolerances are absolute
        limits = inputs.constraints
        ls = exposures_of(self)
        diag: dict = {"objective": self.objective, "covariance": self.covariance}
        if ls is not None:
            diag.update(long_short=True, net=ls[0], gross=ls[1])
        if self.objective == "min_volatility":
            w, info = min_variance(f, limits, solver=self.solver, exposures=ls)
        elif self.objective == "max_sharpe":
            rf = self.risk_free / TRADING_DAYS
            best = return_range(mu, limits)[1] if ls is None else float("inf")
            if best <= rf:
                w, info = min_variance(f, limits, solver=self.solver)
                diag["fallback"] = ("min_volatility: no portfolio within the bounds has an "
                                    f"expected return above the risk-free rate (best "
                                    f"{best * TRADING_DAYS:.4g} a year)")
            else:
                w, info = max_sharpe(mu, f, rf, limits, solver=self.solver, exposures=ls)
        elif self.objective == "quadratic_utility":
            x, cons = weight_variable(len(mu), limits, ls)
            prob = cp.Problem(cp.Maximize((mu / unit**2) @ x - 0.5 * self.risk_aversion
                                          * cp.sum_squares(f.T @ x)), cons)
            info = solve(prob, solver=self.solver, what="the quadratic-utility problem")
            w, info["projection"] = finalize_weights(x.value, limits, ls)
        else:
            target = float(self.target_return) / TRADING_DAYS  # type: ignore[arg-type]
            worst, best = return_range(mu, limits) if ls is None else (-np.inf, np.inf)
            if target > best + 1e-15:
                if self.infeasible == "raise":
                    raise InfeasibleProblemError(
                        f"mvo: target_return {self.target_return:g} a year is infeasible: the "
                        f"best expected return within the constraints is "
                        f"{best * TRADING_DAYS:.4g} a year; lower the target or use "
                        "infeasible=closest")
                diag["fallback"] = (f"target {self.target_return:g} above the best attainable "
                                    f"{best * TRADING_DAYS:.4g}; used the best attainable")
                target = best - 1e-12 * max(1.0, abs(best))
            w, info = min_variance(f, limits, solver=self.solver, mu=mu,
                                   floor=max(target, worst),
                                   what="the target-return problem", exposures=ls)
        diag.update(info)
        diag["expected_return_annual"] = float(mu @ w * TRADING_DAYS)
        diag["volatility_annual"] = float(np.sqrt(max(w @ cov @ w, 0.0) * TRADING_DAYS))
        return Allocation(weights=pd.Series(w, index=list(inputs.assets)), diagnostics=diag)


@hookimpl
def register_mappings(register):
    register(Mvo)
