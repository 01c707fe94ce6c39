"""Stage 2, dynamics model: per-asset models r_i,t ~ f_i(drivers at lags) (SPEC §2)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs

from .._lazy import np, pd
from ..errors import DataError
from .base import Component


def input_name(driver: str, lag: int) -> str:
    """Name of the model input 'driver at lag', e.g. ``SPX@1`` for X_{t-1}."""
    return f"{driver}@{lag}"


def lagged_design(drivers: pd.DataFrame, lags: Sequence[int]) -> pd.DataFrame:
    """Lagged inputs: column ``d@l`` at date t holds driver d's return at t - l (in rows).

    Parameters
    ----------
    drivers
        Driver returns, shape (T, k), dates ascending.
    lags
        Non-negative lags in trading days.

    Returns
    -------
    DataFrame of shape (T - max(lags), k * len(lags)); the first ``max(lags)`` dates are dropped.
    Columns are ordered driver-major: all lags of the first driver, then the next.
    """
    lags = sorted(set(int(lag) for lag in lags))
    if not lags or lags[0] < 0:
        raise DataError(f"lags must be non-negative integers, got {list(lags)}")
    cols = {}
    for d in drivers.columns:
        for lag in lags:
            cols[input_name(d, lag)] = drivers[d].shift(lag)
    out = pd.DataFrame(cols, index=drivers.index)
    return out.iloc[max(lags):]


class FittedDynamics(abc.ABC):
    """A fitted dynamics model for all assets.

    Attributes
    ----------
    assets
        Asset names, length N.
    drivers
        Driver names the model was fitted on.
    lags
        The union of lags over assets; ``inputs`` are all (driver, lag) pairs.
    inputs
        Input names (``driver@lag``), length P; sensitivities are taken with respect to these.
    train_index
        Dates of the training samples.
    """

    assets: tuple[str, ...]
    drivers: tuple[str, ...]
    lags: tuple[int, ...]
    inputs: tuple[str, ...]
    train_index: pd.DatetimeIndex
    info: dict[str, Any]

    def __init__(self, assets: Sequence[str], drivers: Sequence[str], lags: Sequence[int],
                 inputs: Sequence[str], train_index: Sequence, info: dict[str, Any] | None = None
                 ) -> None:
        self.assets = tuple(assets)
        self.drivers = tuple(drivers)
        self.lags = tuple(int(lag) for lag in lags)
        self.inputs = tuple(inputs)
        self.train_index = pd.DatetimeIndex(train_index)
        self.info = dict(info or {})

    def design(self, drivers: pd.DataFrame) -> pd.DataFrame:
        """Model inputs (T', P) from driver returns (T, k), in the order of ``inputs``."""
        return lagged_design(drivers[list(self.drivers)], self.lags)[list(self.inputs)]

    @abc.abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted returns, shape (T, N), from inputs of shape (T, P) in original units."""

    def coefficients(self) -> np.ndarray | None:
        """Constant sensitivities d f_i / d x_j, shape (N, P), for linear models; else ``None``."""
        return None

    def torch_forward(self) -> Any:
        """A differentiable torch callable mapping inputs (T, P) to outputs (T, N) in original
        units, for reverse-mode AD; ``None`` when the model is not a torch model."""
        return None


@attrs.define(frozen=True, kw_only=True)
class DynamicsModel(Component):
    """Base class of dynamics models (stage ``dynamics``).

    A model may declare ``window`` (int | None, training samples) and ``lags`` fields; the
    backtester uses ``window`` instead of its configured training window when it is set.
    """

    stage: ClassVar[str] = "dynamics"

    @abc.abstractmethod
    def fit(
        self, assets: pd.DataFrame, drivers: pd.DataFrame, *, window: int, seed: int
    ) -> FittedDynamics:
        """Fit one model per asset.

        Parameters
        ----------
        assets
            Asset returns (T, N), all strictly before the cut-off; use the last ``window`` samples.
        drivers
            Returns of the selected drivers (T, k) on the same dates (needed for lags).
        window
            Training window length in samples (trading days), unless the model has its own.
        seed
            Seed for initialisation and any randomness.
        """

    def history(self, window: int) -> int:
        """Rows of history :meth:`fit` needs for a training window of ``window`` samples.

        Default: the window plus the largest of the model's ``lags`` (0 when it has none).
        Override when the model searches over longer windows or lags.
        """
        lags = getattr(self, "lags", None) or (0,)
        return int(window) + max(int(lag) for lag in lags)
