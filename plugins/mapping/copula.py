"""``copula``: copula scenarios of the drivers mapped to assets through the sensitivities, then
minimum CVaR (SPEC §5 Decision; monograph §8.5).

1. Inputs x_t (driver d at lag l for each sensitivity input ``d@l``) on the trailing window.
2. Pseudo-observations u = rank / (T + 1); a copula is fitted to them:
   ``gaussian`` (correlation of normal scores), ``t`` (correlation sin(pi tau / 2) from Kendall's
   tau, degrees of freedom by maximum likelihood), ``clayton`` and ``gumbel`` (exchangeable
   Archimedean, theta from the mean pairwise Kendall tau: 2 tau / (1 - tau) and 1 / (1 - tau)).
   For two inputs the Clayton and Gumbel fits equal the ``copulas`` package's (tested).
3. ``n_scenarios`` draws of u (Gaussian/t by their stochastic representation, Clayton and Gumbel
   by Marshall-Olkin frailty sampling) are turned into inputs by the marginals (empirical
   quantiles, fitted Student t or normal), mapped to asset returns r = B x, and the residuals
   e_t = r_t - B x_t of the window, resampled with replacement, are added.
4. The weights minimise CVaR_alpha over those scenarios (Rockafellar-Uryasev LP) or the scenario
   variance; VaR and CVaR of the result are reported.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import NumericalError
from causalfolio.params import in_range, param, positive
from causalfolio.stages import Allocation, MappingInputs, RiskMapping

from ._hierarchy import nearest_psd
from ._optim import (
    check_solver_name,
    cvar_of,
    driver_design,
    finalize,
    min_cvar,
    psd_factor,
    solve,
    var_of,
    weight_variable,
)

Family = Literal["gaussian", "t", "clayton", "gumbel"]
THETA_MIN = {"clayton": 1e-6, "gumbel": 1.0}


def pseudo_observations(x: np.ndarray) -> np.ndarray:
    """Column ranks / (T + 1), in (0, 1); ties get their average rank."""
    from scipy import stats

    return stats.rankdata(x, axis=0) / (x.shape[0] + 1.0)


def mean_kendall_tau(u: np.ndarray) -> float:
    """Mean pairwise Kendall tau of the columns of ``u`` (T, P), P >= 2."""
    from scipy import stats

    p = u.shape[1]
    taus = [stats.kendalltau(u[:, i], u[:, j])[0] for i in range(p) for j in range(i + 1, p)]
    taus = [t for t in taus if np.isfinite(t)]
    return float(np.mean(taus)) if taus else 0.0


def _corr_pd(c: np.ndarray) -> np.ndarray:
    """Nearest PSD correlation with a unit diagonal and a small ridge (always factorisable)."""
    c = nearest_psd(c) + 1e-10 * np.eye(len(c))
    d = np.sqrt(np.diag(c))
    c = c / np.outer(d, d)
    np.fill_diagonal(c, 1.0)
    return c


def fit_copula(u: np.ndarray, family: str) -> dict[str, Any]:
    """Fit the copula ``family`` to pseudo-observations u (T, P); JSON-ready parameters.

    Gaussian: corr = correlation of Phi^-1(u). t: corr = sin(pi tau_ij / 2) (Kendall's tau,
    robust to heavy tails), df maximising the copula likelihood over [2, 100]. Clayton/Gumbel:
    one theta from the mean pairwise tau; a tau <= 0 (no positive dependence, which these
    families cannot express) gives the independence copula (theta at its lower limit), flagged.
    """
    from scipy import stats

    p = u.shape[1]
    if family == "gaussian":
        z = stats.norm.ppf(u)
        corr = np.corrcoef(z, rowvar=False) if p > 1 else np.ones((1, 1))
        return {"corr": _corr_pd(np.atleast_2d(corr)).tolist()}
    if family == "t":
        if p > 1:
            tau = np.array([[stats.kendalltau(u[:, i], u[:, j])[0] if i != j else 1.0
                             for j in range(p)] for i in range(p)])
            tau = np.nan_to_num(tau, nan=0.0)
            corr = _corr_pd(np.sin(np.pi * tau / 2.0))
        else:
            corr = np.ones((1, 1))
        return {"corr": corr.tolist(), "df": _fit_t_df(u, corr)}
    tau = mean_kendall_tau(u) if p > 1 else 0.0
    if family == "clayton":
        theta = 2.0 * tau / (1.0 - tau) if tau > 0 else THETA_MIN["clayton"]
    elif family == "gumbel":
        theta = 1.0 / (1.0 - tau) if tau > 0 else THETA_MIN["gumbel"]
    else:
        raise ValueError(f"unknown copula family {family!r}")
    return {"theta": float(max(theta, THETA_MIN[family])), "kendall_tau": tau,
            "independence": bool(tau <= 0)}


def t_copula_loglik(u: np.ndarray, corr: np.ndarray, df: float) -> float:
    """Log-likelihood of the t copula with correlation ``corr`` and ``df`` at u (T, P)."""
    from scipy import stats

    x = stats.t.ppf(u, df)
    joint = stats.multivariate_t.logpdf(x, shape=corr, df=df)
    return float(np.sum(joint) - np.sum(stats.t.logpdf(x, df)))


def _fit_t_df(u: np.ndarray, corr: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    if u.shape[1] == 1:
        return 100.0
    res = minimize_scalar(lambda lg: -t_copula_loglik(u, corr, float(np.exp(lg))),
                          bounds=(np.log(2.0), np.log(100.0)), method="bounded",
                          options={"xatol": 1e-3})
    return float(np.exp(res.x))


def _positive_stable(alpha: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Positive alpha-stable variables with Laplace transform exp(-s^alpha) (Kanter 1975)."""
    if alpha >= 1.0:
        return np.ones(size)
    v = rng.uniform(0.0, np.pi, size)
    w = rng.exponential(1.0, size)
    return (np.sin(alpha * v) / np.sin(v) ** (1.0 / alpha)
            * (np.sin((1.0 - alpha) * v) / w) ** ((1.0 - alpha) / alpha))


