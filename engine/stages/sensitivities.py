"""Stage 3, sensitivity extraction: S[t, i, j] = d f_i / d x_j, the sensitivity space (SPEC §3)."""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Literal

import attrs

from .._lazy import np, pd
from ..errors import NumericalError
from ..params import in_range, param, positive
from .base import Component, frozen_array, names_tuple
from .dynamics import FittedDynamics

# cdist metrics of every supported scipy version, checked without importing scipy; other names are
# checked against scipy's own list.
_COMMON_METRICS = frozenset({"euclidean", "sqeuclidean", "cityblock", "chebyshev", "cosine",
                             "correlation", "canberra", "braycurtis", "minkowski"})

Aggregate = Literal["mean", "median", "trimmed", "last"]
Sample = Literal["in", "out"]


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class Sensitivities:
    """Per-sample sensitivities, their per-asset aggregate and the sensitivity distance matrix.

    Attributes
    ----------
    series
        S[t, i, j], shape (T, N, P): derivative of asset i's modelled return with respect to input
        j at evaluation sample t (return per unit return: dimensionless).
    dates
        Dates of the T evaluation samples.
    assets, inputs
        Names of the N assets and P inputs (``driver@lag``).
    aggregate
        The embedding coordinates s_i, shape (N, P).
    distance
        Sensitivity distance matrix D[i, k] = d(s_i, s_k), shape (N, N), symmetric, zero diagonal.
    metric
        The distance metric used (a scipy ``cdist`` metric name).
    info
        Extraction facts (aggregation, sample, fallbacks), JSON-serialisable.
    key
        Deterministic key (set by the pipeline).
    """

    series: np.ndarray = attrs.field(converter=frozen_array)
    dates: pd.DatetimeIndex
    assets: tuple[str, ...] = attrs.field(converter=names_tuple)
    inputs: tuple[str, ...] = attrs.field(converter=names_tuple)
    aggregate: np.ndarray = attrs.field(converter=frozen_array)
    distance: np.ndarray = attrs.field(converter=frozen_array)
    metric: str = "euclidean"
    info: dict[str, Any] = attrs.field(factory=dict)
    key: str = ""

    def aggregate_frame(self) -> pd.DataFrame:
        """The embedding s_i as a frame (assets x inputs)."""
        return pd.DataFrame(self.aggregate, index=list(self.assets), columns=list(self.inputs))

    def distance_frame(self) -> pd.DataFrame:
        """The distance matrix as a frame (assets x assets)."""
        return pd.DataFrame(self.distance, index=list(self.assets), columns=list(self.assets))


def aggregate_series(series: np.ndarray, how: str, trim: float = 0.1) -> np.ndarray:
    """Aggregate S[t, i, j] over t into s[i, j].

    ``mean`` (the monograph), ``median``, ``trimmed`` (mean after dropping the ``trim`` share of
    samples at each end, per coordinate) or ``last`` (the latest sample).
    """
    if series.shape[0] == 0:
        raise NumericalError("no evaluation samples to aggregate sensitivities over")
    if how == "mean":
        return series.mean(axis=0)
    if how == "median":
        return np.median(series, axis=0)
    if how == "last":
        return series[-1].copy()
    if how == "trimmed":
        from scipy.stats import trim_mean

        return trim_mean(series, trim, axis=0)
    raise ValueError(f"unknown aggregation {how!r}")


def distance_matrix(points: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Pairwise distances between rows of ``points`` (N, P): (N, N), symmetric, zero diagonal."""
    from scipy.spatial.distance import cdist

    d = cdist(points, points, metric=metric)
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    if not np.all(np.isfinite(d)):
        raise NumericalError(
            f"the {metric} sensitivity distance matrix has non-finite entries; "
            "check the sensitivities for NaN/inf or use another metric"
        )
    return d


@attrs.define(frozen=True, kw_only=True)
class SensitivityExtractor(Component):
    """Base class of sensitivity extractors (stage ``sensitivities``).

    Subclasses implement :meth:`per_sample`; aggregation, the in/out-of-sample choice and the
    distance matrix are common parameters handled here.
    """

    stage: ClassVar[str] = "sensitivities"

    aggregate: Aggregate = param(
        "mean", doc="aggregation of per-sample sensitivities over time: mean, median, trimmed, last"
    )
    trim: float = param(0.1, doc="share trimmed at each end when aggregate='trimmed'",
                        validator=in_range(0.0, 0.5, hi_open=True))
    sample: Sample = param(
        "in", doc="'in': training-window samples; 'out': the oos_days after training, before tau"
    )
    oos_days: int = param(21, doc="length of the out-of-sample evaluation set (trading days)",
                          validator=positive)
    metric: str = param("euclidean", doc="scipy cdist metric for the sensitivity distance matrix")

    def validate(self) -> None:
        if self.metric in _COMMON_METRICS:  # no scipy import when parsing a spec
            return
        from scipy.spatial import distance as _d

        if self.metric not in _d._METRICS_NAMES:  # noqa: SLF001 - scipy has no public list
            from ..errors import ParameterError

            raise ParameterError(
                f"{self.name}: parameter 'metric' must be a scipy cdist metric, got {self.metric!r}"
            )

    @abc.abstractmethod
    def per_sample(self, model: FittedDynamics, x: np.ndarray) -> np.ndarray:
        """Sensitivities S[t, i, j] = d f_i(x_t) / d x_t,j, shape (T, N, P), for inputs x (T, P)."""

    def extract(self, model: FittedDynamics, inputs: pd.DataFrame) -> Sensitivities:
        """Per-sample sensitivities on ``inputs`` (T, P), their aggregate and distance matrix."""
        x = inputs[list(model.inputs)].to_numpy(dtype=float)
        series = np.asarray(self.per_sample(model, x), dtype=float)
        expected = (x.shape[0], len(model.assets), len(model.inputs))
        if series.shape != expected:
            raise NumericalError(
                f"{self.name} returned sensitivities of shape {series.shape}, expected {expected}"
            )
        if not np.all(np.isfinite(series)):
            raise NumericalError(
                f"{self.name} produced non-finite sensitivities; the dynamics model is unstable "
                "on the evaluation inputs"
            )
        agg = aggregate_series(series, self.aggregate, self.trim)
        return Sensitivities(
            series=series,
            dates=pd.DatetimeIndex(inputs.index),
            assets=model.assets,
            inputs=model.inputs,
            aggregate=agg,
            distance=distance_matrix(agg, self.metric),
            metric=self.metric,
            info={"aggregate": self.aggregate, "sample": self.sample, "n_samples": len(x)},
        )
