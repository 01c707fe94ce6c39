"""The walk-forward backtester: weights at each rebalance date from data strictly before it."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import attrs
import numpy as np
import pandas as pd

from .. import display
from ..constraints import refusal
from ..data.market import Market
from ..errors import CausalfolioError, CollinearDriversWarning, ConfigError, DataError
from ..pipeline import Pipeline, RebalanceResult, parse_spec
from ..registry import Registry
from ..stages import DriverSelection
from ..weights import check_bounds
from .accounting import Book
from .collinearity import collinear, describe, selected_vif
from .config import BacktestConfig
from .inputs import check_assets, daily_risk_free
from .metrics import METRICS, performance
from .oos import out_of_sample
from .schedule import rebalance_dates
from .universe import Universe

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
        Target weights at each rebalance date (dates x assets; 0 for assets outside the
        investable set).
    turnover
        One-way turnover sum |w_new - w_drifted| / 2 at each rebalance (the first from cash).
    rebalances
        Per-rebalance results: selected drivers, sensitivities, distance matrix, weights.
    metrics
        See :func:`causalfolio.backtest.metrics.performance`.
    universe
        Per rebalance: the date, the numbers of investable assets and pool candidates, the
        assets that entered and left the investable set, the bounds used and whether they were
        relaxed, and the cash weight before trading.
    ruined_on
        The day the portfolio lost everything (its NAV is 0 from then on, with a
        :class:`~causalfolio.errors.RuinWarning`), or ``None``.
    oos
        Per rebalance: predicted against realised risk over the holding period, turnover, the
        cluster tree's stability and (synthetic markets) the sensitivity error
        (:func:`causalfolio.backtest.oos.out_of_sample`).
    market, config
        The market and settings the strategy ran on (kept by ``run_backtest`` for
        :meth:`to_skfolio`; None for a strategy built otherwise).
    """

    label: str
    pipeline: Pipeline
    nav: pd.Series
    returns: pd.Series
    weights: pd.DataFrame
    turnover: pd.Series
    rebalances: tuple[RebalanceResult, ...]
    metrics: dict[str, float]
    universe: tuple[dict[str, Any], ...] = ()
    ruined_on: pd.Timestamp | None = None
    oos: pd.DataFrame | None = None
    market: Market | None = attrs.field(default=None, repr=False)
    config: BacktestConfig | None = attrs.field(default=None, repr=False)

    def to_skfolio(self, market: Market | None = None, config: BacktestConfig | None = None,
                   **portfolio_params: Any) -> Any:
        """This strategy as a skfolio ``MultiPeriodPortfolio`` (one ``Portfolio`` per holding
        period) whose returns are the backtest's returns after costs; see
        :func:`causalfolio.backtest.skfolio_view.strategy_to_skfolio`."""
        from .skfolio_view import strategy_to_skfolio

        return strategy_to_skfolio(self, market, config, **portfolio_params)

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

    def to_skfolio(self, market: Market | None = None, **portfolio_params: Any) -> Any:
        """Every strategy as a skfolio ``Population`` of ``MultiPeriodPortfolio`` (run order),
        their returns the backtest's returns after costs, so that skfolio's measures and plots
        work on the run; see :func:`causalfolio.backtest.skfolio_view.strategy_to_skfolio`."""
        from .skfolio_view import backtest_to_skfolio

        return backtest_to_skfolio(self.strategies, market, self.config, **portfolio_params)


def _as_pipeline(strategy: str | Pipeline, registry: Registry | None) -> Pipeline:
    return strategy if isinstance(strategy, Pipeline) else parse_spec(strategy, registry)


def plan_dates(market: Market, pipelines: Iterable[Pipeline], config: BacktestConfig
               ) -> pd.DatetimeIndex:
    """Rebalance dates with enough history for every pipeline (for ``schedule='drift'``: every
    trading day that could be one; the first is the first rebalance).

    With a changing universe, leading dates where no asset is investable (or, for full pipelines,
    no candidate is in the pool) are skipped. Raises :class:`DataError` when an explicit ``start``
    lacks history, or no date is left.
    """
    pipelines = list(pipelines)
    need = _need(pipelines, config)
    cal = market.dates
    schedule = "weekly" if config.schedule == "drift" else config.schedule
    dates = rebalance_dates(cal, schedule, start=config.start, end=config.end)
    if config.schedule == "drift":
        lo_d = config.start if config.start is not None else cal[0]
        hi_d = config.end if config.end is not None else cal[-1]
        dates = cal[(cal >= lo_d) & (cal <= hi_d) & (cal > cal[0])]
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
    universe = Universe(market.assets, market.candidates, need)
    if not universe.fixed and len(dates):
        full = any(not p.is_benchmark for p in pipelines)
        pos = cal.get_indexer(dates)
        for k, p in enumerate(pos):
            pool = universe.pool(p)
            if universe.investable(p).any() and (not full or pool is None or pool.any()):
                dates = dates[k:]
                break
        else:
            dates = dates[:0]
    if len(dates) == 0:
        raise DataError(f"no rebalance date between {lo} and {hi} has the {need} trading days "
                        f"of history the windows need (the first date with enough is "
                        f"{earliest.date()}); move --end later or shorten the windows")
    return dates


