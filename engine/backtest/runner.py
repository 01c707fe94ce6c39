"""The walk-forward backtester: weights at each rebalance date from data strictly before it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import attrs
import numpy as np
import pandas as pd

from .. import display
from ..data.market import Market
from ..errors import CausalfolioError, ConfigError, DataError
from ..pipeline import Pipeline, RebalanceResult, parse_spec
from ..registry import Registry
from ..stages import DriverSelection
from ..weights import check_bounds
from .config import BacktestConfig
from .metrics import METRICS, performance
from .schedule import rebalance_dates

Progress = Callable[[int, int, str], None]


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class StrategyResult:
    """One strategy's backtest.

    Attributes
    ----------
    label
        The canonical spec of the strategy.
    nav
        Daily NAV from 100 (first value: the trading day before the first rebalance).
    returns
        Daily portfolio returns after costs.
    weights
        Target weights at each rebalance date (dates x assets).
    turnover
        One-way turnover sum |w_new - w_drifted| / 2 at each rebalance (the first from cash).
    rebalances
        Per-rebalance results: selected drivers, sensitivities, distance matrix, weights.
    metrics
        See :func:`causalfolio.backtest.metrics.performance`.
    """

    label: str
    pipeline: Pipeline
    nav: pd.Series
    returns: pd.Series
    weights: pd.DataFrame
    turnover: pd.Series
    rebalances: tuple[RebalanceResult, ...]
    metrics: dict[str, float]

    def __repr__(self) -> str:
        return (f"StrategyResult({self.label!r}, {len(self.weights)} rebalances "
                f"{display.date_span(self.weights.index)}, "
                f"sharpe={self.metrics.get('sharpe', float('nan')):.4g})")


class Strategies(dict[str, StrategyResult]):
    """Strategies by canonical spec; a lookup by any other spelling of a spec (or a
    :class:`Pipeline`) finds the same strategy: ``result.strategies["rccp(k=3)|linear(lags=[0])|
    beta|static|hsp"]`` is ``result.strategies["rccp(k=3)|linear|beta|static|hsp"]``."""

    @staticmethod
    def _canonical(key: object) -> object:
        if isinstance(key, Pipeline):
            return key.spec
        if isinstance(key, str):
            try:
                return parse_spec(key).spec
            except CausalfolioError:
                return key
        return key

    def __missing__(self, key: object) -> StrategyResult:
        canon = self._canonical(key)
        if isinstance(canon, str) and canon != key and dict.__contains__(self, canon):
            return dict.__getitem__(self, canon)
        spelled = f" (canonical form {canon!r})" if canon != key else ""
        raise KeyError(f"no strategy {key!r}{spelled} in this backtest; its strategies: "
                       f"{display.names(list(self), limit=10) or 'none'}")

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or dict.__contains__(self, self._canonical(key))

    def get(self, key: object, default: Any = None) -> Any:  # type: ignore[override]
        """The strategy of ``key`` (any spelling), or ``default``."""
        return self.__getitem__(key) if key in self else default  # type: ignore[index]


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class BacktestResult:
    """All strategies of one backtest, run on the same rebalance dates."""

    config: BacktestConfig
    dates: pd.DatetimeIndex
    strategies: Strategies = attrs.field(converter=Strategies)

    def _summary(self) -> str:
        schedule = self.config.schedule if isinstance(self.config.schedule, str) else "listed"
        return (f"{len(self.strategies)} strateg{'y' if len(self.strategies) == 1 else 'ies'}, "
                f"{len(self.dates)} {schedule} rebalances {display.date_span(self.dates)}")

    def __repr__(self) -> str:
        cols = ["annual_return", "annual_volatility", "sharpe", "max_drawdown", "turnover"]
        return (f"BacktestResult({self._summary()})\n"
                + display.text_table(self.metrics_table()[cols]))

    def _repr_html_(self) -> str:
        """Notebook view: the settings in one line and the metrics table."""
        cfg = self.config
        lines = [self._summary(),
                 f"bounds {cfg.bounds}, cost {cfg.cost_bps} bps, windows drivers/train/cov "
                 f"{cfg.windows.drivers}/{cfg.windows.train}/{cfg.windows.cov} days"]
        return display.html_block("BacktestResult", lines,
                                  display.html_table(self.metrics_table()))

    def metrics_table(self) -> pd.DataFrame:
        """Strategies (rows, in run order) x metrics."""
        return pd.DataFrame({k: s.metrics for k, s in self.strategies.items()}).T[list(METRICS)]

    def nav_table(self) -> pd.DataFrame:
        """Daily NAV of every strategy (columns)."""
        return pd.DataFrame({k: s.nav for k, s in self.strategies.items()})


def _as_pipeline(strategy: str | Pipeline, registry: Registry | None) -> Pipeline:
    return strategy if isinstance(strategy, Pipeline) else parse_spec(strategy, registry)


def plan_dates(market: Market, pipelines: Iterable[Pipeline], config: BacktestConfig
               ) -> pd.DatetimeIndex:
    """Rebalance dates with enough history for every pipeline.

    Raises :class:`DataError` when an explicit ``start`` lacks history, or no date is left.
    """
    need = max(p.required_history(config.windows) for p in pipelines)
    cal = market.dates
    dates = rebalance_dates(cal, config.schedule, start=config.start, end=config.end)
    lo = config.start.date() if config.start is not None else cal[0].date()
    hi = config.end.date() if config.end is not None else cal[-1].date()
    if len(dates) == 0:
        sched = (f"the {config.schedule} schedule" if isinstance(config.schedule, str)
                 else "the listed schedule dates")
        raise ConfigError(f"no rebalance date of {sched} falls between {lo} and {hi} (the "
                          f"data's dates run from {cal[0].date()} to {cal[-1].date()}); widen "
                          "--start/--end or choose a more frequent --schedule")
    if len(cal) <= need:
        raise DataError(f"the data has {len(cal)} trading days but the windows need {need} "
                        "before the first rebalance; give more history or shorten the windows")
    earliest = cal[need]
    if config.start is not None and len(dates) and dates[0] < earliest:
        raise DataError(
            f"not enough history before start {config.start.date()}: the windows need {need} "
            f"trading days, the first date with enough history is {earliest.date()}; start "
            "there or shorten the windows"
        )
    dates = dates[dates >= earliest]
    if len(dates) == 0:
        raise DataError(f"no rebalance date between {lo} and {hi} has the {need} trading days "
                        f"of history the windows need (the first date with enough is "
                        f"{earliest.date()}); move --end later or shorten the windows")
    return dates


def simulate(
    returns: pd.DataFrame, targets: pd.DataFrame, *, cost_bps: float = 0.0, drift: bool = True,
    start_value: float = 100.0, start_date: pd.Timestamp | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Hold target weights from each rebalance date to the next.

    Parameters
    ----------
    returns
        Daily asset returns (D, N) from the first rebalance date on.
    targets
        Target weights (rebalance dates x N); a target set at tau earns tau's return.
    cost_bps
        Cost in basis points of traded value, charged at the rebalance.
    drift
        Weights drift with prices between rebalances; if False they are reset daily.
    start_value, start_date
        NAV before the first return and its date (default: the day before the first return;
        the backtester passes the previous trading day).

    Returns
    -------
    nav, portfolio returns (after costs), one-way turnover per rebalance.
    """
    r = np.array(returns.to_numpy(float), dtype=float, order="C")  # one layout: bit-stable
    tgt = targets.reindex(columns=returns.columns).to_numpy(float)
    pos = {d: k for k, d in enumerate(targets.index)}
    nav = np.empty(len(r) + 1)
    nav[0] = start_value
    port = np.empty(len(r))
    turnover = np.zeros(len(targets))
    w = np.zeros(r.shape[1])
    target = w
    for t, day in enumerate(returns.index):
        cost = 0.0
        k = pos.get(day)
        if k is not None:
            target = tgt[k]
            traded = np.abs(target - w).sum()
            turnover[k] = 0.5 * traded
            cost = cost_bps * 1e-4 * traded
            w = target.copy()
        elif not drift:
            w = target.copy()
        rp = float(w @ r[t])
        port[t] = (1.0 - cost) * (1.0 + rp) - 1.0
        nav[t + 1] = nav[t] * (1.0 + port[t])
        if drift and 1.0 + rp > 0:
            w = w * (1.0 + r[t]) / (1.0 + rp)
    before = start_date if start_date is not None else returns.index[0] - pd.Timedelta(days=1)
    nav_s = pd.Series(nav, index=pd.DatetimeIndex([before, *returns.index], name="date"))
    return (nav_s, pd.Series(port, index=returns.index),
            pd.Series(turnover, index=targets.index))


def run_backtest(
    market: Market,
    strategies: str | Pipeline | Iterable[str | Pipeline],
    config: BacktestConfig | None = None,
    *,
    benchmarks: Iterable[str | Pipeline] = (),
    registry: Registry | None = None,
    progress: Progress | None = None,
    cache: MutableMapping[str, Any] | None = None,
) -> BacktestResult:
    """Backtest strategies walk-forward on the same rebalance dates.

    Parameters
    ----------
    market
        Asset and candidate returns.
    strategies
        One or more specs (or pipelines); benchmarks are just more specs, e.g. ``equal``, ``hrp``.
    config
        Backtest settings.
    benchmarks
        Further specs, run after the strategies.
    progress
        Called as ``progress(done, total, label)`` after every rebalance of every strategy.
    cache
        Stage outputs keyed by their deterministic keys, shared between strategies (and between
        calls when the caller keeps it); equal work is done once.

    Returns
    -------
    BacktestResult with one StrategyResult per distinct canonical spec.
    """
    config = config or BacktestConfig()
    if isinstance(strategies, (str, Pipeline)):
        strategies = [strategies]
    pipelines: dict[str, Pipeline] = {}
    for s in [*strategies, *benchmarks]:
        p = _as_pipeline(s, registry)
        pipelines.setdefault(p.spec, p)
    if not pipelines:
        raise ConfigError("no strategy to backtest")
    n = market.assets.shape[1]
    check_bounds(n, *config.bounds)
    dates = plan_dates(market, pipelines.values(), config)
    end = config.end if config.end is not None else market.dates[-1]
    sim_days = market.dates[(market.dates >= dates[0]) & (market.dates <= end)]
    cal_pos = market.dates.get_indexer(dates)
    last = market.dates.get_indexer([sim_days[-1]])[0]
    horizons: np.ndarray = np.diff(np.append(cal_pos, last + 1))
    prev_day = market.dates[market.dates.get_loc(sim_days[0]) - 1]
    cache = {} if cache is None else cache
    total = len(dates) * len(pipelines)
    done = 0
    out: dict[str, StrategyResult] = {}
    reselect = config.reselects(dates)
    for label, pipe in pipelines.items():
        results: list[RebalanceResult] = []
        selection: DriverSelection | None = None
        for k, tau in enumerate(dates):
            reuse = None if reselect[k] else selection
            res = pipe.run(
                market.assets, None if pipe.is_benchmark else market.candidates, tau,
                windows=config.windows, bounds=config.bounds, horizon=int(horizons[k]),
                seed=config.seed_for(tau), selection=reuse, cache=cache,
                diagnostics=config.diagnostics,
            )
            selection = res.selection if reuse is None else reuse
            results.append(res)
            done += 1
            if progress is not None:
                progress(done, total, label)
        targets = pd.DataFrame([r.weights.to_numpy() for r in results], index=dates,
                               columns=market.assets.columns)
        nav, port, turnover = simulate(market.assets.loc[sim_days], targets,
                                       cost_bps=config.cost_bps, drift=config.drift,
                                       start_date=prev_day)
        later = turnover.iloc[1:]
        metrics = performance(nav, float(later.mean()) if len(later) else 0.0)
        out[label] = StrategyResult(label=label, pipeline=pipe, nav=nav, returns=port,
                                    weights=targets, turnover=turnover,
                                    rebalances=tuple(results), metrics=metrics)
    return BacktestResult(config=config, dates=dates, strategies=out)
