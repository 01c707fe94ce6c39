"""Real market data shipped inside PyPI packages (optional extra ``causalfolio[data]``).

Nothing is downloaded: the series come from files bundled in the wheels of

* **skfolio** (``skfolio.datasets``): daily adjusted prices of 20 S&P 500 stocks (1990-01-02 to
  2022-12-28), the S&P 500 index (same dates) and five iShares factor ETFs MTUM, QUAL, SIZE,
  USMV, VLUE (2014-01-02 to 2022-12-28). Only these bundled sets are used; skfolio's larger
  datasets are downloaded on first use and are never touched here.
* **arch** (``arch.data``): NASDAQ composite (1999-01-04 to 2018-12-31, adjusted close), the VIX
  index (2014-01-03 to 2019-01-03, a level: changes by ``diff``) and WTI crude spot
  (1986-01-02 to 2019-01-03, FRED DCOILWTICO; FRED holidays are blank and carried forward).

:func:`real_market` builds a :class:`~causalfolio.data.Market` of a US large-cap portfolio (14 of
the 20 stocks, one per sector where possible, as in the monograph's Table 3) with a candidate
pool of the index, factor ETFs, commodities, volatility and the 6 non-portfolio stocks, keeping
only the candidates that cover the whole requested window.

How this differs from the monograph (§9.1): about 1,200 Bloomberg series (FX spot and options,
government yields, macro indicators, credit, CDS, commodity futures, smart-beta and sector ETFs,
crypto, implied volatilities) against, here, at most 14 public series; a different set of 14
stocks; and the 2019-2022 part of the pool reduced to the index, the factor ETFs and the other
stocks because the arch series end in 2018-2019.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import attrs
import pandas as pd

from ..errors import ConfigError, DataError
from .market import Market

PORTFOLIO_US: tuple[str, ...] = ("AAPL", "MSFT", "AMD", "JPM", "BAC", "UNH", "JNJ", "PFE", "PG",
                                 "KO", "WMT", "HD", "CVX", "GE")
"""The 14-stock US portfolio (technology, financials, health care, staples, retail, energy,
industrials)."""

OTHER_STOCKS: tuple[str, ...] = ("BBY", "LLY", "MRK", "PEP", "RRC", "XOM")
"""The bundled S&P 500 stocks outside the portfolio: candidate drivers (non-portfolio stocks)."""

FACTOR_ETFS: tuple[str, ...] = ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")


@attrs.frozen
class Period:
    """A named backtest window: NAV from ``start`` to ``end`` (rebalances inside it)."""

    name: str
    start: str
    end: str
    note: str


PERIODS: dict[str, Period] = {
    p.name: p for p in (
        Period("short", "2020-06-01", "2021-12-31", "short term of §9.2 (2020-06 to 2021-12)"),
        Period("long", "2015-06-01", "2021-12-31", "long term of §9.3 (2015-06 to 2021-12)"),
        Period("two_decades", "2002-12-01", "2022-12-28",
               "two decades of §9.4 (2002-12 to 2022-12, the data ends 2022-12-28)"),
        Period("crisis", "2007-01-01", "2009-12-31",
               "2007-2009 inside the two decades: the 2008 crisis with NASDAQ and WTI in the pool"),
    )
}
"""The monograph's windows where the bundled data reaches them (SPEC §6)."""


@attrs.frozen
class SeriesInfo:
    """One bundled series: where it comes from and how it becomes a return."""

    name: str
    source: str
    description: str
    transform: str
    role: str


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pkg = module.split(".")[0]
        raise ConfigError(f"the real-data loaders need the package {pkg!r}; install the optional "
                          f"extra: pip install 'causalfolio[data]' (or pip install {pkg})"
                          ) from None


def _clean(s: pd.Series, name: str) -> pd.Series:
    s = pd.to_numeric(s, errors="coerce").astype(float)
    s.index = pd.DatetimeIndex(s.index).tz_localize(None) if getattr(
        s.index, "tz", None) else pd.DatetimeIndex(s.index)
    s = s[~s.index.duplicated()].sort_index()
    s = s.loc[s.first_valid_index():].ffill()  # blank holidays (FRED) carry the last level
    s.name = name
    return s


