"""``linear``: OLS (optionally ridge) per asset on lagged driver returns (SPEC §2, §6.1)."""

from __future__ import annotations

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import DataError
from causalfolio.params import non_empty, non_negative, param, positive, unique_items
from causalfolio.stages import DynamicsModel, FittedDynamics, lagged_design


def training_arrays(
    assets: pd.DataFrame, drivers: pd.DataFrame, lags: tuple[int, ...], window: int, owner: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last ``window`` aligned samples of lagged inputs (T, P) and targets (T, N).

    Raises :class:`DataError` when the history is too short for the window and lags, when the
    window holds NaNs, or when a target is constant.
    """
    design = lagged_design(drivers, lags)
    idx = design.index.intersection(assets.index)
    if len(idx) < window:
        raise DataError(
            f"{owner}: the training window needs {window} samples after lags {list(lags)}, only "
            f"{len(idx)} available; shorten the window or give more history"
        )
    idx = idx[-window:]
    x, y = design.loc[idx], assets.loc[idx]
    if x.isna().to_numpy().any() or y.isna().to_numpy().any():
        col = (x.columns[x.isna().any()].tolist() + y.columns[y.isna().any()].tolist())[0]
        raise DataError(f"{owner}: NaN in the training window (series {col!r}); clean the data "
                        "or choose a NaN policy when loading")
    const = y.columns[(y.max() - y.min()).to_numpy() == 0]  # exactly constant
    if len(const):
        raise DataError(f"{owner}: asset {const[0]!r} has a constant return over the training "
                        "window; a model of it has no sensitivities")
    return x, y


class FittedLinear(FittedDynamics):
    """OLS fit: r = a + x B, coefficients (N, P)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, assets, drivers, lags, inputs,
                 train_index, info) -> None:
        self.coef = coef
        self.intercept = intercept
        super().__init__(assets, drivers, lags, inputs, train_index, info)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, float) @ self.coef.T + self.intercept

    def coefficients(self) -> np.ndarray:
        return self.coef

    def torch_forward(self):
        """The affine map as a differentiable torch callable (T, P) -> (T, N), float64; lets
        ``aad`` run on linear models (its sensitivities then equal the coefficients)."""
        import torch

        coef = torch.as_tensor(self.coef, dtype=torch.float64)
        intercept = torch.as_tensor(self.intercept, dtype=torch.float64)
        return lambda x: x @ coef.T + intercept


@attrs.define(frozen=True, kw_only=True)
class Linear(DynamicsModel):
    """Ordinary least squares with intercept per asset; sensitivities are the betas."""

    name = "linear"

    lags: tuple[int, ...] = param((0,), doc="lags of the driver returns used as inputs (days)",
                                  validator=[non_empty, unique_items, non_negative])
    window: int | None = param(None, doc="training window in trading days (default: the "
                                         "backtest's training window)", validator=positive)
    ridge: float = param(0.0, doc="ridge penalty on the coefficients (0 = OLS)",
                         validator=non_negative)

    def fit(self, assets: pd.DataFrame, drivers: pd.DataFrame, *, window: int, seed: int
            ) -> FittedLinear:
        w = self.window or window
        x, y = training_arrays(assets, drivers, tuple(sorted(self.lags)), w, self.name)
        X, Y = x.to_numpy(float), y.to_numpy(float)
        xm, ym = X.mean(axis=0), Y.mean(axis=0)
        Xc, Yc = X - xm, Y - ym
        if self.ridge > 0:
            gram = Xc.T @ Xc + self.ridge * len(X) * np.eye(X.shape[1])
            B = np.linalg.solve(gram, Xc.T @ Yc)
            rank = X.shape[1]
        else:
            # lstsq gives the minimum-norm solution when inputs are collinear; rank is reported
            B, _, rank, _ = np.linalg.lstsq(Xc, Yc, rcond=None)
        info = {"rank": int(rank), "n_inputs": X.shape[1], "n_samples": len(X)}
        if rank < X.shape[1]:
            info["warning"] = "collinear inputs: minimum-norm least-squares coefficients"
        return FittedLinear(B.T, ym - xm @ B, y.columns, drivers.columns, sorted(self.lags),
                            x.columns, x.index, info)


@hookimpl
def register_dynamics(register):
    register(Linear)
