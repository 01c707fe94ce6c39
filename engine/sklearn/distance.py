"""``SensitivityDistance``: causalfolio's sensitivity distance as a skfolio distance estimator."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import squareform
from skfolio.distance import BaseDistance

from ..constraints import Constraints
from ..defaults import DRIVER_WINDOW, TRAIN_WINDOW
from ..errors import DataError, NumericalError
from ..pipeline import Windows
from ._common import as_frames, four_stages, run


class SensitivityDistance(BaseDistance):
    """Sensitivity distance between assets (SPEC §1-§4) for skfolio's hierarchical optimisers.

    Runs the first four stages of a causalfolio pipeline (driver selection, dynamics,
    sensitivity extraction, sensitivity forecast) on asset returns ``X`` and candidate driver
    returns ``y`` and exposes the forecast sensitivity distance, transformed as causalfolio's
    ``hsp`` transforms it before clustering, so that skfolio's ``HierarchicalRiskParity`` on it
    is ``hsp``.

    Parameters
    ----------
    spec : str, default="rccp(k=3)|linear|beta|static"
        Four stages ``drivers|dynamics|sensitivities|forecast`` (see docs/spec-strings.md).
    driver_window : int, default=126
        Driver-selection window in trading days (rows of ``X``); a component's own ``window``
        takes precedence, as in causalfolio's backtests.
    train_window : int, default=125
        Dynamics training window in trading days.
    psd : bool, default=False
        Replace the forecast distance matrix by its nearest PSD matrix (Higham 1988), as
        ``hsp(psd=True)`` does (the literal §9 reproduction; ``hsp``'s default is False).
    distance_of_distances : bool, default=True
        Return the Euclidean distance between the columns of the (PSD) sensitivity distance
        matrix (monograph eq. 22), which is what ``hsp`` clusters on. skfolio's clustering uses
        ``distance_`` directly, so with the same ``psd`` and ``distance_of_distances`` as ``hsp``
        skfolio's HRP clusters exactly as ``hsp``. False: the sensitivity distance itself (zero
        diagonal, negatives from the PSD projection clipped to 0).
    horizon : int, default=21
        Forecast horizon in trading days (used by forecasters other than ``static``).
    seed : int, default=0
        Seed passed to every stage.
    registry : causalfolio.Registry, optional
        The registry that resolves the names in ``spec`` (default: the process-wide one); it
        travels with the estimator to ``n_jobs`` worker processes.

    Attributes
    ----------
    distance_ : ndarray of shape (n_assets, n_assets)
        The distance skfolio clusters on (see ``distance_of_distances``), in the order of ``X``'s
        columns: symmetric, non-negative, zero diagonal.
    codependence_ : ndarray of shape (n_assets, n_assets)
        A similarity in [0, 1] from the forecast sensitivity distance D: ``1 - D / max(D)``
        (1 on the diagonal; all ones when every D is 0).
    sensitivity_distance_ : ndarray of shape (n_assets, n_assets)
        The forecast sensitivity distance D itself (what ``hsp`` receives).
    drivers_ : list of str
        The selected drivers (columns of ``y``; ``y0..`` for arrays).
    rebalance_ : causalfolio.pipeline.RebalanceResult
        Everything the four stages produced (selection evidence, sensitivities, forecast).
    n_features_in_ : int
        Number of assets.

    Notes
    -----
    The candidate returns reach the distance estimator in one of two ways. Routed metadata
    works in all four of skfolio's hierarchical optimisers: with
    ``sklearn.set_config(enable_metadata_routing=True)`` and
    ``SensitivityDistance(...).set_fit_request(drivers=True)``, call
    ``optimiser.fit(X, drivers=candidates)``. Or as ``y``, skfolio's second positional ``fit``
    argument: ``HierarchicalEqualRiskContribution`` passes its ``y`` on;
    ``HierarchicalRiskParity`` and ``SchurComplementary`` do so only with
    ``distance_from_prior=False`` (by default they fit distances on the prior's scenarios
    without ``y``, and ``fit`` then says so); ``NestedClustersOptimization`` accepts only a 1-D
    ``y`` (a single candidate), so route a frame of candidates as metadata.

    The last ``max(driver_window, train_window + lags)`` rows are used, as at a causalfolio
    rebalance the day after the last row.
    """

    def __init__(self, spec: str = "rccp(k=3)|linear|beta|static",
                 driver_window: int = DRIVER_WINDOW, train_window: int = TRAIN_WINDOW,
                 psd: bool = False, distance_of_distances: bool = True,
                 horizon: int = 21, seed: int = 0, registry: Any = None) -> None:
        self.spec = spec
        self.registry = registry
        self.driver_window = driver_window
        self.train_window = train_window
        self.psd = psd
        self.distance_of_distances = distance_of_distances
        self.horizon = horizon
        self.seed = seed

    def fit(self, X: Any, y: Any = None, drivers: Any = None) -> SensitivityDistance:
        """Fit the distance on asset returns ``X`` (T, N) and candidate returns ``y`` (T, M).

        Parameters
        ----------
        X : array-like of shape (n_observations, n_assets)
            Daily asset returns.
        y : array-like of shape (n_observations, n_candidates) or (n_observations,)
            Daily returns (or changes) of the candidate drivers. Required.
        drivers : array-like of shape (n_observations, n_candidates), optional
            The candidate driver returns given as routed metadata instead of ``y``
            (``SensitivityDistance().set_fit_request(drivers=True)`` with scikit-learn's
            ``enable_metadata_routing=True``, then ``optimiser.fit(X, drivers=candidates)``).

        Returns
        -------
        self : SensitivityDistance
        """
        pipe = four_stages(self.spec, "SensitivityDistance", self.registry)
        if y is not None and drivers is not None:
            raise DataError("SensitivityDistance: candidate drivers given twice (as y and as "
                            "drivers); pass one of them")
        assets, cand = as_frames(self, X, y if drivers is None else drivers, need_y=True,
                                 min_assets=2, owner="SensitivityDistance")
        windows = Windows(drivers=self.driver_window, train=self.train_window, cov=2)
        res = run(pipe, assets, cand, windows=windows, constraints=Constraints(),
                  horizon=int(self.horizon), seed=int(self.seed), owner="SensitivityDistance")
        if res.forecast is None or res.selection is None:  # a five-stage run always has both
            raise NumericalError("SensitivityDistance: the pipeline produced no forecast")
        d = np.asarray(res.forecast.distance, dtype=float)
        d = 0.5 * (d + d.T)  # as hsp: symmetrised, then (optionally) the nearest PSD matrix
        self.sensitivity_distance_ = d
        top = float(d.max(initial=0.0))
        self.codependence_ = 1.0 - d / top if top > 0 else np.ones_like(d)
        np.fill_diagonal(self.codependence_, 1.0)
        from causalfolio.plugins.mapping._hierarchy import condensed, nearest_psd

        m = nearest_psd(d) if self.psd else d
        # hsp's clustering distance (eq. 22 or the clipped matrix), as a square matrix
        self.distance_ = squareform(condensed(m, self.distance_of_distances), checks=False)
        self.drivers_ = list(res.selection.names)
        self.rebalance_ = res
        return self
