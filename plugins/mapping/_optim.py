"""Shared code of the optimisation-based and geometric mappings (issue 7; SPEC §5).

Solver chain (cvxpy), covariance estimators, the bounded simplex, the Rockafellar-Uryasev CVaR
linear program, driver scenarios mapped through the sensitivities, the Gaussian similarity kernel
and a local solver for the non-convex quadratic forms of the literal monograph variants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from causalfolio._lazy import np
from causalfolio.constraints import DateConstraints
from causalfolio.diagnostics import driver_inputs
from causalfolio.errors import ConfigError, DataError, NumericalError
from causalfolio.params import param, positive
from causalfolio.stages import MappingInputs

from ._checks import checked_distance

if TYPE_CHECKING:  # cvxpy is imported where a problem is built or solved, not on registry load
    import cvxpy as cp

PREFERRED = ("CLARABEL", "OSQP", "ECOS", "SCS", "HIGHS", "SCIPY")
"""Solvers tried, in this order, by ``solver='auto'`` (those installed)."""
LP_PREFERRED = ("HIGHS", "CLARABEL", "ECOS", "SCS", "SCIPY", "OSQP")
"""Order for linear programs (CVaR): HiGHS is an exact simplex/IPM LP solver."""

TRADING_DAYS = 252
"""Annualisation factor: returns are daily, annual inputs (risk-free, targets) are divided by it."""


class InfeasibleProblemError(ConfigError):
    """The optimisation problem has no solution (bounds, target return or return floor)."""


def installed() -> tuple[str, ...]:
    """The cvxpy solvers installed here."""
    import cvxpy as cp

    return tuple(cp.installed_solvers())


def solver_chain(solver: str, *, lp: bool = False) -> list[str]:
    """The solvers to try: ``solver`` first (unless 'auto'), then the installed preferred ones."""
    have = installed()
    order = [s for s in (LP_PREFERRED if lp else PREFERRED) if s in have]
    if solver.lower() == "auto":
        return order
    name = solver.upper()
    if name not in have:
        raise ConfigError(
            f"cvxpy solver {solver!r} is not installed; installed solvers: {', '.join(have)} "
            "(or use solver='auto')"
        )
    return [name] + [s for s in order if s != name]


def check_solver_name(owner: str, solver: str) -> None:
    """Raise :class:`ParameterError` for a solver name cvxpy does not know (checked on build;
    cvxpy is imported only for a name other than 'auto')."""
    if solver.lower() == "auto":
        return
    import cvxpy as cp

    from causalfolio.errors import ParameterError

    if solver.upper() not in cp.settings.SOLVERS:
        raise ParameterError(
            f"{owner}: parameter 'solver' must be 'auto' or a cvxpy solver name "
            f"({', '.join(cp.settings.SOLVERS)}), got {solver!r}"
        )


def solve(problem: cp.Problem, *, solver: str, what: str, lp: bool = False) -> dict[str, Any]:
    """Solve ``problem`` with the first solver of the chain that succeeds.

    A solver error or a status other than optimal moves on to the next solver. When every solver
    reports infeasibility, :class:`InfeasibleProblemError` names the problem; when they fail for
    other reasons, :class:`NumericalError` lists each solver's failure.

    Returns facts for the diagnostics: the solver used, its status and the failures before it.
    """
    import cvxpy as cp

    failures: list[str] = []
    infeasible = completed = 0
    for name in solver_chain(solver, lp=lp):
        try:
            problem.solve(solver=name)
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        completed += 1
        status = problem.status
        solved = all(v.value is not None for v in problem.variables())
        if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and solved:
            return {"solver": name, "status": status, "failed": failures}
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            infeasible += 1
        failures.append(f"{name}: status {status}")
    if infeasible and infeasible == completed:
        raise InfeasibleProblemError(f"{what} is infeasible ({'; '.join(failures)})")
    raise NumericalError(
        f"every solver failed on {what}: {'; '.join(failures) or 'no cvxpy solver installed'}; "
        "try another solver=..., wider bounds or a longer window"
    )


def limits_of(bounds: Any, n: int) -> DateConstraints:
    """``bounds`` as :class:`DateConstraints` on n assets (a ``(min, max)`` pair is uniform)."""
    if isinstance(bounds, DateConstraints):
        return bounds
    lo, hi = bounds
    return DateConstraints.uniform([str(i) for i in range(n)], float(lo), float(hi))


def finalize(w: np.ndarray, bounds: Any) -> tuple[np.ndarray, float]:
    """Clean solver output: non-finite -> error; project onto the constraints.

    Solvers meet constraints only to their tolerance (about 1e-8); the Euclidean projection onto
    {sum = 1, lo <= w <= hi, linear rows} removes that residue (exactly for bounds only).
    ``bounds`` is a (min, max) pair or the mapping's :class:`DateConstraints`. Returns the
    weights and the largest change.
    """
    w = np.asarray(w, dtype=float).ravel()
    if not np.all(np.isfinite(w)):
        raise NumericalError("the optimiser returned non-finite weights")
    out = limits_of(bounds, len(w)).project(w)
    return out, float(np.abs(out - w).max(initial=0.0))


def weight_variable(n: int, bounds: Any, exposures: Exposures | None = None
                    ) -> tuple[cp.Variable, list]:
    """A weight variable (n,) and its constraints: the long-only budget, the per-asset bounds
    and any linear (group) rows of ``bounds`` (a (min, max) pair or a
    :class:`DateConstraints`), or, with ``exposures`` (long-short), sum w = net and
    sum |w| <= gross (bounds unused)."""
    import cvxpy as cp

    w = cp.Variable(n)
    if exposures is not None:
        net, gross = exposures
        cons = [cp.sum(w) == net]
        if gross is not None:
            cons.append(cp.norm1(w) <= gross)
        return w, cons
    return w, limits_of(bounds, n).cvxpy(w)


Exposures = tuple[float, "float | None"]
"""(net, gross) of a long-short portfolio: sum w and the largest sum |w| (None: no limit)."""


def exposures_of(mapping: Any) -> Exposures | None:
    """(net, gross) when the mapping runs long-short, else None."""
    return (float(mapping.net), mapping.gross) if getattr(mapping, "long_short", False) else None


def finalize_weights(w: np.ndarray, bounds: Any, exposures: Exposures | None
                     ) -> tuple[np.ndarray, float]:
    """:func:`finalize` for long-only weights; for long-short ones, the budget residue of the
    solver spread evenly so that sum w = net exactly (and sum |w| shrunk onto gross if the
    solver overshot it by its tolerance)."""
    if exposures is None:
        return finalize(w, bounds)
    w = np.asarray(w, dtype=float).ravel()
    if not np.all(np.isfinite(w)):
        raise NumericalError("the optimiser returned non-finite weights")
    net, gross = exposures
    out = w + (net - w.sum()) / len(w)
    if gross is not None and np.abs(out).sum() > gross:
        # shrink the short and long books towards the budget: sum stays net, gross hits gross
        longs, shorts = out.clip(0, None), out.clip(None, 0)
        excess = np.abs(out).sum() - gross
        lo_s, sh_s = longs.sum(), -shorts.sum()
        if sh_s > 0:
            k = excess / 2
            out = longs * (1 - k / lo_s) + shorts * (1 - k / sh_s)
    return out, float(np.abs(out - w).max(initial=0.0))


# --- covariance -------------------------------------------------------------------------------


def returns_matrix(inputs: MappingInputs) -> np.ndarray:
    """Trailing returns as a float array (T, N), checked for NaN/inf and length."""
    r = inputs.returns[list(inputs.assets)].to_numpy(dtype=float)
    if r.shape[0] < 2:
        raise DataError(f"{r.shape[0]} return rows for the covariance; need at least 2")
    if not np.all(np.isfinite(r)):
        bad = [a for a, ok in zip(inputs.assets, np.isfinite(r).all(axis=0), strict=True)
               if not ok]
        raise DataError(f"trailing returns contain NaN/inf for {bad}; clean or drop them")
    return r


def covariance(r: np.ndarray, estimator: str) -> np.ndarray:
    """Covariance (N, N) of returns r (T, N), daily units.

    ``sample`` (unbiased), ``ledoit_wolf`` or ``oas`` (scikit-learn shrinkage towards a scaled
    identity; well conditioned even when T < N).
    """
    if estimator == "sample":
        return np.atleast_2d(np.cov(r, rowvar=False))
    if estimator == "ledoit_wolf":
        from sklearn.covariance import ledoit_wolf

        return ledoit_wolf(r)[0]
    if estimator == "oas":
        from sklearn.covariance import oas

        return oas(r)[0]
    raise ConfigError(f"unknown covariance estimator {estimator!r}")


def psd_factor(cov: np.ndarray) -> np.ndarray:
    """F with F F' = nearest PSD of ``cov`` (negative eigenvalues clipped), so w'Cw = ||F'w||^2.

    Writing the quadratic form as a sum of squares keeps cvxpy's problem convex by construction,
    even for a rank-deficient sample covariance (T < N).
    """
    sym = 0.5 * (cov + cov.T)
    vals, vecs = np.linalg.eigh(sym)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def inverse_vol(vol: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Weights proportional to vol^-power; zero vols floored at 1e-12 x the largest (or 1e-20)."""
    floor = max(1e-20, 1e-12 * float(np.max(vol, initial=0.0)))
    iv = np.clip(vol, floor, None) ** (-power)
    return iv / iv.sum()


