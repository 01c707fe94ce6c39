"""Shared plumbing of the skfolio estimators: inputs to frames, pipeline runs, stage parameters."""

from __future__ import annotations

from typing import Any

import attrs
import pandas as pd

from ..constraints import Constraints
from ..errors import DataError, ParameterError, SpecError
from ..pipeline import STAGE_SYNTAX, Pipeline, RebalanceResult, Windows, parse_spec
from ..stages import STAGES


def _names(n: int, prefix: str) -> list[str]:
    """``x0..x{n-1}`` zero-padded so that sorting by name keeps the input order."""
    width = len(str(max(n - 1, 0)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


NAN_POLICIES = ("raise", "universe")
"""``raise``: any NaN is an error; ``universe``: NaNs before a series' first value or after its
last mark a changing universe, as in ``run_backtest`` (see :func:`universe`)."""


def check_nan_policy(policy: Any, owner: str) -> str:
    """``policy`` if it is one of :data:`NAN_POLICIES`, else a :class:`ParameterError`."""
    if policy not in NAN_POLICIES:
        raise ParameterError(f"{owner}: nan_policy must be one of {list(NAN_POLICIES)}, got "
                             f"{policy!r}")
    return str(policy)


def _nan_hint(exc: ValueError, owner: str, nan_policy: str) -> ValueError:
    """scikit-learn's ValueError, with NaNs reported in one line that says the fix."""
    text = str(exc)
    if "contains NaN" not in text or nan_policy == "universe":
        return exc
    return ValueError(f"{text.splitlines()[0]} {owner}: if the NaNs mark series before their "
                      "listing or after their delisting, pass nan_policy='universe'; otherwise "
                      "fill or drop them")


def as_frames(estimator: Any, X: Any, y: Any, *, need_y: bool, min_assets: int, owner: str,
              nan_policy: str = "raise") -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Asset returns ``X`` (T, N) and candidate driver returns ``y`` (T, M) or (T,) as frames.

    ``X`` is checked with scikit-learn's ``validate_data`` (which also sets ``n_features_in_``
    and ``feature_names_in_`` on ``estimator``): 2-D, finite, real, dense, at least 2 rows and
    ``min_assets`` columns (NaN allowed with ``nan_policy='universe'``). Frames keep their
    labels; arrays get names ``x0..`` / ``y0..`` (zero-padded, so causalfolio's canonical
    by-name order is the input order). Without a ``DatetimeIndex`` the rows get a business-day
    calendar (only their order matters). ``y`` must have one row per row of ``X``; a frame
    ``y`` with dates is aligned to ``X``'s dates.

    Raises
    ------
    ValueError
        scikit-learn's messages for malformed ``X`` or ``y`` (NaN, sparse, complex, 1-D, empty).
    DataError
        ``y`` missing when the pipeline selects drivers, or not aligned with ``X``.
    """
    from sklearn.utils import check_array
    from sklearn.utils.validation import validate_data

    allow = "allow-nan" if nan_policy == "universe" else True
    try:
        arr = validate_data(estimator, X, dtype=float, ensure_min_samples=2,
                            ensure_min_features=min_assets, ensure_all_finite=allow)
    except ValueError as exc:
        raise _nan_hint(exc, owner, nan_policy) from None
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
        try:
            check_array(cand.to_numpy(), dtype=float, input_name="y", ensure_all_finite=allow)
        except ValueError as exc:
            raise _nan_hint(exc, owner, nan_policy) from None
    else:
        try:
            c = check_array(y, dtype=float, ensure_2d=False, input_name="y",
                            ensure_all_finite=allow)
        except ValueError as exc:
            raise _nan_hint(exc, owner, nan_policy) from None
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


def check_registry(registry: Any, owner: str) -> Any:
    """``registry`` if it is a :class:`~causalfolio.registry.Registry` or None, else a
    :class:`ParameterError`."""
    from ..registry import Registry

    if registry is not None and not isinstance(registry, Registry):
        raise ParameterError(f"{owner}: registry must be a causalfolio Registry (from "
                             f"causalfolio.registry.build_registry) or None, got "
                             f"{type(registry).__name__}")
    return registry


def _lenient(registry: Any) -> Any:
    """The registry for get_params/set_params, which must not raise: an invalid one is
    reported by ``fit``."""
    from ..registry import Registry

    return registry if isinstance(registry, Registry) else None


def four_stages(spec: str, owner: str, registry: Any = None) -> Pipeline:
    """The pipeline of a four-stage spec ``drivers|dynamics|sensitivities|forecast`` (the
    skfolio optimiser is the mapping), with ``equal`` as a placeholder mapping; ``registry``
    resolves the names (default: the process-wide one)."""
    from ..spec.parser import parse_parts

    calls = parse_parts(spec)
    if len(calls) != 4:
        raise SpecError(
            f"{owner} takes the four stages before the mapping "
            f"(drivers|dynamics|sensitivities|forecast), got {len(calls)}",
            spec, 0, len(spec),
            f"drop the mapping: the skfolio optimiser is the mapping ({STAGE_SYNTAX})")
    return parse_spec(f"{spec}|equal", check_registry(registry, owner))


def universe(assets: pd.DataFrame, candidates: pd.DataFrame | None, need: int, *,
             min_assets: int, owner: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The assets and candidates of a rebalance the day after the last row, in a changing
    universe: NaNs before a series' first value or after its last mark days outside its life
    (not listed yet, delisted). As ``run_backtest`` does, the assets with a return on each of the
    last ``need`` rows are investable and the candidates with a value on each of them form the
    pool; the others are left out (their weight is 0).

    Raises
    ------
    DataError
        A NaN inside a series' life (a gap: fill or drop it first), or fewer than
        ``min_assets`` investable assets (or no candidate) over the last ``need`` rows.
    """
    from ..data.validation import lives

    for frame, what in ((assets, "X"), (candidates, "y")):
        if frame is None:
            continue
        gap = frame.isna() & lives(frame)
        if gap.to_numpy().any():
            col = gap.any()[lambda s: s].index[0]
            day = gap.index[gap[col].to_numpy()][0]
            raise DataError(f"{owner}: {what} has a gap inside the life of {col!r} (NaN on "
                            f"{pd.Timestamp(day).date()} between values); nan_policy='universe' "
                            "reads NaNs only as before a listing or after a delisting: fill or "
                            "drop the gap")
    tail = assets.iloc[-need:]
    investable = tail.columns[tail.notna().all().to_numpy()]
    if len(investable) < min_assets:
        raise DataError(f"{owner}: {len(investable)} asset(s) have returns on each of the last "
                        f"{need} rows the windows use, need {min_assets}; give more history "
                        "or shorten the windows")
    if candidates is None:
        return assets[investable], None
    ctail = candidates.iloc[-need:]
    pool = ctail.columns[ctail.notna().all().to_numpy()]
    if len(pool) == 0:
        raise DataError(f"{owner}: no candidate driver has values on each of the last {need} "
                        "rows the windows use; give more history or shorten the windows")
    return assets[investable], candidates[pool]


def after_last(index: pd.DatetimeIndex) -> pd.Timestamp:
    """A rebalance date just after the last row, so that every row counts as history."""
    return pd.Timestamp(index[-1]) + pd.Timedelta(days=1)


def run(pipeline: Pipeline, assets: pd.DataFrame, candidates: pd.DataFrame | None, *,
        windows: Windows, constraints: Constraints, horizon: int, seed: int, owner: str,
        nan_policy: str = "raise", min_assets: int = 2) -> RebalanceResult:
    """One rebalance of ``pipeline`` on all of ``assets`` (its last ``need`` rows, as the
    backtester at the date after the last row); with ``nan_policy='universe'`` on the investable
    assets and the candidate pool (:func:`universe`; the weights then cover only those assets).

    Raises :class:`DataError` when ``assets`` has fewer rows than the windows need.
    """
    if nan_policy == "universe":
        need = max(2, pipeline.required_history(windows))
        if pipeline.is_benchmark:
            candidates = None
        if len(assets) >= need:
            assets, candidates = universe(assets, candidates, need, owner=owner,
                                          min_assets=min_assets)
            constraints.resolve(tuple(assets.columns), after_last(assets.index))
    k = getattr(pipeline.drivers, "k", None)
    if candidates is not None and isinstance(k, int) and k > candidates.shape[1]:
        m = candidates.shape[1]
        raise DataError(
            f"{owner}: {pipeline.spec} selects k={k} drivers but y has {m} candidate(s); "
            f"select at most {m}: set_params(drivers__k={m}) or spec="
            f"'{getattr(pipeline.drivers, 'name', '')}(k={m})|...', or give more candidates")
    need = max(2, pipeline.required_history(windows))
    if len(assets) < need:
        raise DataError(
            f"{owner}: X has {len(assets)} rows but {pipeline.spec} needs {need} with "
            f"driver_window={windows.drivers}, train_window={windows.train}, "
            f"cov_window={windows.cov}; give more training rows or shorten the windows")
    return pipeline.run(assets, None if pipeline.is_benchmark else candidates,
                        after_last(assets.index), driver_window=windows.drivers,
                        train_window=windows.train, cov_window=windows.cov,
                        constraints=constraints, horizon=horizon, seed=seed,
                        diagnostics=False)


def set_stage_params(spec: str, changes: dict[str, Any], sep: str, registry: Any = None) -> str:
    """The canonical spec with stage parameters changed: ``{"drivers__k": 3}`` on
    ``rccp(k=6)|...`` gives ``rccp(k=3)|...``. Values are validated by the component."""
    pipe = parse_spec(spec, _lenient(registry))
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
    return Pipeline(**comps, registry=pipe.registry).spec  # type: ignore[arg-type]


def stage_params(spec: str, sep: str, registry: Any = None) -> dict[str, Any]:
    """Every stage parameter of the spec's components as ``{"stage__param": value}``."""
    pipe = parse_spec(spec, _lenient(registry))
    out: dict[str, Any] = {}
    for stage in STAGES:
        comp = getattr(pipe, stage)
        if comp is None:
            continue
        for f in attrs.fields(type(comp)):
            out[f"{stage}{sep}{f.name}"] = getattr(comp, f.name)
    return out
