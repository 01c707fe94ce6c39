"""``CausalFactorModel``: the selected drivers and their sensitivities as a skfolio prior."""

from __future__ import annotations

from typing import Any

import numpy as np
from skfolio.prior import BasePrior

from ..constraints import Constraints
from ..defaults import DRIVER_WINDOW, TRAIN_WINDOW
from ..errors import DataError, ParameterError
from ..pipeline import Windows
from ._common import as_frames, check_nan_policy, four_stages, run

LOADINGS = ("forecast", "aggregate")
RESIDUALS = ("diagonal", "full")


class CausalFactorModel(BasePrior):
    """A factor model whose factors are causalfolio's selected drivers, as a skfolio prior.

    Stage 1 selects the drivers among the candidates ``y``; stages 2-4 fit the dynamics, extract
    each asset's sensitivities to the inputs ``driver@lag`` and forecast them. The loadings B
    (N, P) are the forecast sensitivities (the mean over the forecast's paths and horizon) or
    their in-sample aggregate; then, on the dynamics' training rows (the last ``train_window``
    rows, a component's own ``window`` first), with x the inputs and r the asset returns:

    * covariance ``B Sigma_D B' + Sigma_res`` (Sigma_D the sample covariance of x, Sigma_res
      that of the residuals r - B x, diagonal by default), as ``hsp(covariance='implied')``;
    * mean ``B mean(x) + a`` with ``a`` the mean residual (``alpha=True``, skfolio's
      ``TimeSeriesFactorModel`` convention: for OLS loadings this is the sample mean), or
      ``B mean(x)`` (``alpha=False``: the part of the mean the drivers explain, monograph
      Table 1);
    * scenarios ``x B' + a`` (one per training row), for scenario-based risk measures.

    With ``fixed`` drivers and ``linear|beta|static`` this is skfolio's
    ``TimeSeriesFactorModel`` with an OLS ``LoadingMatrixRegression`` on the same factors
    (tested to 1e-10). Any skfolio optimiser takes it: ``MeanRisk(prior_estimator=...)``,
    ``RiskBudgeting``, ``HierarchicalRiskParity``; they pass their ``y`` on to it.

    Parameters
    ----------
    spec : str, default="rccp(k=3)|linear|beta|static"
        The four stages ``drivers|dynamics|sensitivities|forecast`` (docs/spec-strings.md).
    driver_window, train_window : int, default=126, 125
        Driver-selection and training windows in trading days (rows).
    loadings : {"forecast", "aggregate"}, default="forecast"
        Forecast sensitivities: the mean over the forecast paths the forecaster keeps and the
        horizon (path forecasters keep ``keep_paths`` of their ``n_paths`` paths: set them
        equal to average all of them); the aggregate when it keeps none, as ``static``. Or
        the in-sample aggregate.
    alpha : bool, default=True
        Add the mean residual to the mean and the scenarios.
    residual : {"diagonal", "full"}, default="diagonal"
        Residual covariance: specific variances, or the full sample covariance.
    higham : bool, default=False
        Repair a non-PSD covariance with Higham's algorithm instead of eigenvalue clipping
        (skfolio's ``cov_nearest``; a PSD covariance is returned unchanged).
    horizon : int, default=21
        Forecast horizon in trading days.
    seed : int, default=0
        Seed passed to every stage.
    nan_policy : {"raise", "universe"}, default="raise"
        ``raise``: a NaN in ``X`` or ``y`` is an error. ``universe``: NaNs before a series'
        first value or after its last mark a changing universe (as ``CausalPortfolio`` and
        ``run_backtest``): assets without returns on every row the windows use get NaN moments,
        skfolio's mark of a non-investable asset (its optimisers give it weight 0), and
        ``factor_model`` is then None.
    registry : causalfolio.Registry, optional
        The registry that resolves the names in ``spec`` (default: the process-wide one); it
        travels with the estimator to ``n_jobs`` worker processes.

    Attributes
    ----------
    return_distribution_ : skfolio.prior.ReturnDistribution
        ``mu``, ``covariance``, ``returns`` and a skfolio ``FactorModel`` (loadings, factor
        moments, residuals) in the order of ``X``'s columns; the factors are the inputs.
    loading_matrix_ : ndarray of shape (n_assets, n_inputs)
        B.
    factor_names_ : list of str
        The inputs ``driver@lag``.
    drivers_ : list of str
        The selected drivers.
    rebalance_ : causalfolio.pipeline.RebalanceResult
        Everything the four stages produced.
    n_features_in_, feature_names_in_
        As in scikit-learn.
    """

    def __init__(self, spec: str = "rccp(k=3)|linear|beta|static",
                 driver_window: int = DRIVER_WINDOW, train_window: int = TRAIN_WINDOW,
                 loadings: str = "forecast", alpha: bool = True, residual: str = "diagonal",
                 higham: bool = False, horizon: int = 21, seed: int = 0,
                 nan_policy: str = "raise", registry: Any = None) -> None:
        self.spec = spec
        self.nan_policy = nan_policy
        self.registry = registry
        self.driver_window = driver_window
        self.train_window = train_window
        self.loadings = loadings
        self.alpha = alpha
        self.residual = residual
        self.higham = higham
        self.horizon = horizon
        self.seed = seed

    def fit(self, X: Any, y: Any = None, drivers: Any = None) -> CausalFactorModel:
        """Fit the prior on asset returns ``X`` (T, N) and candidate returns ``y`` (T, M).

        Parameters
        ----------
        X : array-like of shape (n_observations, n_assets)
            Daily asset returns.
        y : array-like of shape (n_observations, n_candidates)
            Daily returns (or changes) of the candidate drivers. Required (or ``drivers``).
        drivers : array-like of shape (n_observations, n_candidates), optional
            The candidates as routed metadata instead of ``y`` (``set_fit_request(drivers=
            True)`` with scikit-learn's ``enable_metadata_routing=True``).

        Returns
        -------
        self : CausalFactorModel
        """
        from skfolio.prior import FactorModel, ReturnDistribution
        from skfolio.utils.stats import cov_nearest

        from ..diagnostics import driver_inputs, factor_covariance
        from ..stages.mapping import MappingInputs

        owner = "CausalFactorModel"
        for name, value, allowed in (("loadings", self.loadings, LOADINGS),
                                     ("residual", self.residual, RESIDUALS)):
            if value not in allowed:
                raise ParameterError(f"{owner}: {name} must be one of {list(allowed)}, got "
                                     f"{value!r}")
        pipe = four_stages(self.spec, owner, self.registry)
        if y is not None and drivers is not None:
            raise DataError(f"{owner}: candidate drivers given twice (as y and as drivers); "
                            "pass one of them")
        policy = check_nan_policy(self.nan_policy, owner)
        assets, cand = as_frames(self, X, y if drivers is None else drivers, need_y=True,
                                 min_assets=2, owner=owner, nan_policy=policy)
        windows = Windows(drivers=self.driver_window, train=self.train_window, cov=2)
        res = run(pipe, assets, cand, windows=windows, constraints=Constraints(),
                  horizon=int(self.horizon), seed=int(self.seed), owner=owner,
                  nan_policy=policy)
        sens, fc, sel = res.sensitivities, res.forecast, res.selection
        if sens is None or fc is None or sel is None or cand is None:  # never, with four stages
            raise DataError(f"{owner}: the pipeline produced no sensitivities")
        b = np.asarray(sens.aggregate, dtype=float)
        if self.loadings == "forecast" and fc.paths is not None:
            b = np.asarray(fc.paths, dtype=float).mean(axis=(0, 1))
        lag = max(int(name.rpartition("@")[2]) for name in sens.inputs)
        train = getattr(pipe.dynamics, "window", None) or int(self.train_window)
        rows = assets.iloc[-(train + lag):]
        names = list(sel.names)
        inputs = MappingInputs(date=rows.index[-1], assets=sens.assets,  # type: ignore[arg-type]
                               returns=rows[list(sens.assets)],
                               driver_returns=cand[names].iloc[-(train + lag):],
                               sensitivities=sens, bounds=(0.0, 1.0), seed=int(self.seed))
        x, r, _, inames = driver_inputs(inputs, owner=owner)
        position = {name: i for i, name in enumerate(sens.assets)}
        inv = np.array([a in position for a in assets.columns])  # False: outside the universe
        order = [position[a] for a in assets.columns[inv]]
        b, r = b[order], r[:, order]
        cov, cov_d, cov_res = factor_covariance(x, r, b, self.residual)  # type: ignore[arg-type]
        resid = r - x @ b.T
        a = resid.mean(axis=0) if self.alpha else np.zeros(b.shape[0])
        mu_x = x.mean(axis=0)
        covariance = cov_nearest(cov, higham=bool(self.higham))
        idio = np.diag(cov_res) if self.residual == "diagonal" else cov_res
        model = None
        if inv.all():  # skfolio's FactorModel describes a full universe
            model = FactorModel(
                observations=np.asarray(rows.index[-len(x):]),
                asset_names=np.asarray(assets.columns, dtype=object),
                factor_names=np.asarray(inames, dtype=object), factor_families=None,
                loading_matrix=b, exposures=None, factor_covariance=cov_d, factor_mu=mu_x,
                factor_returns=x, idio_covariance=idio, idio_mu=None, idio_returns=resid - a,
                idio_variances=None)
        n = len(inv)
        full_mu, full_cov = np.full(n, np.nan), np.full((n, n), np.nan)
        full_ret, full_b = np.full((len(x), n), np.nan), np.full((n, b.shape[1]), np.nan)
        full_mu[inv], full_ret[:, inv], full_b[inv] = b @ mu_x + a, x @ b.T + a, b
        full_cov[np.ix_(inv, inv)] = covariance
        # skfolio's convention for a changing universe: NaN moments mark assets that are not
        # investable (their weight is 0)
        self.return_distribution_ = ReturnDistribution(
            mu=full_mu, covariance=full_cov, returns=full_ret, factor_model=model)
        self.loading_matrix_ = full_b
        self.factor_names_ = list(inames)
        self.drivers_ = names
        self.rebalance_ = res
        return self
