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
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pandas as pd

from ..checks import check_seed
from ..errors import ParameterError
from .market import Market

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
        Proxy -> the common driver it copies; collider -> the assets it is caused by;
        specific driver -> its asset.
    params
        The generator's arguments.
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

    def of_label(self, label: str) -> list[str]:
        """Candidate names with the given label, sorted."""
        return sorted(n for n, lab in self.labels.items() if lab == label)

    def sensitivity_frame(self, asset: str) -> pd.DataFrame:
        """True sensitivity path of one asset: dates x ``driver@lag`` inputs."""
        i = self.assets.index(asset)
        cols = [f"{d}@{self.lags[d]}" for d in self.common]
        return pd.DataFrame(self.sensitivities[:, i, :], index=self.dates, columns=cols)

    def to_json(self) -> dict[str, Any]:
        """The scalar truth (no paths) as JSON-ready data."""
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
        }


def _t(rng: np.random.Generator, df: float, size: Any) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, size=size) / np.sqrt(df / (df - 2.0))


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
        ``collider_noise`` x that average's sd.
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
    """
    check_seed(seed, "synthetic market: seed")
    if n_assets < 2 or n_days < 30 or n_common < 1:
        raise ParameterError("synthetic market needs n_assets >= 2, n_days >= 30, n_common >= 1")
    if not 0 <= beta_persistence < 1:
        raise ParameterError("beta_persistence must be in [0, 1)")
    if tail_df <= 2:
        raise ParameterError("tail_df must be > 2 (finite variance)")
    n_lagged = n_common // 2 if n_lagged is None else n_lagged
    if not 0 <= n_lagged <= n_common or not 0 <= n_nonlinear <= n_common:
        raise ParameterError("n_lagged and n_nonlinear must be between 0 and n_common")
    rng = np.random.default_rng(seed)
    T, N, K = n_days, n_assets, n_common
    burn = 1  # one extra day so that lag-1 drivers have a value on the first date
    d = driver_drift + driver_vol * _t(rng, tail_df, (T + burn, K))
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
    e = driver_vol * _t(rng, tail_df, (T, N))
    c_spec = rng.uniform(0.6, 1.0, size=N) if specific else np.zeros(N)
    eps = idio_vol * _t(rng, tail_df, (T, N))
    r = np.einsum("tik,tk->ti", betas, g) + c_spec * e + eps
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
    for p in range(n_proxies):
        j = p % K
        base = d[burn:, j]
        series[f"p{p}"] = base + proxy_noise * base.std() * rng.normal(size=T)
        labels.append("proxy")
        meta.append(j)
    for c in range(n_colliders):
        members = np.sort(rng.choice(N, size=max(2, N // 2), replace=False))
        avg = r[:, members].mean(axis=1)
        series[f"k{c}"] = avg + collider_noise * avg.std() * _t(rng, tail_df, T)
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
    order = rng.permutation(len(labels))
    width = max(3, len(str(len(labels))))
    names = {old: f"X{k:0{width}d}" for k, old in enumerate(np.array(list(series))[order])}
    assets = tuple(f"A{i:02d}" for i in range(N))
    keys = list(series)
    label_of = {names[k]: labels[i] for i, k in enumerate(keys)}
    common = tuple(names[f"c{j}"] for j in range(K))
    dates = pd.bdate_range(start=start, periods=T, name="date")
    cand = pd.DataFrame({names[k]: series[k] for k in keys}, index=dates)
    cand = cand[sorted(cand.columns)]
    asset_frame = pd.DataFrame(r, index=dates, columns=list(assets))
    truth = SyntheticTruth(
        labels=dict(sorted(label_of.items())),
        common=common,
        lags={common[j]: int(lags[j]) for j in range(K)},
        nonlinear=tuple(common[j] for j in np.flatnonzero(nonlin)),
        betas=betas,
        sensitivities=sens,
        mean_betas=bbar,
        clusters={a: int(cluster[i]) for i, a in enumerate(assets)},
        proxy_of={names[f"p{p}"]: common[p % K] for p in range(n_proxies)},
        collider_of={names[f"k{c}"]: tuple(assets[m] for m in meta[keys.index(f"k{c}")])
                     for c in range(n_colliders)},
        specific_of={names[f"s{i}"]: assets[i] for i in range(N)} if specific else {},
        dates=dates,
        assets=assets,
        params=dict(n_assets=n_assets, n_days=n_days, n_common=n_common, n_lagged=n_lagged,
                    n_nonlinear=n_nonlinear, driver_drift=driver_drift,
                    n_proxies=n_proxies, n_colliders=n_colliders,
                    n_noise=n_noise, n_clusters=n_clusters, specific=specific,
                    driver_vol=driver_vol, idio_vol=idio_vol, beta_spread=beta_spread,
                    beta_persistence=beta_persistence, beta_noise=beta_noise,
                    proxy_noise=proxy_noise, collider_noise=collider_noise, tail_df=tail_df,
                    start=start, seed=seed),
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