def sample_copula(family: str, params: dict[str, Any], p: int, size: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``size`` draws (size, p) of the fitted copula, values in (0, 1)."""
    from scipy import stats

    if family in ("gaussian", "t"):
        corr = np.asarray(params["corr"], dtype=float)
        z = rng.standard_normal((size, p)) @ np.linalg.cholesky(corr).T
        if family == "gaussian":
            u = stats.norm.cdf(z)
        else:
            df = float(params["df"])
            x = z / np.sqrt(rng.chisquare(df, size) / df)[:, None]
            u = stats.t.cdf(x, df)
    else:
        theta = float(params["theta"])
        e = rng.exponential(1.0, (size, p))
        if family == "clayton":
            v = rng.gamma(1.0 / theta, 1.0, size)[:, None]
            u = (1.0 + e / v) ** (-1.0 / theta)
        else:
            v = _positive_stable(1.0 / theta, size, rng)[:, None]
            u = np.exp(-((e / v) ** (1.0 / theta)))
    eps = 1e-12
    return np.clip(u, eps, 1.0 - eps)


def to_marginals(u: np.ndarray, x: np.ndarray, marginals: str) -> tuple[np.ndarray, list]:
    """Turn uniforms u (M, P) into inputs with the marginals of the data x (T, P)."""
    from scipy import stats

    out = np.empty_like(u)
    fitted: list = []
    for j in range(x.shape[1]):
        col = x[:, j]
        if marginals == "empirical":
            out[:, j] = np.quantile(col, u[:, j], method="linear")
            fitted.append(None)
        elif marginals == "normal":
            mu, sd = float(col.mean()), float(col.std(ddof=1))
            out[:, j] = stats.norm.ppf(u[:, j], mu, sd)
            fitted.append({"mean": mu, "sd": sd})
        else:
            df, loc, scale = stats.t.fit(col)
            df = float(max(df, 2.05))
            out[:, j] = stats.t.ppf(u[:, j], df, loc, scale)
            fitted.append({"df": df, "loc": float(loc), "scale": float(scale)})
    return out, fitted


@attrs.define(frozen=True, kw_only=True)
class Copula(RiskMapping):
    """Copula driver scenarios through the sensitivities (plus residuals), minimum CVaR."""

    name = "copula"

    family: Family = param("t", doc="gaussian, t, clayton (lower tail) or gumbel (upper tail; "
                                    "survival=True for the lower tail)")
    marginals: Literal["empirical", "t", "normal"] = param(
        "empirical", doc="marginals of the driver inputs: empirical quantiles, Student t, normal")
    survival: bool = param(False, doc="use the survival (rotated) copula, u -> 1 - u: turns "
                                      "Gumbel's upper-tail dependence into lower-tail")
    n_scenarios: int = param(2000, doc="number of simulated scenarios", validator=positive)
    residuals: Literal["resample", "none"] = param(
        "resample", doc="add the window's residuals r - Bx resampled with replacement")
    objective: Literal["cvar", "variance"] = param(
        "cvar", doc="minimise CVaR_alpha (RU LP) or the variance of the scenarios")
    alpha: float = param(0.95, doc="CVaR/VaR confidence level",
                         validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))
    solver: str = param("auto", doc="cvxpy solver tried first ('auto': the fallback chain)")
    window: int | None = param(None, doc="fitting window in trading days", validator=positive)

    def validate(self) -> None:
        check_solver_name(self.name, self.solver)

    def scenarios(self, inputs: MappingInputs) -> tuple[np.ndarray, dict[str, Any]]:
        """Simulated asset-return scenarios (n_scenarios, N) and the fit facts."""
        x, r, b, names = driver_design(inputs, self.name)
        if x.shape[0] < 10:
            raise NumericalError(f"copula: {x.shape[0]} dates to fit a copula on; need at "
                                 "least 10 (lengthen the window)")
        rng = np.random.default_rng(inputs.seed)
        u_data = pseudo_observations(x)
        if self.survival:
            u_data = 1.0 - u_data
        fit = fit_copula(u_data, self.family)
        u = sample_copula(self.family, fit, x.shape[1], self.n_scenarios, rng)
        if self.survival:
            u = 1.0 - u
        xs, marg = to_marginals(u, x, self.marginals)
        scen = xs @ b.T
        if self.residuals == "resample":
            e = r - x @ b.T
            scen = scen + e[rng.integers(0, len(e), self.n_scenarios)]
        if not np.all(np.isfinite(scen)):
            raise NumericalError("copula: simulated scenarios are not finite (marginal fit "
                                 "diverged); use marginals='empirical'")
        return scen, {"family": self.family, "inputs": names, "fit": fit, "marginals": marg,
                      "n_fit": int(x.shape[0])}

    def allocate(self, inputs: MappingInputs) -> Allocation:
        import cvxpy as cp

        scen, facts = self.scenarios(inputs)
        if self.objective == "cvar":
            w, info = min_cvar(scen, self.alpha, inputs.constraints, solver=self.solver,
                               what="the copula minimum-CVaR LP")
        else:
            cov = np.cov(scen, rowvar=False)
            f = psd_factor(cov) / (float(np.sqrt(np.mean(np.diag(cov)))) or 1.0)
            x, cons = weight_variable(scen.shape[1], inputs.constraints)
            info = solve(cp.Problem(cp.Minimize(cp.sum_squares(f.T @ x)), cons),
                         solver=self.solver, what="the copula minimum-variance problem")
            w, info["projection"] = finalize(x.value, inputs.constraints)
        pnl = scen @ w
        facts.update(info)
        facts.update(var=var_of(pnl, self.alpha), cvar=cvar_of(pnl, self.alpha),
                     volatility=float(pnl.std(ddof=1)), alpha=self.alpha)
        return Allocation(weights=pd.Series(w, index=list(inputs.assets)), diagnostics=facts)


@hookimpl
def register_mappings(register):
    register(Copula)
