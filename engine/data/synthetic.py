"""A synthetic market with known causal truth: the built-in default dataset and test oracle.

Data-generating process (daily, T business days)::

    d_j,t      common drivers, Student-t(5) returns with volatility ``driver_vol``
    g_j(x)     x for linear drivers; x + a (x^2 - v_j) / s_j for the nonlinear ones
    beta_t,i,j = bbar_i,j + u_t,i,j,  u_t = phi u_{t-1} + heavy-tailed shock   (mean-reverting)
    r_i,t      = sum_j beta_t,i,j g_j(d_j,t-l_j) + c_i e_i,t + eps_i,t

``l_j`` is the lag at which driver j acts (0 or 1), ``e_i`` an asset-specific driver of asset i
only, ``eps`` idiosyncratic Student-t noise. Assets are grouped in clusters whose mean
sensitivities ``bbar`` are close, so the sensitivity space has a known structure.

Candidate pool (shuffled, neutral names ``X000``...): the common drivers, proxies (a common driver
plus noise: correlated, not causal), colliders (caused by constituents: a noisy average of several
asset returns, which correlation screening favours and conditioning should reject), the
asset-specific drivers, and pure noise.

True sensitivity of asset i to input (j, l_j) at t: beta_t,i,j * g_j'(d_j,t-l_j).

Harder worlds (all off by default; the default market is unchanged bit for bit). Each is drawn
from its own random stream, so switching one on leaves every other series of the market as it was:

- ``collider_noise`` near 0: near-deterministic colliders (breaks *faithfulness*: a collider
  almost determined by its causes hides their dependence from conditional tests);
- ``n_pair_colliders``: colliders of two assets (an unshielded triple A1 -> C <- A2 has fewer
  tests to find it than a collider of half the universe);
- ``index``: the equal-weighted index of the whole universe (a deterministic common effect);
- ``n_derived``: candidates computed from same-day asset *prices* (price-weighted indices of a
  subset, price ratios of two assets): effects by construction, deterministic;
- ``n_latent``: common drivers that act on the assets but are not candidates (breaks *causal
  sufficiency*), with ``n_latent_proxies`` noisy copies of them among the candidates;
- ``shifts``: distribution shifts (module :mod:`causalfolio.data.shifts`).

``truth.roles`` gives every candidate's finer role (``common``, ``proxy``, ``latent_proxy``,
``collider``, ``pair_collider``, ``index``, ``price_weighted``, ``price_ratio``, ``spurious``,
``specific``, ``noise``); ``truth.labels`` keeps the five coarse labels.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import pandas as pd

from ..checks import check_seed
from ..errors import ParameterError
from ..resources import gib as _gib
from ..resources import memory_limit
from .market import Market
from .shifts import parse_shifts, shifts_text

LABELS = ("common", "proxy", "collider", "specific", "noise")


@attrs.frozen(kw_only=True, eq=False)  # holds arrays/frames: identity equality, hashable
class SyntheticTruth:
    """What generated a synthetic market.

    Attributes
    ----------
    labels
        Candidate name -> one of ``common``, ``proxy``, ``collider``, ``specific``, ``noise``.
    common
        Names of the true common drivers, in generation order (K).
    lags
        Common driver -> the lag (days) at which it acts on the assets.
    nonlinear
        Common drivers acting nonlinearly.
    betas
        (T, N, K) time-varying coefficients beta_t,i,j.
    sensitivities
        (T, N, K) true derivative of r_i,t with respect to d_j,t-l_j.
    mean_betas
        (N, K) the long-run levels bbar the coefficients revert to.
    clusters
        Asset -> cluster id of its mean sensitivities.
    proxy_of, collider_of, specific_of
        Proxy -> the driver it copies (a common driver, or a name in ``latent`` for a proxy of
        a latent driver); collider -> the assets it is caused by (for ``price_ratio``
        candidates: numerator, denominator; for ``spurious`` ones: the assets it tracks in its
        window); specific driver -> its asset.
    params
        The generator's arguments (the newer ones only when not at their defaults).
    roles
        Candidate name -> its finer role (see the module docstring); every candidate.
    latent
        Names (``L0``, ``L1``...) of the latent common drivers; none of them is a candidate.
    latent_loadings
        (N, L) constant sensitivities of the assets to the latent drivers (all act at lag 0,
        linearly).
    latent_paths
        (T, L) the latent drivers' returns.
    shifts
        One record per distribution shift: ``kind``, ``text``, the active ``windows`` as
        ``[first date, last date]`` pairs, ``day_ranges`` the same as ``[i0, i1)`` day
        indices, ``days`` (active day count) and what it touched
        (``drivers``, ``proxies``, ``colliders`` with their new members, ``candidates``,
        ``mean_betas``, ``clusters``).
    """

    labels: dict[str, str]
    common: tuple[str, ...]
    lags: dict[str, int]
    nonlinear: tuple[str, ...]
    betas: np.ndarray
    sensitivities: np.ndarray
    mean_betas: np.ndarray
    clusters: dict[str, int]
    proxy_of: dict[str, str]
    collider_of: dict[str, tuple[str, ...]]
    specific_of: dict[str, str]
    dates: pd.DatetimeIndex
    assets: tuple[str, ...]
    params: dict[str, Any]
    roles: dict[str, str] = attrs.field(factory=dict)
    latent: tuple[str, ...] = ()
    latent_loadings: np.ndarray = attrs.field(factory=lambda: np.zeros((0, 0)))
    latent_paths: np.ndarray = attrs.field(factory=lambda: np.zeros((0, 0)))
    shifts: tuple[dict[str, Any], ...] = ()

    def of_label(self, label: str) -> list[str]:
        """Candidate names with the given label, sorted."""
        return sorted(n for n, lab in self.labels.items() if lab == label)

    def sensitivity_frame(self, asset: str) -> pd.DataFrame:
        """True sensitivity path of one asset: dates x ``driver@lag`` inputs."""
        i = self.assets.index(asset)
        cols = [f"{d}@{self.lags[d]}" for d in self.common]
        return pd.DataFrame(self.sensitivities[:, i, :], index=self.dates, columns=cols)

    def shift_mask(self, kind: str | None = None) -> np.ndarray:
        """(T,) True on the days some shift (of ``kind``, or any) is active."""
        mask: np.ndarray = np.zeros(len(self.dates), dtype=bool)
        for ev in self.shifts:
            if kind is None or ev["kind"] == kind:
                for i0, i1 in ev["day_ranges"]:
                    mask[i0:i1] = True
        return mask

    def to_json(self) -> dict[str, Any]:
        """The scalar truth (no paths) as JSON-ready data."""
        extra: dict[str, Any] = {}
        if self.roles and any(self.roles[n] != self.labels[n] for n in self.roles):
            extra["roles"] = self.roles
        if self.latent:
            extra["latent"] = list(self.latent)
            extra["latent_loadings"] = {a: dict(zip(self.latent,
                                                    map(float, self.latent_loadings[i]),
                                                    strict=True))
                                        for i, a in enumerate(self.assets)}
        if self.shifts:
            extra["shifts"] = list(self.shifts)
        return {
            "labels": self.labels, "common": list(self.common), "lags": self.lags,
            "nonlinear": list(self.nonlinear), "clusters": self.clusters,
            "proxy_of": self.proxy_of,
            "collider_of": {k: list(v) for k, v in self.collider_of.items()},
            "specific_of": self.specific_of,
            "mean_betas": {a: dict(zip([f"{d}@{self.lags[d]}" for d in self.common],
                                       map(float, self.mean_betas[i]), strict=True))
                           for i, a in enumerate(self.assets)},
            "params": self.params,
            **extra,
        }


def _t(rng: np.random.Generator, df: float, size: Any) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, size=size) / np.sqrt(df / (df - 2.0))


_INT_PARAMS = {  # name -> smallest value
    "n_assets": 2, "n_days": 30, "n_common": 1, "n_lagged": 0, "n_nonlinear": 0, "n_proxies": 0,
    "n_colliders": 0, "n_noise": 0, "n_clusters": 1, "n_pair_colliders": 0, "n_derived": 0,
    "n_latent": 0, "n_latent_proxies": 0,
}
_FLOAT_PARAMS: dict[str, tuple[float, bool]] = {  # name -> (smallest, strict)
    "driver_vol": (0.0, True), "driver_drift": (-math.inf, False), "idio_vol": (0.0, False),
    "beta_spread": (0.0, False), "beta_persistence": (0.0, False), "beta_noise": (0.0, False),
    "proxy_noise": (0.0, False), "collider_noise": (0.0, False), "tail_df": (2.0, True),
}


def _check_params(values: dict[str, Any]) -> dict[str, Any]:
    """Validated copies of the generator's numeric and boolean arguments (ints as int, floats as
    float); raises :class:`ParameterError` naming the argument, its value and the valid range."""
    out = dict(values)
    for name, low in _INT_PARAMS.items():
        v = values[name]
        if v is None and name in ("n_lagged", "n_latent_proxies"):
            continue
        ok = not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
        if ok and not (math.isfinite(v) and float(v) == int(v)):
            ok = False
        if not ok or int(v) < low:
            raise ParameterError(f"synthetic market: {name} must be an integer >= {low}, got "
                                 f"{v!r}")
        out[name] = int(v)
    for name, (floor, strict) in _FLOAT_PARAMS.items():
        v = values[name]
        ok = not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
        if ok and (not math.isfinite(v) or v < floor or (strict and v == floor)):
            ok = False
        if not ok:
            valid = ("any finite number" if floor == -math.inf
                     else f"{'>' if strict else '>='} {floor:g}")
            raise ParameterError(f"synthetic market: {name} must be {valid}, got {v!r}")
        out[name] = float(v)
    if out["beta_persistence"] >= 1:
        raise ParameterError("synthetic market: beta_persistence must be in [0, 1), got "
                             f"{values['beta_persistence']!r}")
    for name in ("specific", "index"):
        if not isinstance(values[name], (bool, np.bool_)):
            raise ParameterError(f"synthetic market: {name} must be true or false, got "
                                 f"{values[name]!r}")
    return out


def _size_bytes(T: int, N: int, K: int, M: int) -> int:
    """Lower bound on the generator's peak memory: the (T, N, K) coefficient, shock and
    sensitivity arrays with their temporaries, the asset-level arrays and the candidate
    frame's copies, float64."""
    return 8 * T * (6 * N * K + 6 * N + 3 * M + 2 * K)


