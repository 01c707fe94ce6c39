"""``sklearn``: any scikit-learn regressor as a per-asset dynamics model (SPEC §2; monograph
§2.1: kernel methods, splines, trees); sensitivities by finite differences (``fd``)."""

from __future__ import annotations

import inspect
from typing import Any

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import NumericalError, ParameterError, SpecError
from causalfolio.params import non_empty, non_negative, param, positive, unique_items
from causalfolio.stages import DynamicsModel, FittedDynamics

from ._estimators import Resolved, check_options, resolve
from .linear import training_arrays


def _spline(*, n_knots: int = 5, degree: int = 3, knots: str = "uniform",
            extrapolation: str = "constant", include_bias: bool = True, alpha: float = 1.0
            ) -> Any:
    """Cubic B-spline features (``SplineTransformer``) followed by a ``Ridge`` of ``alpha``."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    return make_pipeline(SplineTransformer(n_knots=n_knots, degree=degree, knots=knots,
                                           extrapolation=extrapolation,
                                           include_bias=include_bias), Ridge(alpha=alpha))


class LazyClass:
    """A scikit-learn class named by two constants of this file, imported when first used.

    Registering the built-in short names must not import scikit-learn (the registry loads for
    every CLI command); calling this builds the estimator, and its ``__signature__`` is the
    class's, so options are checked before anything is built.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def target(self) -> type:
        """The class (imports its module)."""
        import importlib

        return getattr(importlib.import_module(self.module), self.name)

    @property
    def __signature__(self) -> inspect.Signature:  # read by inspect.signature
        return inspect.signature(self.target())

    def __call__(self, **kwargs: Any) -> Any:
        return self.target()(**kwargs)

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


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
"""Built-in short names -> (estimator, default constructor arguments); registered through the
``register_estimators`` hook like a plugin's."""


def parse_options(text: str) -> dict[str, Any]:
    """``"alpha=0.5, kernel='laplacian'"`` -> ``{"alpha": 0.5, "kernel": "laplacian"}``.

    Values are literals only (numbers, quoted strings, True/False/None, [lists]), read by the spec
    parser's restricted walk of Python's ``ast``: nothing is evaluated.
    """
    from causalfolio.spec.parser import parse_keywords

    try:
        return parse_keywords(text)
    except SpecError as exc:
        raise ParameterError(
            f"sklearn: parameter 'options' must read like key=value pairs of literals, e.g. "
            f"\"alpha=0.5, kernel='laplacian'\", got {text!r} ({exc.message})"
        ) from None


def build_estimator(estimator: str | Resolved, options: dict[str, Any],
                    seed: int | None = None) -> Any:
    """A fresh unfitted estimator: standardised inputs and target around the named regressor.

    ``estimator`` is resolved through the allow-list (:func:`._estimators.resolve`).
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    resolved = estimator if isinstance(estimator, Resolved) else resolve(estimator)
    check_options(resolved, options)
    try:
        core = resolved.factory(**{**resolved.defaults, **options})
        # scikit-learn checks parameter types and ranges when fitting: ask it now, so a bad
        # option (func='os.system') is a ParameterError before any work, not a fit's traceback
        validate = getattr(core, "_validate_params", None)
        if callable(validate):
            validate()
    except (TypeError, ValueError) as exc:  # InvalidParameterError is both
        raise ParameterError(f"sklearn: parameter 'options': bad options for "
                             f"{resolved.label}: {exc}") from None
    if not (callable(getattr(core, "fit", None)) and callable(getattr(core, "predict", None))):
        raise ParameterError(f"sklearn: {resolved.label} is not a regressor (needs fit and "
                             "predict)")
    if seed is not None and callable(getattr(core, "get_params", None)):
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


@attrs.define(frozen=True, kw_only=True, slots=False)  # __dict__ keeps the resolved estimator
class SklearnModel(DynamicsModel):
    """Any scikit-learn regressor per asset on lagged driver returns (standardised in and out)."""

    name = "sklearn"

    estimator: str = param("kernel_ridge", doc="regressor: kernel_ridge, gradient_boosting, "
                                               "random_forest, spline, svr, gaussian_process, "
                                               "one registered by a plugin, or a scikit-learn "
                                               "regressor by class name or public path "
                                               "('sklearn.linear_model.Ridge')")
    options: str = param("", doc="constructor arguments as key=value literals, e.g. "
                                 "\"alpha=0.1, kernel='laplacian'\"")
    lags: tuple[int, ...] = param((0,), doc="lags of the driver returns used as inputs (days)",
                                  validator=[non_empty, unique_items, non_negative])
    window: int | None = param(None, doc="training window in trading days (default: the "
                                         "backtest's training window)", validator=positive)

    def validate(self) -> None:
        # allow-list lookup and a signature check only: nothing is imported from the string and
        # nothing is instantiated while a spec is parsed
        resolved = resolve(self.estimator)
        check_options(resolved, parse_options(self.options))
        # remember the registry's answer: fitting later (maybe outside the parse's registry
        # context) builds the same estimator
        object.__setattr__(self, "_resolved", resolved)

    def fit(self, assets: pd.DataFrame, drivers: pd.DataFrame, *, window: int, seed: int
            ) -> FittedSklearn:
        w = self.window or window
        lags = tuple(sorted(self.lags))
        x, y = training_arrays(assets, drivers, lags, w, self.name)
        options = parse_options(self.options)
        resolved = getattr(self, "_resolved", None) or resolve(self.estimator)
        models = []
        for col in y.columns:
            model = build_estimator(resolved, options, seed)
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


@hookimpl
def register_estimators(register):
    for name, (target, defaults) in ALIASES.items():
        if target == "spline":
            register(name, _spline, defaults)
        else:
            module, _, cls = target.rpartition(".")
            register(name, LazyClass(module, cls), defaults)
