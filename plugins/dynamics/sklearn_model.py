"""``sklearn``: any scikit-learn regressor as a per-asset dynamics model (SPEC §2; monograph
§2.1: kernel methods, splines, trees); sensitivities by finite differences (``fd``)."""

from __future__ import annotations

import ast
import importlib
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from causalfolio import hookimpl
from causalfolio._lazy import lazy_module
from causalfolio.errors import NumericalError, ParameterError
from causalfolio.params import non_empty, non_negative, param, positive, unique_items
from causalfolio.stages import DynamicsModel, FittedDynamics

from .linear import training_arrays

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: loading the registry and parsing specs need no pandas
    pd = lazy_module("pandas")

ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "kernel_ridge": ("sklearn.kernel_ridge.KernelRidge", {"kernel": "rbf", "alpha": 1.0}),
    "gradient_boosting": ("sklearn.ensemble.GradientBoostingRegressor",
                          {"n_estimators": 100, "max_depth": 2, "learning_rate": 0.05}),
    "random_forest": ("sklearn.ensemble.RandomForestRegressor",
                      {"n_estimators": 100, "min_samples_leaf": 5}),
    "spline": ("spline", {"n_knots": 5, "degree": 3, "alpha": 1.0}),
    "svr": ("sklearn.svm.SVR", {"kernel": "rbf", "C": 1.0, "epsilon": 0.1}),
    "gaussian_process": ("sklearn.gaussian_process.GaussianProcessRegressor",
                         {"normalize_y": False}),
}
"""Short names -> (estimator class path, default constructor arguments)."""


def parse_options(text: str) -> dict[str, Any]:
    """``"alpha=0.5, kernel='laplacian'"`` -> ``{"alpha": 0.5, "kernel": "laplacian"}``."""
    if not text.strip():
        return {}
    try:
        call = ast.parse(f"f({text})", mode="eval").body
        assert isinstance(call, ast.Call) and not call.args
        return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (SyntaxError, ValueError, AssertionError):
        raise ParameterError(
            f"sklearn: parameter 'options' must read like key=value pairs of literals, e.g. "
            f"\"alpha=0.5, kernel='laplacian'\", got {text!r}"
        ) from None


def build_estimator(estimator: str, options: dict[str, Any], seed: int | None = None) -> Any:
    """A fresh unfitted estimator: standardised inputs and target around the named regressor."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    path, defaults = ALIASES.get(estimator, (estimator, {}))
    kwargs = {**defaults, **options}
    if path == "spline":
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import SplineTransformer

        alpha = kwargs.pop("alpha", 1.0)
        core = make_pipeline(SplineTransformer(**kwargs), Ridge(alpha=alpha))
    else:
        module, _, cls_name = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), cls_name)
        except (ImportError, AttributeError, ValueError):
            raise ParameterError(
                f"sklearn: parameter 'estimator' must be one of {sorted(ALIASES)} or an importable "
                f"'module.Class' regressor, got {estimator!r}"
            ) from None
        try:
            core = cls(**kwargs)
        except TypeError as exc:
            raise ParameterError(f"sklearn: bad options for {path}: {exc}") from None
        if not (hasattr(core, "fit") and hasattr(core, "predict")):
            raise ParameterError(f"sklearn: {path} is not a regressor (needs fit and predict)")
    if seed is not None:
        params = core.get_params()
        for key in params:
            if key == "random_state" or key.endswith("__random_state"):
                core.set_params(**{key: int(seed) % 2**32})
    return TransformedTargetRegressor(regressor=make_pipeline(StandardScaler(), core),
                                      transformer=StandardScaler())


class FittedSklearn(FittedDynamics):
    """One fitted scikit-learn pipeline per asset."""

    def __init__(self, models: list[Any], assets, drivers, lags, inputs, train_index, info
                 ) -> None:
        self.models = models
        super().__init__(assets, drivers, lags, inputs, train_index, info)

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        frame = pd.DataFrame(x, columns=list(self.inputs))
        return np.column_stack([np.asarray(m.predict(frame), dtype=float).reshape(-1)
                                for m in self.models])


@attrs.define(frozen=True, kw_only=True)
class SklearnModel(DynamicsModel):
    """Any scikit-learn regressor per asset on lagged driver returns (standardised in and out)."""

    name = "sklearn"

    estimator: str = param("kernel_ridge", doc="regressor: kernel_ridge, gradient_boosting, "
                                               "random_forest, spline, svr, gaussian_process "
                                               "or a 'module.Class' path")
    options: str = param("", doc="constructor arguments as key=value literals, e.g. "
                                 "\"alpha=0.1, kernel='laplacian'\"")
    lags: tuple[int, ...] = param((0,), doc="lags of the driver returns used as inputs (days)",
                                  validator=[non_empty, unique_items, non_negative])
    window: int | None = param(None, doc="training window in trading days (default: the "
                                         "backtest's training window)", validator=positive)

    def validate(self) -> None:
        build_estimator(self.estimator, parse_options(self.options))

    def fit(self, assets: pd.DataFrame, drivers: pd.DataFrame, *, window: int, seed: int
            ) -> FittedSklearn:
        w = self.window or window
        lags = tuple(sorted(self.lags))
        x, y = training_arrays(assets, drivers, lags, w, self.name)
        options = parse_options(self.options)
        models = []
        for col in y.columns:
            model = build_estimator(self.estimator, options, seed)
            model.fit(x, y[col].to_numpy(float))
            models.append(model)
        fitted = FittedSklearn(models, y.columns, drivers.columns, lags, x.columns, x.index,
                               {"estimator": self.estimator, "n_samples": len(x)})
        pred = fitted.predict(x.to_numpy(float))
        if not np.all(np.isfinite(pred)):
            raise NumericalError(f"sklearn: {self.estimator} gives non-finite in-sample "
                                 "predictions; change its options")
        resid = y.to_numpy(float) - pred
        fitted.info["in_sample_rmse"] = [float(v) for v in np.sqrt((resid**2).mean(axis=0))]
        return fitted


@hookimpl
def register_dynamics(register):
    register(SklearnModel)