def _stream(seed: int, tag: int) -> np.random.Generator:
    """An independent random stream for one optional feature (the main stream is untouched)."""
    return np.random.default_rng([seed, tag])


def synthetic_market(
    *,
    n_assets: int = 14,
    n_days: int = 1260,
    n_common: int = 4,
    n_lagged: int | None = None,
    n_nonlinear: int = 1,
    n_proxies: int = 4,
    n_colliders: int = 2,
    n_noise: int = 30,
    n_clusters: int = 3,
    specific: bool = True,
    driver_vol: float = 0.01,
    driver_drift: float = 0.0003,
    idio_vol: float = 0.01,
    beta_spread: float = 0.6,
    beta_persistence: float = 0.98,
    beta_noise: float = 0.25,
    proxy_noise: float = 0.6,
    collider_noise: float = 0.3,
    tail_df: float = 5.0,
    start: str = "2015-01-01",
    seed: int = 0,
    n_pair_colliders: int = 0,
    index: bool = False,
    n_derived: int = 0,
    n_latent: int = 0,
    n_latent_proxies: int | None = None,
    shifts: Any = None,
) -> Market:
    """Generate a market with planted common causal drivers (see module docstring).

    Parameters
    ----------
    n_assets, n_days
        N constituents and T trading days (business days from ``start``).
    n_common
        K true common drivers; ``n_lagged`` of them act at lag 1 (default K // 2), the rest at lag
        0; ``n_nonlinear`` of them act through a quadratic response.
    n_proxies
        Noisy copies of common drivers (cycled over them); noise sd = ``proxy_noise`` x driver sd.
    n_colliders
        Series caused by constituents: average of a random half of the assets plus noise of sd
        ``collider_noise`` x that average's sd (0: deterministic).
    n_noise
        Independent noise candidates.
    n_clusters
        Groups of assets with close mean sensitivities.
    specific
        Add one asset-specific driver per asset.
    driver_vol, idio_vol
        Daily volatilities of drivers and idiosyncratic noise.
    driver_drift
        Mean daily return of the common drivers (a risk premium, so that the market rises).
    beta_spread
        Spread of assets' mean sensitivities around their cluster centre.
    beta_persistence, beta_noise
        AR(1) coefficient (daily) and stationary sd of the sensitivity deviations.
    tail_df
        Degrees of freedom of the Student-t shocks (heavy tails).
    seed
        Seed: the same arguments give the same market.
    n_pair_colliders
        Colliders of two assets: their average plus noise as for ``n_colliders``.
    index
        Add the equal-weighted index of all N assets (same-day, no noise) as a candidate.
    n_derived
        Candidates computed from same-day asset prices, alternately a price-weighted index of a
        random subset of 2..N assets and the price ratio of two assets.
    n_latent
        Common drivers (lag 0, linear, constant loadings) acting on the assets but absent from
        the candidates.
    n_latent_proxies
        Noisy copies of the latent drivers among the candidates (cycled; default one each).
    shifts
        Distribution shifts, e.g. ``"driver_vol:every=250"`` (see :mod:`causalfolio.data.shifts`).

    Raises
    ------
    ParameterError
        For an argument outside its range (named with its value), and for a market whose size
        would exceed half of this machine's memory or the calendar pandas can represent.
    """
    check_seed(seed, "synthetic market: seed")
    p = _check_params(dict(
        n_assets=n_assets, n_days=n_days, n_common=n_common, n_lagged=n_lagged,
        n_nonlinear=n_nonlinear, n_proxies=n_proxies, n_colliders=n_colliders, n_noise=n_noise,
        n_clusters=n_clusters, specific=specific, driver_vol=driver_vol,
        driver_drift=driver_drift, idio_vol=idio_vol, beta_spread=beta_spread,
        beta_persistence=beta_persistence, beta_noise=beta_noise, proxy_noise=proxy_noise,
        collider_noise=collider_noise, tail_df=tail_df, n_pair_colliders=n_pair_colliders,
        index=index, n_derived=n_derived, n_latent=n_latent,
        n_latent_proxies=n_latent_proxies))
    n_assets, n_days, n_common, n_nonlinear = (p["n_assets"], p["n_days"], p["n_common"],
                                               p["n_nonlinear"])
    n_proxies, n_colliders, n_noise, n_clusters = (p["n_proxies"], p["n_colliders"],
                                                   p["n_noise"], p["n_clusters"])
    n_pair_colliders, n_derived = p["n_pair_colliders"], p["n_derived"]
    driver_vol, driver_drift, idio_vol, tail_df = (p["driver_vol"], p["driver_drift"],
                                                   p["idio_vol"], p["tail_df"])
    beta_spread, beta_persistence, beta_noise = (p["beta_spread"], p["beta_persistence"],
                                                 p["beta_noise"])
    proxy_noise, collider_noise = p["proxy_noise"], p["collider_noise"]
    n_lagged = n_common // 2 if n_lagged is None else p["n_lagged"]
    if not 0 <= n_lagged <= n_common or not 0 <= n_nonlinear <= n_common:
        raise ParameterError("n_lagged and n_nonlinear must be between 0 and n_common")
    n_latent_proxies = p["n_latent"] if n_latent_proxies is None else p["n_latent_proxies"]
    if n_latent_proxies and not p["n_latent"]:
        raise ParameterError("synthetic market: n_latent_proxies needs latent drivers "
                             "(n_latent >= 1)")
    events = parse_shifts(shifts)
    for ev in events:
        if ev.driver is not None and ev.driver >= n_common:
            raise ParameterError(f"shift {ev.text()}: driver is an index into the common "
                                 f"drivers, 0..{n_common - 1}")
    n_spurious = sum(ev.n or 2 for ev in events if ev.kind == "spurious")
    M = (n_common + n_proxies + n_colliders + n_noise + (n_assets if specific else 0)
         + n_pair_colliders + int(bool(index)) + n_derived + n_latent_proxies + n_spurious)
    need = _size_bytes(p["n_days"], p["n_assets"], p["n_common"] + p["n_latent"], M)
    limit = memory_limit()
    if need > limit // 2:
        raise ParameterError(
            f"synthetic market: {n_assets} assets x {n_days} days x {n_common} drivers "
            f"({M} candidates) needs at least {_gib(need)}, more than half of this machine's "
            f"{_gib(limit)} of memory; use fewer days or assets")
    try:
        dates = pd.bdate_range(start=start, periods=p["n_days"], name="date")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ParameterError(f"synthetic market: {n_days} business days from {start!r} do not "
                             f"fit pandas' calendar (up to 2262) or the start is not a date "
                             f"({exc})") from None
    for ev in events:
        ev.windows(dates)  # every event inside the market, before anything is drawn
    rng = np.random.default_rng(seed)
    T, N, K = n_days, n_assets, n_common
    burn = 1  # one extra day so that lag-1 drivers have a value on the first date
    d = driver_drift + driver_vol * _t(rng, tail_df, (T + burn, K))
    d0 = d  # the unshifted drivers: proxies' noise is scaled to them
    records: list[dict[str, Any]] = []
    act: dict[int, np.ndarray] = {}  # event number -> (T,) active-day mask
    for e_no, ev in enumerate(events):
        mask: np.ndarray = np.zeros(T, dtype=bool)
        for i0, i1 in ev.windows(dates):
            mask[i0:i1] = True
        act[e_no] = mask
    if any(ev.kind in ("driver_vol", "intervention") for ev in events):
        d = d.copy()
        for e_no, ev in enumerate(events):
            if ev.kind not in ("driver_vol", "intervention"):
                continue
            rows = np.concatenate([[False], act[e_no]])  # d has one burn-in row first
            cols = (list(range(K)) if ev.kind == "driver_vol" and ev.driver is None
                    else [ev.driver if ev.driver is not None else 0])
            for j in cols:
                shock = d[rows, j] - driver_drift
                d[rows, j] = driver_drift + (ev.level or 0.0) + ev.power * shock
    lags = np.array([1 if j < n_lagged else 0 for j in range(K)])
    lags = lags[rng.permutation(K)]
    nonlin: np.ndarray = np.zeros(K, dtype=bool)
    nonlin[rng.choice(K, size=n_nonlinear, replace=False)] = True
    curv = 0.5  # g(x) = x + a (x^2 - v) / s, g'(x) = 1 + 2 a x / s
    # inputs actually acting on day t: d_j at t - l_j
    x = np.stack([d[burn - lags[j]: burn - lags[j] + T, j] for j in range(K)], axis=1)
    g = x.copy()
    gprime = np.ones_like(x)
    for jn in np.flatnonzero(nonlin):
        g[:, jn] = x[:, jn] + curv * (x[:, jn] ** 2 - driver_vol**2) / driver_vol
        gprime[:, jn] = 1.0 + 2.0 * curv * x[:, jn] / driver_vol
    # clustered mean sensitivities and mean-reverting, heavy-tailed deviations
    centres = rng.normal(0.0, 1.0, size=(n_clusters, K)) + 0.5
    cluster: np.ndarray = np.arange(N) % n_clusters
    rng.shuffle(cluster)
    bbar = centres[cluster] + beta_spread * rng.normal(0.0, 0.5, size=(N, K))
    phi = beta_persistence
    shock_sd = beta_noise * np.sqrt(1 - phi**2)
    u = np.zeros((T, N, K))
    u[0] = beta_noise * _t(rng, tail_df, (N, K))
    shocks = shock_sd * _t(rng, tail_df, (T, N, K))
    for t in range(1, T):
        u[t] = phi * u[t - 1] + shocks[t]
    betas = bbar[None] + u
    for e_no, ev in enumerate(events):
        if ev.kind != "mechanism":
            continue
        er = _stream(seed, 100 + e_no)
        alt_centres = er.normal(0.0, 1.0, size=(n_clusters, K)) + 0.5
        alt_cluster = er.permutation(cluster)
        alt = alt_centres[alt_cluster] + beta_spread * er.normal(0.0, 0.5, size=(N, K))
        betas[act[e_no]] += ev.power * (alt - bbar)[None]
        records.append({"event": e_no, "mean_betas": alt.tolist(),
                        "clusters": [int(c) for c in alt_cluster]})
    e = driver_vol * _t(rng, tail_df, (T, N))
    c_spec = rng.uniform(0.6, 1.0, size=N) if specific else np.zeros(N)
    eps = idio_vol * _t(rng, tail_df, (T, N))
    r = np.einsum("tik,tk->ti", betas, g) + c_spec * e + eps
    L = p["n_latent"]
    lat_load = np.zeros((N, L))
    lat = lat0 = np.zeros((T, L))
    if L:
        lr = _stream(seed, 1)
        lat = driver_drift + driver_vol * _t(lr, tail_df, (T, L))
        lat0 = lat.copy()
        lat_load = lr.normal(0.0, 1.0, size=(N, L)) + 0.5
        for e_no, ev in enumerate(events):
            if ev.kind == "driver_vol" and ev.driver is None:
                lat[act[e_no]] = driver_drift + ev.power * (lat[act[e_no]] - driver_drift)
        r = r + lat @ lat_load.T
    r = np.clip(r, -0.5, None)
    sens = betas * gprime[:, None, :]

    # candidate pool
    series: dict[str, np.ndarray] = {}
    labels: list[str] = []
    meta: list[Any] = []
    for j in range(K):
        series[f"c{j}"] = d[burn:, j]
        labels.append("common")
        meta.append(j)
    for p_no in range(n_proxies):
        j = p_no % K
        base = d[burn:, j]
        sd = d0[burn:, j].std()  # the unshifted driver's (base itself without shifts)
        series[f"p{p_no}"] = base + proxy_noise * sd * rng.normal(size=T)
        labels.append("proxy")
        meta.append(j)
    coll_noise: dict[str, np.ndarray] = {}
    for c in range(n_colliders):
        members = np.sort(rng.choice(N, size=max(2, N // 2), replace=False))
        avg = r[:, members].mean(axis=1)
        coll_noise[f"k{c}"] = collider_noise * avg.std() * _t(rng, tail_df, T)
        series[f"k{c}"] = avg + coll_noise[f"k{c}"]
        labels.append("collider")
        meta.append(members)
    if specific:
        for i in range(N):
            series[f"s{i}"] = e[:, i]
            labels.append("specific")
            meta.append(i)
    for z in range(n_noise):
        series[f"z{z}"] = driver_vol * _t(rng, tail_df, T)
        labels.append("noise")
        meta.append(None)
    roles = list(labels)
    # the harder worlds, each on its own stream
    if n_pair_colliders:
        cr = _stream(seed, 2)
        for c in range(n_pair_colliders):
            members = np.sort(cr.choice(N, size=2, replace=False))
            avg = r[:, members].mean(axis=1)
            coll_noise[f"q{c}"] = collider_noise * avg.std() * _t(cr, tail_df, T)
            series[f"q{c}"] = avg + coll_noise[f"q{c}"]
            labels.append("collider")
            roles.append("pair_collider")
            meta.append(members)
    if index:
        series["ix"] = r.mean(axis=1)
        labels.append("collider")
        roles.append("index")
        meta.append(np.arange(N))
    if n_derived:
        dr = _stream(seed, 3)
        prices = 100.0 * np.cumprod(1.0 + r, axis=0)
        prev = np.vstack([np.full((1, N), 100.0), prices[:-1]])
        for c in range(n_derived):
            if c % 2 == 0:
                members = np.sort(dr.choice(N, size=int(dr.integers(2, N + 1)), replace=False))
                series[f"w{c}"] = (prices[:, members].sum(axis=1)
                                   / prev[:, members].sum(axis=1) - 1.0)
                roles.append("price_weighted")
            else:
                members = dr.choice(N, size=2, replace=False)
                series[f"w{c}"] = (1.0 + r[:, members[0]]) / (1.0 + r[:, members[1]]) - 1.0
                roles.append("price_ratio")
            labels.append("collider")
            meta.append(members)
    lat_names = tuple(f"L{j}" for j in range(L))
    if n_latent_proxies:
        pr = _stream(seed, 4)
        for q in range(n_latent_proxies):
            j = q % L
            series[f"lp{q}"] = lat[:, j] + proxy_noise * lat0[:, j].std() * pr.normal(size=T)
            labels.append("proxy")
            roles.append("latent_proxy")
            meta.append(lat_names[j])
    # shifts acting on candidates
    proxy_keys = [k for k, ro in zip(series, roles, strict=True) if ro in ("proxy",
                                                                             "latent_proxy")]
    for e_no, ev in enumerate(events):
        m = act[e_no]
        er = _stream(seed, 100 + e_no)
        if ev.kind == "proxy_decouple":
            for k in proxy_keys:
                i = list(series).index(k)
                base = d[burn:, meta[i]] if roles[i] == "proxy" else lat[:, lat_names.index(
                    meta[i])]
                indep = driver_drift + base.std() * _t(er, tail_df, T)
                series[k] = series[k].copy()
                series[k][m] += ev.power * (indep[m] - base[m])
            records.append({"event": e_no, "proxies": proxy_keys})
        elif ev.kind == "collider_rewire":
            rewired = {}
            for k in coll_noise:
                old = meta[list(series).index(k)]
                others = np.setdiff1d(np.arange(N), old)
                size = len(old)
                pick = er.choice(others, size=min(size, len(others)), replace=False)
                if len(pick) < size:
                    pick = np.concatenate([pick, er.choice(old, size=size - len(pick),
                                                           replace=False)])
                new = np.sort(pick)
                old_avg, new_avg = r[:, old].mean(axis=1), r[:, new].mean(axis=1)
                series[k] = series[k].copy()
                series[k][m] += ev.power * (new_avg[m] - old_avg[m])
                rewired[k] = new
            records.append({"event": e_no, "colliders": rewired})
        elif ev.kind == "spurious":
            made = []
            for c in range(ev.n or 2):
                members = np.sort(er.choice(N, size=max(2, N // 2), replace=False))
                avg = r[:, members].mean(axis=1)
                sd = avg.std()
                key = f"y{e_no}_{c}"
                s_ = sd * _t(er, tail_df, T)  # independent outside the window
                s_[m] = avg[m] + collider_noise * sd * _t(er, tail_df, int(m.sum()))
                series[key] = s_
                labels.append("collider")
                roles.append("spurious")
                meta.append(members)
                made.append(key)
            records.append({"event": e_no, "candidates": made})
        elif ev.kind in ("driver_vol", "intervention"):
            cols = (list(range(K)) if ev.kind == "driver_vol" and ev.driver is None
                    else [ev.driver if ev.driver is not None else 0])
            records.append({"event": e_no, "drivers": [f"c{j}" for j in cols]
                            + (list(lat_names) if ev.kind == "driver_vol"
                               and ev.driver is None else [])})
    order = rng.permutation(len(labels))
    width = max(3, len(str(len(labels))))
    names = {old: f"X{k:0{width}d}" for k, old in enumerate(np.array(list(series))[order])}
    assets = tuple(f"A{i:02d}" for i in range(N))
    keys = list(series)
    label_of = {names[k]: labels[i] for i, k in enumerate(keys)}
    role_of = {names[k]: roles[i] for i, k in enumerate(keys)}
    common = tuple(names[f"c{j}"] for j in range(K))
    cand = pd.DataFrame({names[k]: series[k] for k in keys}, index=dates)
    cand = cand[sorted(cand.columns)]
    asset_frame = pd.DataFrame(r, index=dates, columns=list(assets))

    def members_of(k: str) -> tuple[str, ...]:
        return tuple(assets[m] for m in meta[keys.index(k)])

    proxy_of = {names[f"p{p_no}"]: common[p_no % K] for p_no in range(n_proxies)}
    proxy_of.update({names[f"lp{q}"]: lat_names[q % L] for q in range(n_latent_proxies)})
    collider_of = {names[k]: members_of(k) for k, lab in zip(keys, labels, strict=True)
                   if lab == "collider"}
    shift_truth = []
    for e_no, ev in enumerate(events):
        wins = ev.windows(dates)
        rec: dict[str, Any] = {
            "kind": ev.kind, "text": ev.text(),
            "windows": [[f"{dates[i0]:%Y-%m-%d}", f"{dates[i1 - 1]:%Y-%m-%d}"]
                        for i0, i1 in wins],
            "day_ranges": [[int(i0), int(i1)] for i0, i1 in wins],
            "days": int(act[e_no].sum())}
        if ev.kind != "spurious":
            rec["strength"] = ev.power
        if ev.kind == "intervention":
            rec["level"] = ev.level or 0.0
        for extra in records:
            if extra["event"] != e_no:
                continue
            if "drivers" in extra:
                rec["drivers"] = [names[k] if k in names else k for k in extra["drivers"]]
            if "proxies" in extra:
                rec["proxies"] = sorted(names[k] for k in extra["proxies"])
            if "colliders" in extra:
                rec["colliders"] = {names[k]: [assets[i] for i in v]
                                    for k, v in sorted(extra["colliders"].items())}
            if "candidates" in extra:
                rec["candidates"] = sorted(names[k] for k in extra["candidates"])
            if "mean_betas" in extra:
                rec["mean_betas"] = extra["mean_betas"]
                rec["clusters"] = {a: extra["clusters"][i] for i, a in enumerate(assets)}
        shift_truth.append(rec)
    params = dict(n_assets=n_assets, n_days=n_days, n_common=n_common, n_lagged=n_lagged,
                  n_nonlinear=n_nonlinear, driver_drift=driver_drift,
                  n_proxies=n_proxies, n_colliders=n_colliders,
                  n_noise=n_noise, n_clusters=n_clusters, specific=specific,
                  driver_vol=driver_vol, idio_vol=idio_vol, beta_spread=beta_spread,
                  beta_persistence=beta_persistence, beta_noise=beta_noise,
                  proxy_noise=proxy_noise, collider_noise=collider_noise, tail_df=tail_df,
                  start=start, seed=seed)
    newer = dict(n_pair_colliders=n_pair_colliders, index=bool(index), n_derived=n_derived,
                 n_latent=n_latent, n_latent_proxies=n_latent_proxies if L else 0,
                 shifts=shifts_text(events))
    defaults = dict(n_pair_colliders=0, index=False, n_derived=0, n_latent=0,
                    n_latent_proxies=0, shifts="none")
    params.update({k: v for k, v in newer.items() if v != defaults[k]})
    truth = SyntheticTruth(
        labels=dict(sorted(label_of.items())),
        common=common,
        lags={common[j]: int(lags[j]) for j in range(K)},
        nonlinear=tuple(common[j] for j in np.flatnonzero(nonlin)),
        betas=betas,
        sensitivities=sens,
        mean_betas=bbar,
        clusters={a: int(cluster[i]) for i, a in enumerate(assets)},
        proxy_of=proxy_of,
        collider_of=collider_of,
        specific_of={names[f"s{i}"]: assets[i] for i in range(N)} if specific else {},
        dates=dates,
        assets=assets,
        params=params,
        roles=dict(sorted(role_of.items())),
        latent=lat_names,
        latent_loadings=lat_load,
        latent_paths=lat,
        shifts=tuple(shift_truth),
    )
    return Market(asset_frame, cand, truth)


def prices_from_returns(returns: pd.DataFrame, start_value: float = 100.0) -> pd.DataFrame:
    """Price levels from returns, starting at ``start_value`` the business day before the first
    return (so that ``pct`` transforms give the returns back)."""
    first = returns.index[0] - pd.tseries.offsets.BDay(1)
    levels = start_value * (1.0 + returns).cumprod()
    head = pd.DataFrame([[start_value] * returns.shape[1]], index=[first],
                        columns=returns.columns)
    out = pd.concat([head, levels])
    out.index.name = "date"
    return out
