"""Table 1 diagnostics of a rebalance: what the sensitivity space says about risk and return
(SPEC §5; monograph §8.4, Table 1).

For the weights w chosen at a rebalance, with B (N, P) the aggregate sensitivities of the N assets
to the P inputs ``d@l`` (driver d at lag l) and x_t the inputs on the trailing window:

* expected return via driver forecasts, E[R] ~= B E[x] (E[x] the trailing mean unless a
  forecast is given);
* covariance approximation Sigma ~= B Sigma_D B' + Sigma_residual, compared with the sample
  covariance of the window;
* sensitivity-implied volatility sigma_i ~= sqrt(b_i' Sigma_D b_i);
* directional risk attribution Risk_Dj = sum_i w_i B_ij sigma_Dj.

All numbers are in daily return units. :func:`mapping_diagnostics` returns plain JSON data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ._lazy import np, pd
from .errors import DataError
from .stages.mapping import MappingInputs


def driver_inputs(inputs: MappingInputs, owner: str = "diagnostics"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Sensitivity inputs x_t aligned with the asset returns on the trailing window.

    Column ``d@l`` at date t holds driver d's return l rows earlier; the first max-lag rows and
    any row with a NaN are dropped.

    Returns
    -------
    x
        Inputs, shape (T', P).
    r
        Asset returns on the same dates, shape (T', N).
    b
        Aggregate sensitivities B, shape (N, P).
    names
        The P input names.

    Raises
    ------
    DataError
        Missing sensitivities or driver returns, an input whose driver is not in the driver
        returns, assets that do not match, or fewer than 2 usable dates.
    """
    sens = inputs.sensitivities
    if sens is None or inputs.driver_returns is None:
        raise DataError(f"{owner} needs sensitivities and driver returns (a full pipeline)")
    if sorted(sens.assets) != sorted(inputs.assets):
        raise DataError(f"{owner}: sensitivities are for assets {list(sens.assets)}, the "
                        f"rebalance for {list(inputs.assets)}")
    b = np.asarray(sens.aggregate, dtype=float)
    if list(sens.assets) != list(inputs.assets):  # same assets, another order (a mapping that
        row = {a: i for i, a in enumerate(sens.assets)}  # works in canonical name order)
        b = b[[row[a] for a in inputs.assets]]
    if not np.all(np.isfinite(b)):
        raise DataError(f"{owner}: the sensitivities contain NaN/inf")
    names = list(sens.inputs)
    dr = inputs.driver_returns
    position = {c: i for i, c in enumerate(dr.columns)}
    parsed: list[tuple[int, int]] = []
    for name in names:
        driver, _, lag_s = name.rpartition("@")
        if not driver or not lag_s.isdigit():
            raise DataError(f"{owner}: sensitivity input {name!r} is not of the form driver@lag")
        if driver not in position:
            raise DataError(f"{owner}: driver {driver!r} (input {name!r}) is missing from the "
                            f"driver returns {list(dr.columns)}")
        parsed.append((position[driver], int(lag_s)))
    max_lag = max((lag for _, lag in parsed), default=0)
    values = dr.to_numpy(dtype=float)
    n_rows = len(values)
    x = np.full((n_rows, len(names)), np.nan)
    for j, (col, lag) in enumerate(parsed):  # column j at row t: the driver's return at t - lag
        x[lag:, j] = values[: n_rows - lag, col]
    x = x[max_lag:]
    rets = inputs.returns[list(inputs.assets)]
    dates = dr.index[max_lag:]
    r = (rets.iloc[max_lag:] if rets.index.equals(dr.index) else rets.reindex(dates)
         ).to_numpy(dtype=float)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(r).all(axis=1)
    x, r = x[ok], r[ok]
    if x.shape[0] < 2:
        raise DataError(f"{owner}: fewer than 2 dates with both driver inputs and asset returns")
    return x, r, b, names


def implied_covariance(inputs: MappingInputs, residual: Literal["diagonal", "full"] = "diagonal"
                       ) -> np.ndarray:
    """The sensitivity-implied covariance B Sigma_D B' + Sigma_res of §8.4 (N, N), daily units.

    B (N, P) are the aggregate sensitivities, Sigma_D the sample covariance of the driver inputs
    ``d@l`` over the trailing window and Sigma_res the covariance of the residuals r - B x:
    ``diagonal`` (specific variances: a structured, driver-based estimate with N + P(P+1)/2
    free numbers instead of N(N+1)/2) or ``full`` (the approximation is then exact up to the
    cross terms between inputs and residuals). Raises :class:`DataError` without
    sensitivities (a benchmark run) or with fewer than 2 usable dates.
    """
    x, r, b, _ = driver_inputs(inputs, owner="implied covariance")
    return factor_covariance(x, r, b, residual)[0]


