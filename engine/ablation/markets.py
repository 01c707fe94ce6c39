"""Markets as a grid axis: synthetic seeds and generator settings, or stationary-bootstrap replicas.

An ablation can run every combination on several markets, so that its statistics say how sure they
are (``docs/evidence.md``). :class:`MarketGrid` describes them with one vocabulary across the CLI,
the grid file's ``[market]`` table and Python:

==================  ============================================  ==================================
key                 CLI                                           meaning
==================  ============================================  ==================================
``synthetic``       ``--synthetic 0:20`` / ``0,3,7`` / ``5``      seeds of the built-in market
``synthetic_param`` ``--synthetic-param n_assets=14,60``          any ``synthetic_market`` argument
                                                                  (each list an axis)
``resample``        ``--resample stationary``                     Politis-Romano stationary
                                                                  bootstrap of the given data
``replicas``        ``--replicas 20``                             replicas, replica 0 = the data
``block_days``      ``--block-days 20``                           mean block length, trading days
``allow_few_       ``--allow-few-replicas``                      accept fewer than 20 replicas
replicas``                                                        (recorded in ``study.json``)
==================  ============================================  ==================================

Market ids are readable and stable: ``seed=3``, ``n_assets=60,seed=3``, ``replica=7``, ``data``.
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from ..checks import check_seed, shorten
from ..defaults import DEFAULT_REPLICAS, MIN_REPLICAS, RESAMPLERS
from ..errors import ConfigError
from ..stages import fingerprint

MARKET_KEYS = ("synthetic", "synthetic_param", "resample", "replicas", "block_days", "seed",
               "allow_few_replicas")
"""Keys of the grid file's ``[market]`` table (the CLI options without ``--``)."""

MAX_MARKETS = 1_000_000
"""Most markets a study may describe, checked before a seed range is expanded (the study itself
is bounded by ``max_combinations``: markets x combinations, see :func:`count_markets`)."""


def _synthetic_signature() -> dict[str, inspect.Parameter]:
    from ..data.synthetic import synthetic_market

    return {k: p for k, p in inspect.signature(synthetic_market).parameters.items()
            if k != "seed"}


def parse_seeds(text: Any) -> tuple[int, ...]:
    """Seeds of ``--synthetic``: ``5``, ``0,3,7`` or a range ``0:20`` (0..19, end excluded).

    Also accepts an int or a list of ints (grid file). Raises :class:`ConfigError` on an empty or
    decreasing range, a non-integer or a repeated seed.
    """
    if isinstance(text, bool):
        raise ConfigError(f"--synthetic takes seeds (5, 0,3,7 or 0:20), got {text!r}")
    if isinstance(text, (int, np.integer)):
        seeds = [int(text)]
    elif isinstance(text, (list, tuple)):
        seeds = [s for item in text  # plain ints directly: a list may hold many seeds
                 for s in ((item,) if type(item) is int else parse_seeds(item))]
    else:
        s = str(text).strip()
        try:
            parts = [int(p) for p in s.split(":" if ":" in s else ",")]
        except ValueError:
            parts = []
        if not parts or (":" in s and len(parts) != 2):
            raise ConfigError(f"--synthetic takes seeds: 5, a list 0,3,7 or a range 0:20; got "
                              f"{shorten(repr(s))}")
        if ":" in s:
            lo, hi = parts
            if hi <= lo:
                raise ConfigError(f"--synthetic {s}: the range is empty; write START:STOP with "
                                  f"STOP > START (e.g. {lo}:{lo + 20} for seeds "
                                  f"{lo}..{lo + 19})")
            if hi - lo > MAX_MARKETS:
                raise ConfigError(f"--synthetic {s}: {hi - lo:,} seeds, more markets than a "
                                  f"study may have ({MAX_MARKETS:,}); give fewer seeds")
            parts = list(range(lo, hi))
        seeds = parts
    if not seeds:
        raise ConfigError("--synthetic needs at least one seed")
    if any(x < 0 for x in seeds):
        raise ConfigError(f"--synthetic: seeds must be >= 0, got {shorten(repr(text))}")
    for x in (min(seeds), max(seeds)):
        check_seed(x, "--synthetic: a seed")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--synthetic: seed repeated in {shorten(repr(text))}")
    return tuple(seeds)


