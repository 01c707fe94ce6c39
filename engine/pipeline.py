"""A pipeline of five components, built from a spec string, run at one rebalance date."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from ._lazy import np, pd
from .constraints import Constraints
from .defaults import COV_WINDOW, DRIVER_WINDOW, MAX_WEIGHT, MIN_WEIGHT, TRAIN_WINDOW
from .diagnostics import mapping_diagnostics
from .errors import (
    CausalfolioError,
    ConfigError,
    DataError,
    NumericalError,
    ParameterError,
    SpecError,
)
from .params import coerce
from .params import hints as _hints
from .registry import Registry, get_registry, use_registry
from .spec.parser import ComponentCall, parse_parts
from .stages import (
    STAGES,
    Allocation,
    Component,
    DistanceForecast,
    DriverSelection,
    DriverSelector,
    DynamicsModel,
    MappingInputs,
    RiskMapping,
    Sensitivities,
    SensitivityExtractor,
    SensitivityForecaster,
    fingerprint,
)
from .weights import within_exposures

STAGE_SYNTAX = "drivers|dynamics|sensitivities|forecast|mapping"


@attrs.frozen(kw_only=True)
class Windows:
    """Lookback windows in trading days used when a component does not set its own ``window``.

    Attributes
    ----------
    drivers
        Driver-selection window (6 months of daily data by default).
    train
        Dynamics training window (125 days, the longest in §9.1).
    cov
        Covariance window for risk mapping (3 months).
    """

    drivers: int = DRIVER_WINDOW
    train: int = TRAIN_WINDOW
    cov: int = COV_WINDOW

    def __attrs_post_init__(self) -> None:
        for name in ("drivers", "train", "cov"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 2:
                raise ParameterError(f"window '{name}' must be an integer >= 2, got {v!r}")


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class RebalanceResult:
    """Everything one rebalance produced (kept per date by the backtester).

    ``risk`` holds the sensitivity-space diagnostics of monograph Table 1 for the chosen weights
    (:func:`causalfolio.diagnostics.mapping_diagnostics`); for a benchmark, or when they cannot be
    computed, ``{"available": False, "reason": ...}``.
    """

    date: pd.Timestamp
    weights: pd.Series
    selection: DriverSelection | None = None
    sensitivities: Sensitivities | None = None
    forecast: DistanceForecast | None = None
    allocation: Allocation | None = None
    risk: dict[str, Any] = attrs.field(factory=dict)
    timings: dict[str, float] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        drivers = "" if self.selection is None else f", drivers=[{', '.join(self.selection.names)}]"
        return f"RebalanceResult({self.date.date()}, {len(self.weights)} weights{drivers})"


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """A float copy of ``frame`` in C order (one memory layout whatever the input's)."""
    values = np.array(frame.to_numpy(dtype=float), dtype=float, order="C", copy=True)
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)


def _window(component: Component | None, default: int) -> int:
    w = getattr(component, "window", None)
    return int(w) if w is not None else default


def _cached(cache: MutableMapping[str, Any] | None, key: str, fn: Callable[[], Any]) -> Any:
    """``cache[key]``, computing and storing ``fn()`` on a miss (no cache: just ``fn()``)."""
    if cache is not None and key in cache:
        return cache[key]
    out = fn()
    if cache is not None:
        cache[key] = out
    return out


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of the ``with`` block to ``timings[stage]`` (seconds)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = time.perf_counter() - t0


def _risk(inputs: MappingInputs, alloc: Allocation, diagnostics: bool) -> dict[str, Any]:
    """5b. The Table 1 risk diagnostics of the chosen weights, or why they are missing."""
    if not diagnostics:
        return {"available": False, "reason": "diagnostics turned off"}
    try:
        return mapping_diagnostics(inputs, alloc.weights)
    except CausalfolioError as exc:  # never stop a backtest; say why they are missing
        return {"available": False, "reason": str(exc)}