# --- sensitivity space ------------------------------------------------------------------------


def require_distance(inputs: MappingInputs, owner: str) -> np.ndarray:
    """The (N, N) distance matrix, checked like every mapping's (:func:`._checks.checked_distance`:
    finite, symmetric within rounding), with a zero diagonal and no negative entries."""
    d = checked_distance(inputs, owner)
    np.fill_diagonal(d, 0.0)
    return np.clip(d, 0.0, None)


def bandwidth(d: np.ndarray, value: float | None) -> float:
    """Kernel bandwidth: ``value``, else the median off-diagonal distance (1.0 if all are 0)."""
    if value is not None:
        return float(value)
    off = d[~np.eye(len(d), dtype=bool)]
    med = float(np.median(off)) if off.size else 0.0
    return med if med > 0 else 1.0


def gaussian_kernel(d: np.ndarray, h: float) -> np.ndarray:
    """K = exp(-D^2 / (2 h^2)) (§8.6 item 4): symmetric positive semi-definite, unit diagonal."""
    return np.exp(-(d**2) / (2.0 * h * h))


def driver_design(inputs: MappingInputs, owner: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                              list[str]]:
    """Inputs x_t (driver d at lag l for column ``d@l``) aligned with asset returns.

    Returns ``x`` (T', P), the asset returns ``r`` (T', N) on the same dates, the sensitivities
    B (N, P) and the input names (see :func:`causalfolio.diagnostics.driver_inputs`).
    """
    if inputs.sensitivities is None or inputs.driver_returns is None:
        raise ConfigError(f"{owner} needs sensitivities and driver returns; give all five stages "
                          "or use historical scenarios")
    return driver_inputs(inputs, owner)