def _coerce_param(name: str, value: Any, default: Any) -> Any:
    kind = type(default)
    text = str(value).strip()
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text.lower() in ("true", "false", "1", "0", "yes", "no"):
            return text.lower() in ("true", "1", "yes")
        raise ConfigError(f"--synthetic-param {name} takes true/false, got {value!r}")
    if kind is int or (default is None and name.startswith("n_")):
        try:
            f = float(value)
        except (TypeError, ValueError):
            f = math.nan
        if isinstance(value, bool) or not math.isfinite(f) or f != int(f):
            raise ConfigError(f"--synthetic-param {name} takes integers, got {value!r}")
        return int(f)
    if kind is float:
        try:
            f = float(value)
        except (TypeError, ValueError):
            f = math.nan
        if isinstance(value, bool) or not math.isfinite(f):
            raise ConfigError(f"--synthetic-param {name} takes numbers, got {value!r}")
        return f
    return text


def parse_synthetic_params(items: Mapping[str, Any] | Iterable[str] | None
                           ) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """``synthetic_market`` settings as axes: ``["n_assets=14,60", "beta_noise=0.1"]`` or a
    mapping ``{"n_assets": [14, 60]}`` -> ``(("n_assets", (14, 60)), ("beta_noise", (0.1,)))``.

    Unknown names are errors naming the closest parameter; values are coerced to the parameter's
    type (the generator validates their range).
    """
    if not items:
        return ()
    sig = _synthetic_signature()
    pairs: list[tuple[str, Any]] = []
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        for item in items:
            name, sep, vals = str(item).partition("=")
            if not sep or not name.strip() or not vals.strip():
                raise ConfigError(f"--synthetic-param takes NAME=V[,V...], got {item!r}")
            pairs.append((name.strip(), [v.strip() for v in vals.split(",")]))
    out: dict[str, tuple[Any, ...]] = {}
    for name, vals in pairs:
        if name == "seed":
            raise ConfigError("--synthetic-param seed: give the seeds with --synthetic "
                              "(e.g. --synthetic 0:20)")
        if name not in sig:
            close = difflib.get_close_matches(name, sorted(sig), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--synthetic-param: synthetic_market has no parameter {name!r}"
                              f"{hint} (parameters: {', '.join(sorted(sig))})")
        if name in out:
            raise ConfigError(f"--synthetic-param {name} given twice; list its values once "
                              f"({name}=V1,V2)")
        values = list(vals) if isinstance(vals, (list, tuple)) else [vals]
        if not values or any(str(v).strip() == "" for v in values):
            raise ConfigError(f"--synthetic-param {name}: empty value")
        coerced: list[Any] = []
        for v in values:
            c = _coerce_param(name, v, sig[name].default)
            if c not in coerced:
                coerced.append(c)
        out[name] = tuple(coerced)
    return tuple(out.items())


def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"--{name.replace('_', '-')} must be an integer >= 1, got {value!r}")
    return int(value)


def check_replicas(replicas: int | None, allow_few: bool = False) -> None:
    """Refuse fewer than :data:`~causalfolio.defaults.MIN_REPLICAS` bootstrap replicas unless
    ``allow_few`` (``--allow-few-replicas``)."""
    if replicas is not None and replicas < MIN_REPLICAS and not allow_few:
        raise ConfigError(
            f"--replicas {replicas}: fewer than {MIN_REPLICAS} bootstrap replicas; their spread "
            f"is the standard error of every interval and p-value of the study, and {replicas} "
            f"draws estimate it too roughly for a 95% interval; use --replicas {MIN_REPLICAS} "
            "or more, or --allow-few-replicas to accept it (recorded in study.json)")


