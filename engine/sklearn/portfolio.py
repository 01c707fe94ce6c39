"""``CausalPortfolio``: a causalfolio pipeline as a skfolio portfolio estimator."""

from __future__ import annotations

from typing import Any

from skfolio.optimization import BaseOptimization

from ..constraints import Constraints
from ..defaults import COV_WINDOW, DRIVER_WINDOW, MAX_WEIGHT, MIN_WEIGHT, TRAIN_WINDOW
from ..pipeline import Windows, parse_spec
from ..stages import STAGES
from ._common import (
    as_frames,
    check_nan_policy,
    check_registry,
    run,
    set_stage_params,
    stage_params,
)

STAGE_PARAM_SEP = "__"
"""Separator of stage parameters in ``get_params``/``set_params``: ``drivers__k``."""


class CausalPortfolio(BaseOptimization):
    """A whole causalfolio pipeline, ``fit(X, y)`` -> ``weights_``, in skfolio's conventions.

    One ``fit`` is one causalfolio rebalance at the day after the last row of ``X``: the five
    stages run on the trailing windows of ``X`` (asset returns) and ``y`` (candidate driver
    returns), exactly as ``causalfolio.run_backtest`` does at a rebalance date with the same
    history before it. skfolio's ``cross_val_predict`` with ``WalkForward`` is then a causalfolio
    walk-forward backtest (see docs/interop.md).

    Parameters
    ----------
    spec : str, default="rccp(k=3)|linear|beta|static|hsp"
        A five-stage spec, or a single benchmark mapping such as ``hrp`` (then ``y`` is not
        needed). Stage parameters are also reachable as ``<stage>__<parameter>`` in
        ``get_params``/``set_params`` (``drivers__k``, ``mapping__linkage``; stages: drivers,
        dynamics, sensitivities, forecasting, mapping), so ``GridSearchCV`` can search them, or
        over whole specs with ``{"spec": causalfolio.expand_spec("...{a,b}...")}``.
    min_weight, max_weight : float, dict or str, default=0.0, 1.0
        Weight bounds per asset (long-only), as ``--min-weight``/``--max-weight``: a number
        for every asset, a dict asset -> weight (assets not listed: 0 and 1) or a CSV file
        ``asset,min_weight`` / ``asset,max_weight``.
    groups : dict or str, optional
        The group(s) of each asset (dict asset -> group or list of groups, or a CSV file
        ``asset,group``), for ``linear_constraints``.
    linear_constraints : list of str, optional
        Linear constraints on assets and groups, e.g. ``["Tech <= 0.3"]``, as in
        ``BacktestConfig`` and skfolio's ``linear_constraints``; enforced by the optimisation
        mappings, refused by the hierarchical ones.
    driver_window, train_window, cov_window : int, default=126, 125, 63
        Lookback windows in trading days (rows), as ``--driver-window``, ``--train-window``,
        ``--cov-window``; a component's own ``window`` takes precedence.
    horizon : int, default=21
        Holding period in trading days passed to the forecaster (the backtester passes the days
        to the next rebalance; ``static`` ignores it).
    seed : int, default=0
        Seed of the rebalance (the backtester derives one per date from its seed; pipelines
        without random stages, like the default, do not depend on it).
    nan_policy : {"raise", "universe"}, default="raise"
        ``raise``: a NaN in ``X`` or ``y`` is an error (scikit-learn's ``ValueError``).
        ``universe``: NaNs before a series' first value or after its last mark a changing
        universe, as in ``run_backtest``: the assets with a return on every row the windows use
        are invested in (the others get weight 0), the candidates with a value on every such row
        may be selected; a NaN between two values (a gap) is a ``DataError``.
    registry : causalfolio.Registry, optional
        The registry that resolves the names in ``spec`` (components registered in a notebook
        with ``registry.add``); default: the process-wide one. It travels with the estimator to
        ``n_jobs`` worker processes (``Registry.check_portable`` says whether it can).
    portfolio_params, fallback, previous_weights, raise_on_failure
        As in every skfolio optimiser (``skfolio.optimization.BaseOptimization``).

    Attributes
    ----------
    weights_ : ndarray of shape (n_assets,)
        Weights in the order of ``X``'s columns, summing to 1, within the bounds (0 for assets
        left out by ``nan_policy='universe'``).
    drivers_ : list of str
        The selected drivers (empty for a benchmark).
    pipeline_ : causalfolio.Pipeline
        The pipeline that ran.
    rebalance_ : causalfolio.pipeline.RebalanceResult
        Everything the rebalance produced (drivers, sensitivities, distance, diagnostics).
    n_features_in_, feature_names_in_
        As in scikit-learn.
    """

    def __init__(self, spec: str = "rccp(k=3)|linear|beta|static|hsp",
                 min_weight: Any = MIN_WEIGHT, max_weight: Any = MAX_WEIGHT,
                 groups: Any = None, linear_constraints: Any = None,
                 driver_window: int = DRIVER_WINDOW, train_window: int = TRAIN_WINDOW,
                 cov_window: int = COV_WINDOW, horizon: int = 21, seed: int = 0,
                 nan_policy: str = "raise", registry: Any = None,
                 portfolio_params: dict | None = None, fallback: Any = None,
                 previous_weights: Any = None, raise_on_failure: bool = True) -> None:
        super().__init__(portfolio_params=portfolio_params, fallback=fallback,
                         previous_weights=previous_weights, raise_on_failure=raise_on_failure)
        self.spec = spec
        self.min_weight = min_weight
        self.max_weight = max_weight
        self.groups = groups
        self.linear_constraints = linear_constraints
        self.driver_window = driver_window
        self.train_window = train_window
        self.cov_window = cov_window
        self.horizon = horizon
        self.seed = seed
        self.nan_policy = nan_policy
        self.registry = registry

    # -- parameters ---------------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters; with ``deep`` also ``<stage>__<param>`` of the spec."""
        out = super().get_params(deep=deep)
        if deep:
            try:
                out.update(stage_params(self.spec, STAGE_PARAM_SEP, self.registry))
            except (ValueError, TypeError):  # an invalid spec fails in fit, not here
                pass
        return out

    def set_params(self, **params: Any) -> CausalPortfolio:
        """Set parameters; ``<stage>__<param>`` rewrites that parameter in ``spec``."""
        staged = {k: v for k, v in params.items()
                  if STAGE_PARAM_SEP in k and k.split(STAGE_PARAM_SEP, 1)[0] in STAGES}
        rest = {k: v for k, v in params.items() if k not in staged}
        super().set_params(**rest)
        if staged:
            self.spec = set_stage_params(self.spec, staged, STAGE_PARAM_SEP, self.registry)
        return self

    def predict(self, X: Any) -> Any:
        """The skfolio ``Portfolio`` of ``weights_`` on returns ``X`` (n_observations, n_assets).

        ``X`` is checked as in ``fit`` (finite, 2-D, the fitted number of assets) first; with
        ``nan_policy='universe'`` NaNs are allowed (skfolio counts them as zero returns).
        """
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "weights_")
        validate_data(self, X, dtype=float, reset=False,
                      ensure_all_finite="allow-nan" if self.nan_policy == "universe" else True)
        return super().predict(X)

    def fit_predict(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """``fit(X, y)`` then ``predict(X)`` (skfolio's version cannot pass ``y`` on)."""
        return self.fit(X, y, **fit_params).predict(X)

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> CausalPortfolio:
        """Weights from asset returns ``X`` (T, N) and candidate driver returns ``y`` (T, M).

        Parameters
        ----------
        X : array-like of shape (n_observations, n_assets)
            Daily asset returns; the last rows are the most recent.
        y : array-like of shape (n_observations, n_candidates) or (n_observations,), optional
            Daily returns (or changes) of the candidate drivers; required unless ``spec`` is a
            benchmark mapping.
        **fit_params
            Not used.

        Returns
        -------
        self : CausalPortfolio
        """
        policy = check_nan_policy(self.nan_policy, "CausalPortfolio")
        pipe = parse_spec(self.spec, check_registry(self.registry, "CausalPortfolio"))
        min_assets = 1 if pipe.is_benchmark else 2
        assets, cand = as_frames(self, X, y, need_y=not pipe.is_benchmark,
                                 min_assets=min_assets, owner="CausalPortfolio",
                                 nan_policy=policy)
        limits = Constraints.from_settings(self.min_weight, self.max_weight, self.groups,
                                           self.linear_constraints)
        limits.check_assets(list(assets.columns), "X")
        windows = Windows(drivers=self.driver_window, train=self.train_window,
                          cov=self.cov_window)
        res = run(pipe, assets, cand, windows=windows, constraints=limits,
                  horizon=int(self.horizon), seed=int(self.seed), owner="CausalPortfolio",
                  nan_policy=policy, min_assets=min_assets)
        self.pipeline_ = pipe
        self.rebalance_ = res
        self.drivers_ = [] if res.selection is None else list(res.selection.names)
        self.weights_ = res.weights.reindex(list(assets.columns)).fillna(0.0).to_numpy(
            dtype=float)
        return self
