"""Shared plumbing of the skfolio estimators: inputs to frames, pipeline runs, stage parameters."""

from __future__ import annotations

from typing import Any

import attrs
import pandas as pd

from ..errors import DataError, SpecError
from ..pipeline import STAGE_SYNTAX, Pipeline, RebalanceResult, Windows, parse_spec
from ..stages import STAGES


def _names(n: int, prefix: str) -> list[str]:
    """``x0..x{n-1}`` zero-padded so that sorting by name keeps the input order."""
    width = len(str(max(n - 1, 0)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def as_frames(estimator: Any, X: Any, y: Any, *, need_y: bool, min_assets: int, owner: str
              ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Asset returns ``X`` (T, N) and candidate driver returns ``y`` (T, M) or (T,) as frames.

    ``X`` is checked with scikit-learn's ``validate_data`` (which also sets ``n_features_in_``
    and ``feature_names_in_`` on ``estimator``): 2-D, finite, real, dense, at least 2 rows and
    ``min_assets`` columns. Frames keep their labels; arrays get names ``x0..`` / ``y0..``
    (zero-padded, so causalfolio's canonical by-name order is the input order). Without a
    ``DatetimeIndex`` the rows get a business-day calendar (only their order matters). ``y``
    must have one row per row of ``X``; a frame ``y`` with dates is aligned to ``X``'s dates.

    Raises
    ------
    ValueError
        scikit-learn's messages for malformed ``X`` or ``y`` (NaN, sparse, complex, 1-D, empty).
    DataError
        ``y`` missing when the pipeline selects drivers, or not aligned with ``X``.
    """
    from sklearn.utils import check_array
    from sklearn.utils.validation import validate_data

    arr = validate_data(estimator, X, dtype=float, ensure_min_samples=2,
                        ensure_min_features=min_assets)
    if isinstance(X, pd.DataFrame):
        assets = pd.DataFrame(arr, index=X.index, columns=[str(c) for c in X.columns])
    else:
        assets = pd.DataFrame(arr, columns=_names(arr.shape[1], "x"))
    if not isinstance(assets.index, pd.DatetimeIndex):
        assets.index = pd.bdate_range("2000-01-03", periods=len(assets))
    if y is None:
        if need_y:
            raise DataError(
                f"{owner}: the pipeline selects drivers and needs candidate driver returns: "
                "call fit(X, y) with y of shape (n_observations, n_candidates); inside a skfolio "
                "optimiser route them as metadata (set_fit_request(drivers=True), then "
                "fit(X, drivers=y)) or pass distance_from_prior=False so that y reaches the "
                "distance estimator (see docs/interop.md)"
            )
        return assets, None
    if isinstance(y, pd.Series):
        y = y.to_frame(name=str(y.name) if y.name is not None else "y0")
    if isinstance(y, pd.DataFrame):
        cand = y.astype(float)
        cand.columns = [str(c) for c in cand.columns]
        if isinstance(cand.index, pd.DatetimeIndex) and isinstance(X, pd.DataFrame) \
                and isinstance(X.index, pd.DatetimeIndex) and not cand.index.equals(X.index):
            missing = X.index.difference(cand.index)
            if len(missing):
                raise DataError(f"{owner}: y has no rows for {len(missing)} dates of X "
                                f"(first {missing[0].date()}); give y on X's dates")
            cand = cand.loc[X.index]
        check_array(cand.to_numpy(), dtype=float, input_name="y")
    else:
        c = check_array(y, dtype=float, ensure_2d=False, input_name="y")
        if c.ndim == 1:
            c = c[:, None]
        cand = pd.DataFrame(c, columns=_names(c.shape[1], "y"))
    if len(cand) != len(assets):
        raise DataError(f"{owner}: y has {len(cand)} rows, X has {len(assets)}; give one row "
                        "of candidate returns per row of asset returns")
    cand.index = assets.index
    clash = sorted(set(assets.columns) & set(cand.columns))
    if clash:
        raise DataError(f"{owner}: names used both as asset and as candidate driver: "
                        f"{clash[:5]}; rename them")
    return assets, cand


def four_stages(spec: str, owner: str) -> Pipeline:
    """The pipeline of a four-stage spec ``drivers|dynamics|sensitivities|forecast`` (the
    skfolio optimiser is the mapping), with ``equal`` as a placeholder mapping."""
    from ..spec.parser import parse_parts

    calls = parse_parts(spec)
    if len(calls) != 4:
        raise SpecError(
            f"{owner} takes the four stages before the mapping "
            f"(drivers|dynamics|sensitivities|forecast), got {len(calls)}",
            spec, 0, len(spec),
            f"drop the mapping: the skfolio optimiser is the mapping ({STAGE_SYNTAX})")
    return parse_spec(f"{spec}|equal")


def after_last(index: pd.DatetimeIndex) -> pd.Timestamp:
    """A rebalance date just after the last row, so that every row counts as history."""
    return pd.Timestamp(index[-1]) + pd.Timedelta(days=1)


def run(pipeline: Pipeline, assets: pd.DataFrame, candidates: pd.DataFrame | None, *,
        windows: Windows, bounds: tuple[float, float], horizon: int, seed: int, owner: str
        ) -> RebalanceResult:
    """One rebalance of ``pipeline`` on all of ``assets`` (its last ``need`` rows, as the
    backtester at the date after the last row).

    Raises :class:`DataError` when ``assets`` has fewer rows than the windows need.
    """
    need = max(2, pipeline.required_history(windows))
    if len(assets) < need:
        raise DataError(
            f"{owner}: X has {len(assets)} rows but {pipeline.spec} needs {need} with "
            f"driver_window={windows.drivers}, train_window={windows.train}, "
            f"cov_window={windows.cov}; give more training rows or shorten the windows")
    return pipeline.run(assets, None if pipeline.is_benchmark else candidates,
                        after_last(assets.index), driver_window=windows.drivers,
                        train_window=windows.train, cov_window=windows.cov,
                        min_weight=bounds[0], max_weight=bounds[1], horizon=horizon, seed=seed,
                        diagnostics=False)


def set_stage_params(spec: str, changes: dict[str, Any], sep: str) -> str:
    """The canonical spec with stage parameters changed: ``{"drivers__k": 3}`` on
    ``rccp(k=6)|...`` gives ``rccp(k=3)|...``. Values are validated by the component."""
    pipe = parse_spec(spec)
    comps = {stage: getattr(pipe, stage) for stage in STAGES}
    for key, value in changes.items():
        stage, _, name = key.partition(sep)
        comp = comps.get(stage)
        if comp is None:
            raise SpecError(f"no stage {stage!r} in the spec {pipe.spec!r} (parameter {key!r}); "
                            f"stages: {', '.join(s for s in STAGES if comps[s] is not None)}")
        fields = {f.name for f in attrs.fields(type(comp))}
        if name not in fields:
            raise SpecError(f"{comp.name} has no parameter {name!r} (from {key!r}); its "
                            f"parameters: {', '.join(sorted(fields)) or 'none'}")
        comps[stage] = attrs.evolve(comp, **{name: value})
    return Pipeline(**comps).spec  # type: ignore[arg-type]


def stage_params(spec: str, sep: str) -> dict[str, Any]:
    """Every stage parameter of the spec's components as ``{"stage__param": value}``."""
    pipe = parse_spec(spec)
    out: dict[str, Any] = {}
    for stage in STAGES:
        comp = getattr(pipe, stage)
        if comp is None:
            continue
        for f in attrs.fields(type(comp)):
            out[f"{stage}{sep}{f.name}"] = getattr(comp, f.name)
    return out