def load_levels() -> tuple[pd.DataFrame, dict[str, SeriesInfo]]:
    """Every bundled daily series as levels (union of calendars, NaN outside a series' range).

    Read once per process (the files are parsed and cached); a copy is returned.

    Returns
    -------
    levels
        Wide frame, dates x series: the 20 stocks, ``SP500``, the 5 factor ETFs, ``NASDAQ``,
        ``VIX``, ``WTI``.
    info
        Series name -> :class:`SeriesInfo` (source, transform to returns, role).
    """
    levels, info = _load_levels()
    return levels.copy(), dict(info)


@functools.lru_cache(maxsize=1)
def _load_levels() -> tuple[pd.DataFrame, dict[str, SeriesInfo]]:
    sk = _require("skfolio.datasets")
    stocks = sk.load_sp500_dataset()
    index = sk.load_sp500_index()
    factors = sk.load_factors_dataset()
    cols: dict[str, pd.Series] = {}
    info: dict[str, SeriesInfo] = {}
    for c in stocks.columns:
        cols[c] = _clean(stocks[c], c)
        role = "asset" if c in PORTFOLIO_US else "candidate (non-portfolio stock)"
        info[c] = SeriesInfo(c, "skfolio sp500_dataset", f"{c} adjusted close", "pct", role)
    cols["SP500"] = _clean(index.iloc[:, 0], "SP500")
    info["SP500"] = SeriesInfo("SP500", "skfolio sp500_index", "S&P 500 index", "pct",
                               "candidate (equity index)")
    for c in factors.columns:
        cols[c] = _clean(factors[c], c)
        info[c] = SeriesInfo(c, "skfolio factors_dataset", f"iShares {c} factor ETF", "pct",
                             "candidate (smart-beta factor)")
    nasdaq = _require("arch.data.nasdaq").load()
    cols["NASDAQ"] = _clean(nasdaq["Adj Close"], "NASDAQ")
    info["NASDAQ"] = SeriesInfo("NASDAQ", "arch nasdaq", "NASDAQ composite, adjusted close",
                                "pct", "candidate (equity index)")
    vix = _require("arch.data.vix").load()
    cols["VIX"] = _clean(vix.iloc[:, 0], "VIX")
    info["VIX"] = SeriesInfo("VIX", "arch vix", "CBOE VIX implied volatility (a level)", "diff",
                             "candidate (implied volatility)")
    wti = _require("arch.data.wti").load()
    cols["WTI"] = _clean(wti.iloc[:, 0], "WTI")
    info["WTI"] = SeriesInfo("WTI", "arch wti", "WTI crude oil spot, USD/bbl (FRED DCOILWTICO)",
                             "pct", "candidate (commodity)")
    levels = pd.DataFrame(cols)
    levels.index.name = "date"
    return levels, info