def factor_covariance(x: np.ndarray, r: np.ndarray, b: np.ndarray,
                      residual: Literal["diagonal", "full"] = "diagonal"
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """B Sigma_D B' + Sigma_res from inputs ``x`` (T, P), asset returns ``r`` (T, N) and loadings
    ``b`` (N, P) (see :func:`implied_covariance`; sample covariances, ddof = 1).

    Returns
    -------
    The covariance (N, N), Sigma_D (P, P) and Sigma_res (N, N; diagonal for ``diagonal``).
    """
    cov_d = np.atleast_2d(np.cov(x, rowvar=False))
    cov_res = np.atleast_2d(np.cov(r - x @ b.T, rowvar=False))
    if residual == "diagonal":
        cov_res = np.diag(np.diag(cov_res))
    return b @ cov_d @ b.T + cov_res, cov_d, cov_res


def _num(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def mapping_diagnostics(
    inputs: MappingInputs,
    weights: pd.Series | np.ndarray,
    *,
    driver_forecast: Mapping[str, float] | None = None,
    residual: Literal["diagonal", "full"] = "diagonal",
) -> dict[str, Any]:
    """Table 1 diagnostics of the weights chosen at one rebalance (JSON-serialisable).

    Parameters
    ----------
    inputs
        The :class:`MappingInputs` the mapping received.
    weights
        The weights (N,), in the order of ``inputs.assets`` (a Series is reindexed to it).
    driver_forecast
        Expected daily return of each input ``d@l``; inputs not given use their trailing mean.
    residual
        Residual covariance of the factor approximation: ``diagonal`` (specific variances, the
        factor-model convention) or ``full`` (the sample covariance of r - Bx, which makes the
        approximation exact up to the cross terms between inputs and residuals).

    Returns
    -------
    dict
        ``available`` (False for a benchmark without sensitivities, with ``reason``),
        ``portfolio`` (sample volatility, and with sensitivities: expected return B E[x],
        model volatility, share of variance explained by the drivers), ``assets`` (per asset:
        expected return, implied and sample volatility), ``covariance`` (relative Frobenius
        error of B Sigma_D B' + Sigma_res against the sample covariance), ``attribution``
        (Risk_Dj per input) and ``exposure`` ((B'w)_j per input). Daily units; non-finite
        numbers become ``None``.
    """
    assets = list(inputs.assets)
    w = (weights.reindex(assets).to_numpy(dtype=float) if isinstance(weights, pd.Series)
         else np.asarray(weights, dtype=float).ravel())
    if w.shape != (len(assets),) or not np.all(np.isfinite(w)):
        raise DataError(f"diagnostics: weights must be {len(assets)} finite numbers for "
                        f"{assets}, got shape {w.shape}")
    ret = inputs.returns[assets].to_numpy(dtype=float)
    ret = ret[np.isfinite(ret).all(axis=1)]
    sample_vol_p = (float(np.sqrt(max(w @ np.atleast_2d(np.cov(ret, rowvar=False)) @ w, 0.0)))
                    if len(ret) > 1 else float("nan"))
    out: dict[str, Any] = {"units": "daily", "portfolio": {"sample_volatility": _num(sample_vol_p)}}
    if inputs.sensitivities is None or inputs.driver_returns is None:
        out.update(available=False, reason="no sensitivities (benchmark run)")
        return out
    x, r, b, names = driver_inputs(inputs)
    mean_x = x.mean(axis=0)
    forecast = dict(driver_forecast or {})
    unknown = sorted(set(forecast) - set(names))
    if unknown:
        raise DataError(f"diagnostics: driver_forecast names unknown inputs {unknown}; "
                        f"inputs are {names}")
    ex = np.array([float(forecast.get(n, m)) for n, m in zip(names, mean_x, strict=True)])
    cov_d = np.atleast_2d(np.cov(x, rowvar=False))
    sd_d = np.sqrt(np.clip(np.diag(cov_d), 0.0, None))
    cov_model = implied_covariance(inputs, residual)
    cov_sample = np.atleast_2d(np.cov(r, rowvar=False))
    factor_var = float(w @ b @ cov_d @ b.T @ w)
    model_var = float(w @ cov_model @ w)
    er = b @ ex
    implied = np.sqrt(np.clip(np.einsum("ip,pq,iq->i", b, cov_d, b), 0.0, None))
    norm = float(np.linalg.norm(cov_sample))
    attribution = (w @ b) * sd_d
    out.update(
        available=True,
        inputs=names,
        n_dates=int(x.shape[0]),
        driver_mean=dict(zip(names, map(_num, ex), strict=True)),
        driver_volatility=dict(zip(names, map(_num, sd_d), strict=True)),
        portfolio={
            "sample_volatility": _num(sample_vol_p),
            "expected_return": _num(float(w @ er)),
            "model_volatility": _num(np.sqrt(max(model_var, 0.0))),
            "factor_volatility": _num(np.sqrt(max(factor_var, 0.0))),
            "explained_share": _num(factor_var / model_var) if model_var > 0 else None,
        },
        assets={a: {"expected_return": _num(er[i]), "implied_volatility": _num(implied[i]),
                    "sample_volatility": _num(np.sqrt(max(cov_sample[i, i], 0.0)))}
                for i, a in enumerate(assets)},
        covariance={"residual": residual,
                    "relative_error": _num(np.linalg.norm(cov_model - cov_sample) / norm)
                    if norm > 0 else None},
        attribution=dict(zip(names, map(_num, attribution), strict=True)),
        exposure=dict(zip(names, map(_num, w @ b), strict=True)),
    )
    return out