@attrs.frozen
class Pipeline:
    """The five components of a strategy, or a single mapping for a benchmark.

    Build one with :func:`parse_spec` or directly from component instances.
    """

    mapping: RiskMapping
    drivers: DriverSelector | None = None
    dynamics: DynamicsModel | None = None
    sensitivities: SensitivityExtractor | None = None
    forecasting: SensitivityForecaster | None = None
    registry: Registry | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    """The registry the pipeline was built with (:func:`parse_spec`); components that look
    names up while they run (the ``sklearn`` model's estimator) use it. ``None``: the default."""

    def __attrs_post_init__(self) -> None:
        upstream = (self.drivers, self.dynamics, self.sensitivities, self.forecasting)
        if any(c is None for c in upstream) and any(c is not None for c in upstream):
            raise SpecError("a pipeline needs all five stages or only a mapping")
        if self.is_benchmark and self.mapping.needs_sensitivities:
            raise SpecError(
                f"risk mapping {self.mapping.name!r} uses the sensitivity space and cannot run "
                f"alone; give all five stages ({STAGE_SYNTAX})", self.mapping.spec, 0,
                len(self.mapping.name),
            )

    @property
    def is_benchmark(self) -> bool:
        """True for a mapping-only pipeline (no drivers, dynamics, sensitivities or forecast)."""
        return self.drivers is None

    @property
    def components(self) -> tuple[Component, ...]:
        """The components in stage order (just the mapping for a benchmark)."""
        if self.is_benchmark:
            return (self.mapping,)
        return (self.drivers, self.dynamics, self.sensitivities, self.forecasting,  # type: ignore
                self.mapping)

    @property
    def spec(self) -> str:
        """Canonical spec string; ``parse_spec(p.spec) == p``."""
        return "|".join(c.spec for c in self.components)

    def __str__(self) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"Pipeline({self.spec!r})"

    def _repr_html_(self) -> str:
        """Notebook view: one row per stage with its component's canonical spec."""
        from . import display

        stages = ("mapping",) if self.is_benchmark else STAGES
        table = pd.DataFrame({"component": [c.spec for c in self.components]},
                             index=list(stages))
        kind = "benchmark (mapping only)" if self.is_benchmark else "five-stage pipeline"
        return display.html_block("Pipeline", [self.spec, kind], display.html_table(table))

    # -- running ------------------------------------------------------------------------------
    def required_history(self, windows: Windows) -> int:
        """Trading days of history needed before the first rebalance date."""
        if self.is_benchmark:
            return _window(self.mapping, windows.cov)
        train = self.dynamics.history(_window(self.dynamics, windows.train))
        return max(_window(self.drivers, windows.drivers), train + self._oos_days(),
                   _window(self.mapping, windows.cov))

    def run(
        self,
        assets: pd.DataFrame,
        candidates: pd.DataFrame | None,
        date: pd.Timestamp,
        *,
        driver_window: int = DRIVER_WINDOW,
        train_window: int = TRAIN_WINDOW,
        cov_window: int = COV_WINDOW,
        min_weight: float | Mapping[str, float] | str = MIN_WEIGHT,
        max_weight: float | Mapping[str, float] | str = MAX_WEIGHT,
        groups: Mapping[str, str | Sequence[str]] | str | None = None,
        linear_constraints: Sequence[str] | str | None = None,
        constraints: Constraints | None = None,
        horizon: int = 21,
        seed: int = 0,
        selection: DriverSelection | None = None,
        cache: MutableMapping[str, Any] | None = None,
        diagnostics: bool = True,
        windows: Windows | None = None,
        bounds: tuple[float, float] | None = None,
    ) -> RebalanceResult:
        """Weights at ``date`` from data strictly before it.

        Parameters
        ----------
        assets, candidates
            Asset and candidate-driver returns (T, N) and (T, M); rows at or after ``date`` are
            dropped here, so passing the whole history is safe.
        date
            The rebalance date tau.
        driver_window, train_window, cov_window
            Default lookback windows, trading days (for components without their own
            ``window``), named as in :class:`~causalfolio.backtest.BacktestConfig`, the command
            line and ablation grids.
        min_weight, max_weight
            Weight bounds per asset: a number for every asset, a mapping asset -> weight
            (assets not listed: 0 and 1) or a CSV file ``asset,min_weight`` /
            ``asset,max_weight``.
        groups, linear_constraints
            Group constraints: ``groups`` maps each asset to its group(s) (or a CSV file
            ``asset,group``); ``linear_constraints`` are inequalities on assets and groups such
            as ``"Tech <= 0.3"`` (see :mod:`causalfolio.constraints`). Asset names are checked
            against the columns of ``assets``.
        constraints
            Instead of the four settings above: a :class:`~causalfolio.constraints.Constraints`
            built once (``BacktestConfig.constraints``); resolved here for the columns of
            ``assets`` (the investable assets).
        horizon
            Holding period in trading days (passed to the forecaster).
        seed
            Seed for this rebalance.
        selection
            Reuse this driver selection instead of selecting again (driver refresh every n
            rebalances).
        cache
            Optional mapping from stage keys to stage outputs, shared between runs so that equal
            work is done once.
        diagnostics
            Compute the Table 1 risk diagnostics of the weights (``RebalanceResult.risk``).
        windows, bounds
            Deprecated spellings of the windows and the bounds (a :class:`Windows`, a
            ``(min, max)`` pair): still accepted, with a :class:`FutureWarning`.
        """
        if windows is not None:
            warnings.warn("Pipeline.run(windows=Windows(...)) is deprecated; write "
                          "driver_window=, train_window=, cov_window=", FutureWarning,
                          stacklevel=2)
        else:
            windows = Windows(drivers=driver_window, train=train_window, cov=cov_window)
        if bounds is not None:
            warnings.warn("Pipeline.run(bounds=(min, max)) is deprecated; write min_weight=, "
                          "max_weight=", FutureWarning, stacklevel=2)
            min_weight, max_weight = bounds
        if constraints is None:
            constraints = Constraints.from_settings(min_weight, max_weight, groups,
                                                    linear_constraints)
            constraints.check_assets(list(assets.columns), "the asset returns")
        elif (bounds is not None or groups is not None or linear_constraints is not None
              or (min_weight, max_weight) != (MIN_WEIGHT, MAX_WEIGHT)):
            raise ConfigError("give either constraints= or min_weight=, max_weight=, groups=, "
                              "linear_constraints=, not both")
        with use_registry(self.registry):
            return self._run(assets, candidates, pd.Timestamp(date), windows,
                             constraints=constraints, horizon=horizon, seed=seed,
                             selection=selection, cache=cache, diagnostics=diagnostics)

    def _run(
        self, assets: pd.DataFrame, candidates: pd.DataFrame | None, date: pd.Timestamp,
        windows: Windows, *, constraints: Constraints, horizon: int, seed: int,
        selection: DriverSelection | None, cache: MutableMapping[str, Any] | None,
        diagnostics: bool,
    ) -> RebalanceResult:
        """:meth:`run` with its arguments normalised: one line per stage."""
        cov_w = _window(self.mapping, windows.cov)
        past, past_c = self._history(assets, candidates, date, windows, cov_w)
        returns_cov = past.iloc[-cov_w:]
        limits = constraints.resolve(tuple(past.columns), date)
        timings: dict[str, float] = {}
        if self.is_benchmark:
            inputs = MappingInputs(date=date, assets=tuple(past.columns), returns=returns_cov,
                                   constraints=limits, seed=seed)
            t0 = time.perf_counter()
            key = fingerprint(self.mapping.key_spec, returns_cov, limits.key(), seed)
            alloc = self._allocate(inputs, key)
            timings["mapping"] = time.perf_counter() - t0
            return RebalanceResult(date=date, weights=alloc.weights, allocation=alloc,
                                   timings=timings)
        if past_c is None:
            raise DataError(
                f"{self.spec}: a five-stage pipeline needs the candidate driver returns; pass "
                "them as `candidates` (or run a single benchmark mapping such as 'hrp')"
            )
        with _timed(timings, "drivers"):
            if selection is None:
                selection = self._select_step(past, past_c, windows, seed, cache)
        names = list(selection.names)
        with _timed(timings, "dynamics"):
            model, dyn_key, train_d = self._dynamics_step(past, past_c, names, selection,
                                                          windows, seed, cache)
        with _timed(timings, "sensitivities"):
            sens, sens_key = self._sensitivities_step(model, dyn_key, past_c, names, train_d,
                                                      cache)
        with _timed(timings, "forecasting"):
            fc, fc_key = self._forecast_step(sens, sens_key, past.shape[1], horizon, seed,
                                             cache)
        with _timed(timings, "mapping"):
            inputs = MappingInputs(
                date=date, assets=tuple(past.columns), returns=returns_cov,
                driver_returns=past_c[names].iloc[-cov_w:], distance=fc.distance,
                sensitivities=sens, forecast=fc, constraints=limits, seed=seed,
            )
            alloc = self._allocate(inputs, fingerprint(self.mapping.key_spec, fc_key, returns_cov,
                                                       limits.key(), seed))
        risk = _risk(inputs, alloc, diagnostics)
        return RebalanceResult(date=date, weights=alloc.weights, selection=selection,
                               sensitivities=sens, forecast=fc, allocation=alloc, risk=risk,
                               timings=timings)

    # -- the steps of `run`, one per stage ------------------------------------------------------
    def _history(
        self, assets: pd.DataFrame, candidates: pd.DataFrame | None, date: pd.Timestamp,
        windows: Windows, cov_w: int,
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The last rows strictly before ``date`` that the pipeline needs, as fresh copies."""
        need = max(2, cov_w if self.is_benchmark else self.required_history(windows))
        mask = assets.index < date
        if int(mask.sum()) < need:
            raise DataError(
                f"{self.spec}: {int(mask.sum())} trading days before {date.date()}, need {need}; "
                "start the backtest later or shorten the windows"
            )
        # Only the last `need` rows are used. Fresh C-ordered copies make every computation
        # independent of how the caller's frames are laid out in memory, so results are
        # bit-identical whatever happened to the data after `date` (the no-look-ahead test).
        past = _canonical(assets.loc[mask].iloc[-need:])
        past_c = (_canonical(candidates.loc[candidates.index < date].iloc[-need:])
                  if candidates is not None else None)
        return past, past_c

    def _oos_days(self) -> int:
        """Rows held out for out-of-sample sensitivities (0 in sample)."""
        return self.sensitivities.oos_days if self.sensitivities.sample == "out" else 0

    def _select_step(
        self, past: pd.DataFrame, past_c: pd.DataFrame, windows: Windows, seed: int,
        cache: MutableMapping[str, Any] | None,
    ) -> DriverSelection:
        """1. Driver selection on the driver window."""
        wd = _window(self.drivers, windows.drivers)
        a_sel, c_sel = past.iloc[-wd:], past_c.iloc[-wd:]
        key = fingerprint(self.drivers.key_spec, a_sel, c_sel, seed)

        def _select() -> DriverSelection:
            out = self.drivers.select(a_sel, c_sel, seed=seed)
            self._check_selection(out, c_sel)
            return attrs.evolve(out, key=key)

        return _cached(cache, key, _select)

    def _dynamics_step(
        self, past: pd.DataFrame, past_c: pd.DataFrame, names: list[str],
        selection: DriverSelection, windows: Windows, seed: int,
        cache: MutableMapping[str, Any] | None,
    ) -> tuple[Any, str, pd.DataFrame]:
        """2. Dynamics, fitted on the data before the out-of-sample evaluation set.

        Returns the fitted model, its cache key and the driver rows it was trained on.
        """
        oos = self._oos_days()
        train_a = past.iloc[: len(past) - oos] if oos else past
        train_d = past_c[names].iloc[: len(past) - oos] if oos else past_c[names]
        train_w = _window(self.dynamics, windows.train)
        dyn_key = fingerprint(self.dynamics.key_spec, selection.key, train_a, train_d, train_w,
                              seed)
        model = _cached(cache, dyn_key, lambda: self.dynamics.fit(train_a, train_d,
                                                                 window=train_w, seed=seed))
        return model, dyn_key, train_d

    def _sensitivities_step(
        self, model: Any, dyn_key: str, past_c: pd.DataFrame, names: list[str],
        train_d: pd.DataFrame, cache: MutableMapping[str, Any] | None,
    ) -> tuple[Sensitivities, str]:
        """3. Sensitivities on the in-sample or out-of-sample evaluation set, and their key."""
        oos = self._oos_days()
        # The evaluation inputs are a function of the model (dyn_key covers its training data)
        # and, out of sample, of the last rows of the drivers: key on those, and build the
        # design matrix only when the sensitivities are not cached.
        if oos:
            lag_buf = max(model.lags) if model.lags else 0
            recent = past_c[names].iloc[-(oos + lag_buf):]
            sens_key = fingerprint(self.sensitivities.key_spec, dyn_key, "out", recent)
        else:
            sens_key = fingerprint(self.sensitivities.key_spec, dyn_key, "in")

        def _extract() -> Sensitivities:
            if oos:
                design = model.design(recent).iloc[-oos:]
            else:
                design = model.design(train_d).loc[model.train_index]
            return attrs.evolve(self.sensitivities.extract(model, design), key=sens_key)

        return _cached(cache, sens_key, _extract), sens_key

    def _forecast_step(
        self, sens: Sensitivities, sens_key: str, n: int, horizon: int, seed: int,
        cache: MutableMapping[str, Any] | None,
    ) -> tuple[DistanceForecast, str]:
        """4. Forecast of the (n, n) distance matrix over the holding period, and its key."""
        fc_key = fingerprint(self.forecasting.key_spec, sens_key, horizon, seed)

        def _forecast() -> DistanceForecast:
            out = self.forecasting.forecast(sens, horizon=horizon, seed=seed)
            d = np.asarray(out.distance, dtype=float)
            if d.shape != (n, n) or not np.all(np.isfinite(d)):
                raise NumericalError(
                    f"forecaster {self.forecasting.name!r} returned a distance matrix of shape "
                    f"{d.shape} with non-finite entries or the wrong size (expected ({n}, {n}))"
                )
            return attrs.evolve(out, key=fc_key)

        return _cached(cache, fc_key, _forecast), fc_key

    @staticmethod
    def _check_selection(sel: DriverSelection, candidates: pd.DataFrame) -> None:
        if not sel.names:
            raise NumericalError("the driver selector selected no drivers")
        missing = [n for n in sel.names if n not in candidates.columns]
        if missing:
            raise NumericalError(f"the driver selector returned unknown candidates {missing}")
        if len(set(sel.names)) != len(sel.names):
            raise NumericalError(f"the driver selector returned duplicates: {list(sel.names)}")

    def _allocate(self, inputs: MappingInputs, key: str) -> Allocation:
        alloc = self.mapping.allocate(inputs)
        w = pd.Series(alloc.weights, dtype=float)
        if list(w.index) != list(inputs.assets):
            w = w.reindex(list(inputs.assets))
        arr = w.to_numpy()
        if not np.all(np.isfinite(arr)):
            raise NumericalError(f"risk mapping {self.mapping.name!r} returned non-finite weights")
        diagnostics = dict(alloc.diagnostics)
        limits = inputs.constraints
        if getattr(self.mapping, "long_short", False):  # shorts allowed: check net and gross
            if limits.has_linear:
                raise ConfigError(
                    f"risk mapping {self.mapping.name!r} runs long-short (net and gross "
                    "exposures), where the per-asset bounds and the group / linear constraints "
                    f"({', '.join(map(repr, limits.labels))}) do not apply; drop them or run "
                    "it long-only")
            net, gross = self.mapping.net, self.mapping.gross  # type: ignore[attr-defined]
            if not within_exposures(arr, net, gross):
                raise NumericalError(
                    f"risk mapping {self.mapping.name!r} returned long-short weights with net "
                    f"{arr.sum():.6g} (expected {net:g}) and gross {np.abs(arr).sum():.6g} "
                    f"(limit {gross})")
            w = pd.Series(arr, index=list(inputs.assets), name=str(inputs.date.date()))
            return attrs.evolve(alloc, weights=w, diagnostics=diagnostics, key=key)
        if np.any(arr < -1e-8):
            raise NumericalError(f"risk mapping {self.mapping.name!r} returned negative weights")
        if not limits.contains(arr):
            projected = limits.project(np.clip(arr, 0.0, None))
            diagnostics["bounds_projection"] = float(np.abs(projected - arr).max())
            arr = projected
        w = pd.Series(arr, index=list(inputs.assets), name=str(inputs.date.date()))
        return attrs.evolve(alloc, weights=w, diagnostics=diagnostics, key=key)


# --- building from a spec ---------------------------------------------------------------------

_PARAM_RE = re.compile(r"parameter '(\w+)'")


def _build(stage: str, call: ComponentCall, spec: str, registry: Registry) -> Component:
    try:
        cls = registry.get(stage, call.name)
    except SpecError as exc:
        raise SpecError(exc.message, spec, *call.name_span, exc.hint) from None
    fields = {f.name for f in attrs.fields(cls)}
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in call.params.items():
        span = call.param_spans[key]
        if key not in fields:
            if stage == "mapping" and key in ("long_short", "gross", "net"):
                raise SpecError(
                    f"{call.name} is long-only and cannot take {key!r}", spec, *span,
                    "short positions are available in mvo, cvar and closed_form "
                    "(long_short=True, gross=..., net=...)")
            import difflib

            close = difflib.get_close_matches(key, sorted(fields), n=1, cutoff=0.5)
            hint = (f"did you mean {close[0]!r}?" if close else
                    f"parameters of {call.name}: {', '.join(sorted(fields)) or 'none'}")
            raise SpecError(f"{call.name} has no parameter {key!r}", spec, *span, hint)
        try:
            kwargs[key] = coerce(value, hints.get(key, Any), owner=call.name, field=key)
        except ParameterError as exc:
            raise SpecError(str(exc), spec, *span) from None
    try:
        return cls(**kwargs)
    except CausalfolioError as exc:
        m = _PARAM_RE.search(str(exc))
        bad = call.param_spans.get(m.group(1)) if m else None
        start, end = bad if bad else (call.start, call.end)
        raise SpecError(str(exc), spec, start, end) from None
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{call.name}: {exc}", spec, call.start, call.end) from None


def parse_spec(spec: str, registry: Registry | None = None) -> Pipeline:
    """Build a :class:`Pipeline` from a spec string.

    ``drivers|dynamics|sensitivities|forecast|mapping``, e.g. ``rccp(k=3)|linear|beta|static|hsp``,
    or a single mapping that needs no sensitivities (a benchmark), e.g. ``hrp``.
    Errors are :class:`SpecError` pointing at the offending part with a suggestion.
    """
    registry = registry or get_registry()
    calls = parse_parts(spec)
    with use_registry(registry):
        return _build_pipeline(spec, calls, registry)


def _build_pipeline(spec: str, calls: list[ComponentCall], registry: Registry) -> Pipeline:
    if len(calls) == 1:
        mapping = _build("mapping", calls[0], spec, registry)
        if mapping.needs_sensitivities:  # type: ignore[attr-defined]
            c = calls[0]
            raise SpecError(
                f"risk mapping {c.name!r} needs the sensitivity space and cannot run alone",
                spec, c.start, c.end, f"give all five stages: {STAGE_SYNTAX}",
            )
        return Pipeline(mapping=mapping, registry=registry)  # type: ignore[arg-type]
    if len(calls) != len(STAGES):
        last = calls[-1]
        raise SpecError(
            f"a spec has five stages ({STAGE_SYNTAX}) or a single benchmark mapping; "
            f"got {len(calls)} stages", spec, 0, last.end,
        )
    comps = [_build(stage, call, spec, registry) for stage, call in zip(STAGES, calls,
                                                                         strict=True)]
    return Pipeline(drivers=comps[0], dynamics=comps[1], sensitivities=comps[2],  # type: ignore
                    forecasting=comps[3], mapping=comps[4],  # type: ignore[arg-type]
                    registry=registry)


def canonical_spec(spec: str, registry: Registry | None = None) -> str:
    """The canonical form of a spec (defaults dropped, one spelling of every value)."""
    return parse_spec(spec, registry).spec