def _need(pipelines: Iterable[Pipeline], config: BacktestConfig) -> int:
    return max(max(2, p.required_history(config.windows)) for p in pipelines)


def simulate(
    returns: pd.DataFrame, targets: pd.DataFrame, *, cost_bps: float | np.ndarray = 0.0,
    drift: bool = True, start_value: float = 100.0, start_date: pd.Timestamp | None = None,
    risk_free: np.ndarray | float = 0.0, fixed_cost: float = 0.0, band: float = 0.0,
    turnover_cap: float | None = None, delisting_return: np.ndarray | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Hold target weights from each rebalance date to the next (see
    :mod:`causalfolio.backtest.accounting` for the rules).

    Parameters
    ----------
    returns
        Daily asset returns (D, N) from the first rebalance date on; NaN where an asset has no
        price (outside its life).
    targets
        Target weights (rebalance dates x N); a target set at tau earns tau's return.
    cost_bps
        Cost in basis points of traded value, charged at the rebalance: a scalar or (N,).
    drift
        Weights drift with prices between rebalances; if False they are reset daily.
    start_value, start_date
        NAV before the first return and its date (default: the day before the first return;
        the backtester passes the previous trading day).
    risk_free
        Daily return of cash: a scalar or (D,).
    fixed_cost, band, turnover_cap, delisting_return
        See :class:`causalfolio.backtest.accounting.Book`.

    Returns
    -------
    nav, portfolio returns (after costs), one-way turnover per rebalance.
    """
    r = np.array(returns.to_numpy(float), dtype=float, order="C")  # one layout: bit-stable
    tgt = targets.reindex(columns=returns.columns).to_numpy(float)
    pos = {d: k for k, d in enumerate(targets.index)}
    rf = np.broadcast_to(np.asarray(risk_free, dtype=float), (len(r),))
    book = Book(n=r.shape[1], cost_bps=cost_bps, fixed_cost=fixed_cost, band=band,
                turnover_cap=turnover_cap, drift=drift, delisting_return=delisting_return,
                nav=start_value)
    nav = np.empty(len(r) + 1)
    nav[0] = start_value
    port = np.empty(len(r))
    turnover = np.zeros(len(targets))
    for t, day in enumerate(returns.index):
        k = pos.get(day)
        port[t], to = book.step(r[t], float(rf[t]), None if k is None else tgt[k])
        if k is not None:
            turnover[k] = to
        nav[t + 1] = nav[t] * (1.0 + port[t])
    before = start_date if start_date is not None else returns.index[0] - pd.Timedelta(days=1)
    nav_s = pd.Series(nav, index=pd.DatetimeIndex([before, *returns.index], name="date"))
    return (nav_s, pd.Series(port, index=returns.index),
            pd.Series(turnover, index=targets.index))


def check_investable(n: int, day: pd.Timestamp) -> None:
    """Raise :class:`DataError` when no asset is investable at a rebalance (every one delisted
    or without a full window of history): no bound, relaxed or not, can hold for none."""
    if n == 0:
        raise DataError(f"on {pd.Timestamp(day).date()}: no asset is investable (none has a "
                        "price on that date and a full window of history before it); end the "
                        "backtest earlier (--end) or give data covering it")


def warn_ruin(label: str, day: pd.Timestamp) -> None:
    """Emit the :class:`~causalfolio.errors.RuinWarning` of a strategy that lost everything."""
    import warnings

    from ..errors import RuinWarning

    warnings.warn(f"{label} lost everything on {day.date()}: its NAV is 0 from then on (total "
                  "return -100%); its costs, leverage or short positions exceed what it holds",
                  RuinWarning, stacklevel=3)


def _per_asset(config: BacktestConfig, market: Market) -> tuple[float | np.ndarray, np.ndarray]:
    """Cost per asset (bps, scalar when uniform) and delisting return per asset, checked."""
    cols = market.assets.columns
    costs: float | np.ndarray = config.cost_bps  # type: ignore[assignment]
    if config.asset_costs is not None:
        check_assets(config.asset_costs, cols, what="per-asset costs")
        missing = [a for a in cols if a not in config.asset_costs]
        if missing:
            raise DataError(f"the per-asset costs give no cost for assets {missing[:5]}; give "
                            "a cost for every asset")
        costs = np.array([config.asset_costs[a] for a in cols], dtype=float)
    delist = np.zeros(len(cols))
    if config.delistings is not None:
        check_assets(config.delistings, cols, what="delisting returns")
        for i, a in enumerate(cols):
            if a not in config.delistings:
                continue
            value, date = config.delistings[a]
            last = market.assets[a].last_valid_index()
            if date is not None and last is not None and date <= last:
                raise DataError(f"the delisting return of {a!r} is dated {date.date()} but the "
                                f"asset has prices until {last.date()}; date it after its "
                                "last price or leave the date out")
            delist[i] = value
    return costs, delist


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
        Asset and candidate returns; NaN outside a series' life (a changing universe: at each
        rebalance the strategies invest in the assets with a full window of history and a
        price on the date, and select drivers among the candidates with a full window).
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
    need = _need(pipelines.values(), config)
    universe = Universe(market.assets, market.candidates, need)
    dates = plan_dates(market, pipelines.values(), config)
    drift_schedule = config.schedule == "drift"
    cal = market.dates
    end = config.end if config.end is not None else cal[-1]
    sim_days = cal[(cal >= dates[0]) & (cal <= end)]
    first = cal.get_loc(sim_days[0])
    prev_day = cal[first - 1]
    sched = dates[:1] if drift_schedule else dates
    # the constraints are checked for every scheduled date before any work is done
    limits = config.constraints
    limits.check_assets(list(market.assets.columns), "the asset data")
    all_names = market.assets.columns
    if universe.fixed and limits.scalar and limits.bounds_policy == "error":
        # uniform bounds on a fixed universe: the same at every date, so the error names none
        check_bounds(len(all_names), limits.min_weight, limits.max_weight)  # type: ignore[arg-type]
    for tau, p in zip(sched, cal.get_indexer(sched), strict=True):
        inv = universe.investable(p)
        check_investable(int(inv.sum()), tau)
        limits.resolve(tuple(all_names[inv]), tau)
    for pipe in pipelines.values() if limits.linear else ():
        if not pipe.mapping.group_constraints:
            raise ConfigError(refusal(pipe.mapping.name, [c.text for c in limits.linear]))
    costs, delist = _per_asset(config, market)
    rf_src = config.risk_free_series
    rf = daily_risk_free(rf_src if rf_src is not None else float(config.risk_free), sim_days,
                         source=str(config.risk_free) if isinstance(config.risk_free, str)
                         else "")
    r = np.array(market.assets.loc[sim_days].to_numpy(float), dtype=float, order="C")
    sched_pos = {d: k for k, d in enumerate(sched)}
    horizons: np.ndarray | None = None
    if not drift_schedule:
        cal_pos = cal.get_indexer(dates)
        horizons = np.diff(np.append(cal_pos, cal.get_indexer([sim_days[-1]])[0] + 1))
    cache = {} if cache is None else cache
    total = len(dates) * len(pipelines) if not drift_schedule else len(pipelines)
    done = 0
    out: dict[str, StrategyResult] = {}
    names = market.assets.columns
    reselect = config.reselects(dates)
    for label, pipe in pipelines.items():
        results: list[RebalanceResult] = []
        records: list[dict[str, Any]] = []
        rebal_days: list[pd.Timestamp] = []
        rebal_turnover: list[float] = []
        targets: list[np.ndarray] = []
        selection = None
        flagged: list[tuple[str, list[tuple[str, float]]]] = []  # near-collinear selections
        selections = 0
        book = Book(n=len(names), cost_bps=costs, fixed_cost=config.fixed_cost,
                    band=config.band, turnover_cap=config.turnover_cap, drift=config.drift,
                    delisting_return=delist)
        nav = np.empty(len(sim_days) + 1)
        nav[0] = book.nav
        port = np.empty(len(sim_days))
        prev_inv: np.ndarray | None = None
        trigger = False
        for t, day in enumerate(sim_days):
            target = None
            k = len(results)
            if (day in sched_pos) if not drift_schedule else (k == 0 or trigger):
                pos = first + t
                inv = universe.investable(pos)
                pool = universe.pool(pos)
                if drift_schedule:
                    again = k == 0 or k % config.reselect_every == 0 or (
                        config.reselect_dates is not None and any(
                            rebal_days[-1] < d <= day for d in config.reselect_dates))
                else:
                    again = reselect[sched_pos[day]]
                reuse: DriverSelection | None = None if again else selection
                if reuse is not None and pool is not None:
                    live = set(market.candidates.columns[pool])
                    if not set(reuse.names) <= live:  # a selected driver left: select again
                        reuse = None
                n_inv = int(inv.sum())
                check_investable(n_inv, day)
                at = limits.resolve(tuple(names[inv]), day)
                horizon = 21 if horizons is None else int(horizons[sched_pos[day]])
                a_win = market.assets.iloc[pos - need:pos]
                if not inv.all():
                    a_win = a_win.loc[:, inv]
                c_win = None
                if not pipe.is_benchmark:
                    c_win = market.candidates.iloc[pos - need:pos]
                    if pool is not None:
                        c_win = c_win.loc[:, pool]
                res = pipe.run(a_win, c_win, day, driver_window=config.driver_window,
                               train_window=config.train_window, cov_window=config.cov_window,
                               constraints=limits, horizon=horizon,
                               seed=config.seed_for(day), selection=reuse, cache=cache,
                               diagnostics=config.diagnostics)
                selection = res.selection if reuse is None else reuse
                target = np.zeros(len(names))
                target[inv] = res.weights.to_numpy()
                results.append(res)
                rec: dict[str, Any] = {
                    "date": day, "assets": n_inv,
                    "candidates": int(pool.sum()) if pool is not None
                    else market.candidates.shape[1],
                    "bounds": list(at.bounds), "bounds_relaxed": at.relaxed,
                    "cash_before": book.cash if k else 1.0,
                }
                if reuse is None and c_win is not None and res.selection is not None:
                    vif = selected_vif(c_win, res.selection.names, config.driver_window)
                    if vif:
                        rec["vif"] = vif
                        if near := collinear(vif):
                            flagged.append((str(day.date()), near))
                    selections += 1
                if prev_inv is not None and not universe.fixed:
                    rec["entered"] = list(names[inv & ~prev_inv])
                    rec["left"] = list(names[prev_inv & ~inv])
                records.append(rec)
                prev_inv = inv
                rebal_days.append(day)
                targets.append(target)
                done += 1
                if progress is not None:
                    progress(done, max(total, done), label)
            port[t], to = book.step(r[t], float(rf[t]), target)
            if to is not None:
                rebal_turnover.append(to)
            nav[t + 1] = nav[t] * (1.0 + port[t])
            if drift_schedule:
                trigger = book.drifted_beyond(targets[-1], config.drift_threshold)
        if flagged:
            warnings.warn(CollinearDriversWarning(describe(label, flagged, selections)),
                          stacklevel=2)
        ruined_on = None
        if book.ruined:
            ruined_on = sim_days[int(np.argmax(nav[1:] <= 0))]
            warn_ruin(label, ruined_on)
        idx = pd.DatetimeIndex(rebal_days, name=None)
        weights = pd.DataFrame(np.array(targets), index=idx, columns=names)
        turnover = pd.Series(rebal_turnover, index=idx)
        nav_s = pd.Series(nav, index=pd.DatetimeIndex([prev_day, *sim_days], name="date"))
        later = turnover.iloc[1:]
        metrics = performance(nav_s, float(later.mean()) if len(later) else 0.0,
                              risk_free=None if not rf.any() else pd.Series(rf, sim_days),
                              gross_exposure=float(np.abs(weights.to_numpy()).sum(axis=1).mean()))
        out[label] = StrategyResult(label=label, pipeline=pipe, nav=nav_s,
                                    returns=pd.Series(port, index=sim_days), weights=weights,
                                    turnover=turnover, rebalances=tuple(results),
                                    metrics=metrics, universe=tuple(records),
                                    ruined_on=ruined_on, market=market, config=config)
    if drift_schedule:
        dates = pd.DatetimeIndex(sorted({d for s in out.values() for d in s.weights.index}))
    for label, strat in out.items():  # out-of-sample quantities (issue #21 item 2)
        cov_w = getattr(strat.pipeline.mapping, "window", None) or config.windows.cov
        out[label] = attrs.evolve(strat, oos=out_of_sample(strat, market, int(cov_w)))
    return BacktestResult(config=config, dates=dates, strategies=out)
