"""``fd``: central finite-difference sensitivities of any dynamics model (SPEC §2-§3)."""

from __future__ import annotations

from typing import Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.errors import DataError, NumericalError
from causalfolio.params import param, positive
from causalfolio.stages import FittedDynamics, SensitivityExtractor


def central_differences(predict, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """S[t, i, j] = (f(x_t + h_j e_j) - f(x_t - h_j e_j))_i / (2 h_j), shape (T, N, P).

    ``predict`` maps inputs (R, P) to outputs (R, N) row-wise; all 2 P perturbed copies of the
    T samples are evaluated in a single call on a (2 P T, P) array.
    """
    x = np.asarray(x, dtype=float)
    T, P = x.shape
    eye = np.eye(P) * h[None, :]  # row j: step h_j on input j
    stacked = np.concatenate([x[None] + eye[:, None, :], x[None] - eye[:, None, :]])
    out = np.asarray(predict(stacked.reshape(2 * P * T, P)), dtype=float)
    out = out.reshape(2, P, T, -1)
    return np.transpose((out[0] - out[1]) / (2.0 * h[:, None, None]), (1, 2, 0))


def check_inputs(owner: str, model: FittedDynamics, x: np.ndarray) -> None:
    """Raise :class:`DataError` naming the first input with a NaN or infinite value."""
    bad = ~np.isfinite(x)
    if bad.any():
        col = int(np.flatnonzero(bad.any(axis=0))[0])
        raise DataError(f"{owner}: the evaluation inputs hold NaN/inf (input "
                        f"{model.inputs[col]!r}); clean the driver data before this date")


@attrs.define(frozen=True, kw_only=True)
class FD(SensitivityExtractor):
    """Central finite differences of the model's predictions, for any dynamics model."""

    name = "fd"

    step: float = param(1e-3, doc="difference step: a share of each input's standard deviation "
                                  "over the evaluation set (scale='relative') or in return units "
                                  "(scale='absolute')", validator=positive)
    scale: Literal["relative", "absolute"] = param(
        "relative", doc="how 'step' is measured: relative to the input's sd, or absolute")

    def steps(self, x: np.ndarray) -> np.ndarray:
        """Step per input (P,); a constant input (sd 0) under scale='relative' uses the mean
        absolute value of all inputs as its scale, or 1 when every input is zero."""
        if self.scale == "absolute":
            return np.full(x.shape[1], self.step)
        sd = x.std(axis=0) if len(x) > 1 else np.zeros(x.shape[1])
        fallback = float(np.abs(x).mean()) if np.abs(x).mean() > 0 else 1.0
        return self.step * np.where(sd > 0, sd, fallback)

    def per_sample(self, model: FittedDynamics, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.shape[0] == 0:
            raise NumericalError("fd: no evaluation samples")
        check_inputs(self.name, model, x)
        return central_differences(model.predict, x, self.steps(x))


@hookimpl
def register_sensitivities(register):
    register(FD)