def resample_indices(n: int, block_days: float, seed: int, replica: int) -> np.ndarray:
    """Row indices of one stationary-bootstrap replica of ``n`` days (``arch.bootstrap``).

    Replica 0 is the identity (the original path); replica ``r >= 1`` draws from
    ``StationaryBootstrap(block_days)`` seeded with ``(seed, r)``, so a replica does not depend on
    how many were asked for.
    """
    if replica == 0:
        return np.arange(n)
    from arch.bootstrap import StationaryBootstrap

    bs = StationaryBootstrap(block_days, np.arange(n), seed=np.random.default_rng([seed, replica]))
    return np.asarray(bs.update_indices(), dtype=int)


def resample_market(market: Any, idx: np.ndarray) -> Any:
    """The market whose day ``t`` holds the returns of day ``idx[t]`` for assets *and* candidates
    jointly (one draw of days for both), on the original calendar."""
    from ..data import Market

    a = pd.DataFrame(market.assets.to_numpy()[idx], index=market.assets.index,
                     columns=market.assets.columns)
    c = pd.DataFrame(market.candidates.to_numpy()[idx], index=market.candidates.index,
                     columns=market.candidates.columns)
    return Market(a, c)


def default_block_days(market: Any) -> int:
    """The automatic mean block length of the stationary bootstrap, in days: the rule every test
    of the study shares (:func:`causalfolio.evidence.auto_block_days`: Politis-White on the
    assets' returns and squared returns, the larger)."""
    from ..evidence import auto_block_days

    return auto_block_days(market.assets.to_numpy())