def real_market(
    period: str | None = "short",
    *,
    start: str | None = None,
    end: str | None = None,
    history_days: int = 260,
    assets: Sequence[str] = PORTFOLIO_US,
    candidates: Sequence[str] | None = None,
    pool: str = "full",
) -> tuple[Market, dict[str, Any]]:
    """The US portfolio and its candidate pool on a window, as a :class:`Market`.

    Parameters
    ----------
    period
        A key of :data:`PERIODS` (``short``, ``long``, ``two_decades``, ``crisis``), or ``None``
        to give ``start``/``end`` yourself.
    start, end
        Override the period's window (YYYY-MM-DD).
    history_days
        Trading days of history kept before ``start`` for the lookback windows (driver selection,
        training, covariance); 260 covers a 12-month selection window.
    assets
        Portfolio constituents (names of bundled stocks).
    candidates
        Candidate drivers; default every bundled series that is not an asset and covers the whole
        window including the history. Explicit candidates that do not cover it are an error.
    pool
        ``full``: only candidates that cover the whole window (as above); ``changing``: every
        candidate with data in the window, entering and leaving the pool as its data allows (NaN
        outside its life: the backtester selects drivers among the candidates with a full window
        of history at each rebalance). ``dropped`` then lists only candidates without any data
        in the window; ``lives`` gives each candidate's first and last date.

    Returns
    -------
    market
        Asset returns and candidate returns on the common trading days.
    facts
        ``period``, ``start``, ``end``, ``assets``, ``candidates``, ``dropped`` (candidates left
        out and why), ``sources`` (name -> source and transform): for run.json and reports.
    """
    if period is not None and period not in PERIODS:
        raise ConfigError(f"unknown period {period!r}; use one of {', '.join(PERIODS)} or None "
                          "with start and end")
    p = PERIODS[period] if period is not None else None
    start = start or (p.start if p else None)
    end = end or (p.end if p else None)
    if start is None or end is None:
        raise ConfigError("give a period or both start and end")
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if t0 >= t1:
        raise ConfigError(f"start {t0.date()} is not before end {t1.date()}")
    levels, info = load_levels()
    unknown = [a for a in assets if a not in levels.columns]
    if unknown:
        stocks = sorted([*PORTFOLIO_US, *OTHER_STOCKS])
        raise DataError(f"unknown assets {unknown}; bundled stocks are {', '.join(stocks)}")
    stock_days = levels[list(assets)].dropna(how="any").index
    before = stock_days[stock_days < t0]
    if len(before) < history_days:
        raise DataError(f"only {len(before)} trading days of asset data before {t0.date()}, "
                        f"{history_days} wanted; start later or lower history_days")
    first = before[-history_days]
    last = stock_days[stock_days <= t1][-1]
    pool_names = [c for c in levels.columns if c not in assets] if candidates is None else list(
        candidates)
    bad = [c for c in pool_names if c not in levels.columns]
    if bad:
        raise DataError(f"unknown candidates {bad}; bundled series are {', '.join(levels.columns)}")
    if pool not in ("full", "changing"):
        raise ConfigError(f"unknown pool {pool!r}; use 'full' or 'changing'")
    names = pool_names
    keep, dropped = [], {}
    lives: dict[str, list[str]] = {}
    for c in names:
        s = levels[c].dropna()
        if pool == "changing":
            inside = s.loc[(s.index >= first) & (s.index <= last)]
            if len(inside) < 3:
                dropped[c] = f"covers {s.index[0].date()} to {s.index[-1].date()}"
            else:
                keep.append(c)
                lives[c] = [str(inside.index[0].date()), str(inside.index[-1].date())]
            continue
        if s.index[0] > first or s.index[-1] < last:
            dropped[c] = f"covers {s.index[0].date()} to {s.index[-1].date()}"
        else:
            keep.append(c)
    if candidates is not None and dropped:
        raise DataError(f"candidates do not cover {first.date()} to {last.date()}: {dropped}")
    if not keep:
        raise DataError(f"no candidate covers {first.date()} to {last.date()}")
    window = levels.loc[(levels.index >= first) & (levels.index <= last)]
    a = window[list(assets)].dropna(how="any")
    c = window[keep]
    if pool == "changing":  # carry levels over other markets' holidays, inside each life only
        from .validation import lives as _lives

        c = c.ffill().where(_lives(c)).reindex(a.index)
    else:
        c = c.ffill().reindex(a.index)
    market = Market.from_frames(a, c, kind="prices",
                                transforms={k: info[k].transform for k in keep})
    facts = {"period": period, "start": str(t0.date()), "end": str(t1.date()),
             "assets": list(assets), "candidates": keep, "dropped": dropped, "pool": pool,
             **({"lives": lives} if pool == "changing" else {}),
             "sources": {k: {"source": info[k].source, "transform": info[k].transform,
                             "role": info[k].role} for k in [*assets, *keep]}}
    return market, facts