# --- CVaR -------------------------------------------------------------------------------------


def min_cvar(scenarios: np.ndarray, alpha: float, bounds: Any, *, solver: str,
             min_return: float | None = None, what: str = "the CVaR problem",
             exposures: Exposures | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Rockafellar-Uryasev LP: min zeta + 1/((1-alpha) S) sum_s z_s over long-only bounded w.

    z_s >= -w'r_s - zeta, z_s >= 0; optional floor on the mean scenario return w'mean(r) >=
    ``min_return`` (per scenario period). ``scenarios`` is (S, N) of asset returns.
    Returns the weights and facts (CVaR, VaR zeta, solver).
    """
    import cvxpy as cp

    s, n = scenarios.shape
    w, cons = weight_variable(n, bounds, exposures)
    zeta = cp.Variable()
    z = cp.Variable(s, nonneg=True)
    cons = cons + [z >= -scenarios @ w - zeta]
    if min_return is not None:
        cons.append(scenarios.mean(axis=0) @ w >= min_return)
    prob = cp.Problem(cp.Minimize(zeta + cp.sum(z) / ((1.0 - alpha) * s)), cons)
    info = solve(prob, solver=solver, what=what, lp=True)
    weights, adj = finalize_weights(w.value, bounds, exposures)
    info.update(cvar=cvar_of(scenarios @ weights, alpha), var=var_of(scenarios @ weights, alpha),
                lp_objective=float(prob.value), projection=adj)
    return weights, info


def var_of(pnl: np.ndarray, alpha: float) -> float:
    """Value at risk: minus the (1 - alpha) lower quantile of returns (Rockafellar-Uryasev zeta)."""
    losses = np.sort(-np.asarray(pnl, dtype=float))
    k = int(np.ceil(alpha * len(losses))) - 1
    return float(losses[min(max(k, 0), len(losses) - 1)])


def cvar_of(pnl: np.ndarray, alpha: float) -> float:
    """CVaR_alpha of returns ``pnl`` (S,): min_zeta zeta + E[(-pnl - zeta)+] / (1 - alpha)."""
    losses = -np.asarray(pnl, dtype=float)
    zeta = var_of(pnl, alpha)
    return float(zeta + np.clip(losses - zeta, 0.0, None).mean() / (1.0 - alpha))


# --- non-convex quadratic forms -----------------------------------------------------------------


def local_quadratic_min(m: np.ndarray, bounds: Any, start: np.ndarray | None = None
                        ) -> tuple[np.ndarray, dict[str, Any]]:
    """A local minimiser of w'Mw over the constraints (M symmetric, possibly indefinite).

    Used only for the literal monograph variants (w'Dw with hollow D), which are non-convex:
    SLSQP from ``start`` (default 1/N projected onto the constraints) finds a KKT point, not a
    global minimum. Deterministic.
    """
    from scipy.optimize import minimize

    n = len(m)
    limits = limits_of(bounds, n)
    box, cons = limits.scipy()
    x0 = np.full(n, 1.0 / n) if start is None else np.asarray(start, dtype=float)
    if not limits.contains(x0):
        x0 = limits.project(x0)
    res = minimize(lambda w: float(w @ m @ w), x0, jac=lambda w: 2.0 * m @ w, method="SLSQP",
                   bounds=box, constraints=cons, options={"maxiter": 500, "ftol": 1e-12})
    if not np.all(np.isfinite(res.x)):
        raise NumericalError(f"SLSQP failed on the non-convex quadratic problem: {res.message}")
    weights, adj = finalize(res.x, bounds)
    return weights, {"solver": "SLSQP (local)", "status": str(res.message),
                     "success": bool(res.success), "projection": adj}


def min_eig(m: np.ndarray) -> float:
    """Smallest eigenvalue of the symmetric part of ``m``."""
    return float(np.linalg.eigvalsh(0.5 * (m + m.T))[0])


# --- long-short parameters shared by mvo, cvar and closed_form --------------------------------


def long_short_param() -> Any:
    """``long_short``: allow short positions (weights sum to ``net``, ``sum |w| <= gross``)."""
    return param(False, doc="allow short positions: weights sum to net and their absolute "
                            "values to at most gross; the backtest's per-asset bounds do not "
                            "apply")


def gross_param() -> Any:
    """``gross``: the largest gross exposure ``sum |w|`` of a long-short portfolio."""
    return param(None, doc="long_short: largest gross exposure sum |w| (None: unconstrained; "
                           "1 with net=1 is long-only)", validator=positive)


def net_param() -> Any:
    """``net``: the net exposure ``sum w`` of a long-short portfolio."""
    return param(1.0, doc="long_short: net exposure sum w (1: fully invested)")