@attrs.frozen(kw_only=True)
class MarketGrid:
    """The markets of a study: synthetic seeds x generator settings, or bootstrap replicas.

    Attributes
    ----------
    synthetic
        Seeds of :func:`~causalfolio.data.synthetic_market` (``None`` with ``data``).
    synthetic_param
        ``(name, values)`` axes of other ``synthetic_market`` arguments, crossed with the seeds.
    data
        A :class:`~causalfolio.data.Market` (real data) when not synthetic.
    resample
        ``"stationary"`` to replicate ``data`` by the stationary bootstrap, or ``None``.
    replicas
        Number of replicas including replica 0 (the data itself); default 20.
    block_days
        Mean block length of the bootstrap, trading days (default: Politis-White automatic).
    seed
        Seed of the bootstrap draws.
    allow_few_replicas
        Accept ``replicas`` below :data:`~causalfolio.defaults.MIN_REPLICAS` (20): the spread
        of the replicas is every interval's standard error, and with fewer than 20 it is too
        noisy for a 95% interval. Recorded in ``study.json`` when set.
    """

    synthetic: tuple[int, ...] | None = None
    synthetic_param: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    data: Any = attrs.field(default=None, eq=False, repr=False)
    resample: str | None = None
    replicas: int | None = None
    block_days: int | None = None
    seed: int = 0
    allow_few_replicas: bool = False

    def __attrs_post_init__(self) -> None:
        if self.synthetic is not None and self.data is not None:
            raise ConfigError("give either synthetic seeds or data, not both")
        if self.synthetic is None and self.data is None:
            raise ConfigError("give the data: --assets FILE --drivers FILE, or --synthetic SEEDS")
        if self.resample is not None:
            if self.synthetic is not None:
                raise ConfigError("--resample replicates real data; with --synthetic give more "
                                  "seeds instead (e.g. --synthetic 0:20)")
            if self.resample not in RESAMPLERS:
                raise ConfigError(f"unknown --resample {self.resample!r}; use "
                                  f"{', '.join(RESAMPLERS)}")
        elif self.replicas is not None or self.block_days is not None:
            raise ConfigError("--replicas and --block-days need --resample stationary")
        elif self.allow_few_replicas:
            raise ConfigError("--allow-few-replicas needs --resample stationary")
        if self.synthetic_param and self.synthetic is None:
            raise ConfigError("--synthetic-param needs --synthetic SEEDS")
        _positive("replicas", self.replicas)
        _positive("block_days", self.block_days)
        check_seed(self.seed, "[market] seed (of the bootstrap draws)")
        check_replicas(self.replicas, self.allow_few_replicas)

    def size(self) -> int:
        """The number of markets, counted without building any (see :func:`count_markets`)."""
        return count_markets(synthetic=self.synthetic, synthetic_param=self.synthetic_param,
                             resample=self.resample, replicas=self.replicas)

    @classmethod
    def from_options(cls, *, synthetic: Any = None,
                     synthetic_param: Mapping[str, Any] | Sequence[str] | None = None,
                     data: Any = None, resample: str | None = None, replicas: int | None = None,
                     block_days: int | None = None, seed: int = 0,
                     allow_few_replicas: bool = False) -> MarketGrid:
        """Build from CLI/grid-file values (strings or lists), validating each."""
        if not isinstance(allow_few_replicas, bool):
            raise ConfigError(f"allow_few_replicas takes true or false, got "
                              f"{allow_few_replicas!r}")
        return cls(synthetic=None if synthetic is None else parse_seeds(synthetic),
                   synthetic_param=parse_synthetic_params(synthetic_param), data=data,
                   resample=resample, replicas=replicas, block_days=block_days, seed=seed,
                   allow_few_replicas=allow_few_replicas)

    def _cells(self) -> list[tuple[str, dict[str, Any]]]:
        if self.synthetic is not None:
            names = [n for n, _ in self.synthetic_param]
            shown = [n for n, v in self.synthetic_param if len(v) > 1]
            cells = []
            for vals in itertools.product(*(v for _, v in self.synthetic_param), self.synthetic):
                params = dict(zip([*names, "seed"], vals, strict=True))
                mid = ",".join(f"{k}={params[k]}" for k in [*shown, "seed"])
                cells.append((mid, params))
            return cells
        if self.resample is None:
            return [("data", {})]
        block = self.block_days or default_block_days(self.data)
        return [(f"replica={r}", {"replica": r, "block_days": block, "resample": self.resample})
                for r in range(self.replicas or DEFAULT_REPLICAS)]

    def params(self) -> dict[str, dict[str, Any]]:
        """Market id -> its parameters (the ``market.*`` columns of the results)."""
        return dict(self._cells())

    def markets(self) -> dict[str, Any]:
        """Market id -> :class:`~causalfolio.data.Market`, in grid order."""
        from ..data import synthetic_market

        out: dict[str, Any] = {}
        for mid, params in self._cells():
            if self.synthetic is not None:
                try:
                    out[mid] = synthetic_market(**params)
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"synthetic market {mid}: {exc}") from None
            elif self.resample is None:
                out[mid] = self.data
            else:
                idx = resample_indices(len(self.data.dates), params["block_days"], self.seed,
                                       params["replica"])
                out[mid] = resample_market(self.data, idx)
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON-ready settings (written to ``study.json`` and ``evidence.json``)."""
        d: dict[str, Any] = {}
        if self.synthetic is not None:
            d["synthetic"] = list(self.synthetic)
            if self.synthetic_param:
                d["synthetic_param"] = {k: list(v) for k, v in self.synthetic_param}
        else:
            d["data"] = fingerprint(self.data.assets, self.data.candidates)
        if self.resample is not None:
            cells = self._cells()
            d.update(resample=self.resample, replicas=len(cells),
                     block_days=cells[0][1]["block_days"], seed=self.seed)
            if self.allow_few_replicas:
                d["allow_few_replicas"] = True
        return d


def count_markets(*, synthetic: Any = None, synthetic_param: Any = None,
                  resample: str | None = None, replicas: int | None = None,
                  **_: Any) -> int:
    """How many markets the options of :meth:`MarketGrid.from_options` describe, without
    building any: seeds x the values of every ``synthetic_param`` axis, the bootstrap replicas,
    or 1 (the data). A study runs markets x combinations backtests; :func:`check_study_size`
    bounds that product."""
    if synthetic is not None:
        n = len(synthetic) if isinstance(synthetic, tuple) else len(parse_seeds(synthetic))
        axes = (synthetic_param if isinstance(synthetic_param, tuple)
                else parse_synthetic_params(synthetic_param))
        return n * math.prod(len(v) for _, v in axes)
    if resample is not None:
        r = _positive("replicas", replicas)
        return DEFAULT_REPLICAS if r is None else r
    return 1


def check_study_size(n_markets: int, n_combinations: int, max_combinations: int | None) -> int:
    """Refuse (:class:`ConfigError`, exit status 2) a study of more backtests (markets x
    combinations) than ``max_combinations`` (``None``: the default 10,000), before any market is
    built; returns the number of backtests."""
    from ..spec.expand import check_limit

    total = n_markets * n_combinations
    check_limit(total, max_combinations, "the study",
                f" (backtests: {n_markets:,} market{'s' if n_markets != 1 else ''} x "
                f"{n_combinations:,} combinations)")
    return total


def market_table(doc: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate a grid file's ``[market]`` table; returns :meth:`MarketGrid.from_options`
    keyword arguments (without ``data``)."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where}: [market] must be a table")
    unknown = set(doc) - set(MARKET_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} in [market]; keys are "
                          f"{', '.join(MARKET_KEYS)}")
    out = dict(doc)
    sp = out.get("synthetic_param")
    if sp is not None and not isinstance(sp, Mapping):
        raise ConfigError(f"{where}: [market] synthetic_param must be a table, e.g. "
                          "synthetic_param = {n_assets = [14, 60]}")
    return out


def market_options_from_toml(path: Any) -> dict[str, Any]:
    """The ``[market]`` table of a grid file as :meth:`MarketGrid.from_options` arguments
    (empty when the file has none; the file itself is validated by ``Grid.from_toml``)::

        [market]
        synthetic = "0:20"                  # or [0, 3, 7] or 5
        synthetic_param = {n_assets = [14, 60], beta_noise = 0.25}
        # resample = "stationary"; replicas = 20; block_days = 20   (real data)
    """
    from pathlib import Path

    import tomllib

    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not a valid TOML grid file ({exc})") from None
    table = doc.get("market")
    return {} if table is None else market_table(table, str(p))


def as_markets(market: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """Normalise :func:`~causalfolio.ablation.run_ablation`'s ``market`` argument.

    Accepts a :class:`~causalfolio.data.Market` (one market: id ``seed=S`` when synthetic, else
    ``data``), a mapping id -> Market, or a :class:`MarketGrid`. Returns (markets, params per
    market, JSON description).
    """
    if isinstance(market, MarketGrid):
        return market.markets(), market.params(), market.to_json()
    if isinstance(market, Mapping):
        if not market:
            raise ConfigError("no market given (empty mapping)")
        markets = {}
        for k, v in market.items():
            if not isinstance(k, str) or not k.strip():
                raise ConfigError(f"market ids must be non-empty strings, got {k!r}")
            if not hasattr(v, "assets") or not hasattr(v, "candidates"):
                raise ConfigError(f"market {k!r} is not a causalfolio Market")
            markets[k] = v
        params = {k: _truth_params(v) for k, v in markets.items()}
        return markets, params, {"markets": list(markets)}
    if not hasattr(market, "assets") or not hasattr(market, "candidates"):
        raise ConfigError("market must be a causalfolio Market, a mapping id -> Market or a "
                          "MarketGrid")
    params = _truth_params(market)
    mid = f"seed={params['seed']}" if "seed" in params else "data"
    return {mid: market}, {mid: params}, {"markets": [mid]}


def _truth_params(market: Any) -> dict[str, Any]:
    truth = getattr(market, "truth", None)
    params = getattr(truth, "params", None)
    if isinstance(params, Mapping) and "seed" in params:
        return {"seed": params["seed"]}
    return {}
