"""Sensitivity forecasting: parameter recovery, forecast error on the synthetic market, timings.

Run by hand (not collected by pytest)::

    .venv/bin/python tests/benchmarks/bench_forecasting.py            # all three sections
    .venv/bin/python tests/benchmarks/bench_forecasting.py recovery   # or: error, timing

* ``recovery``: calibration on simulated OU / Hull-White / ARIMA / nonlinear-AR / drift series
  with known parameters (sample sizes printed): truth, mean estimate, sd across series.
* ``error``: on ``synthetic_market`` (seeds 0, 1; 20 assets; K = 4 true common inputs) the
  forecasters calibrate on the last 125 true sensitivities S[t, i, j] before each rebalance date
  (every 84 days from day 252) and forecast H = 21 days. Reported, averaged over dates: RMSE of the
  mean forecast path against the true path, and the relative Frobenius error of the forecast
  distance matrix against the true path-wide matrix mean_h D(S_{tau+h}), with the Spearman rank
  correlation of their off-diagonal entries. Baselines: ``static`` (mean over the window, the
  pipeline default) and ``last`` (the last value held).
* ``timing``: forecasting time per rebalance for 20 and 100 assets (T = 125 samples, P = 8
  inputs, H = 21, 100 paths), min of 3 runs (2 for the nets), against the dynamics stage on the
  same data in the same run: ``linear`` and a one-architecture ``fnn`` (the dynamics that produce
  moving sensitivity series). CPU time of the process (all threads; the forecasters run on one
  thread) and wall time are both printed; ratios use CPU time, which contention on a shared
  machine distorts less than wall time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "forecasting"))

from forecasting_sims import as_sensitivities, hull_white_series, ou_series  # noqa: E402

import causalfolio as cf  # noqa: E402
from causalfolio.data import synthetic_market  # noqa: E402
from causalfolio.stages import distance_matrix  # noqa: E402

MODELS = ["vasicek", "vasicek(pooled=True)", "vasicek(robust=True)", "hull_white", "hjm",
          "hjm(drift=False)", "arima(p=1)", "arima(p=1, q=1)", "arima(p=0, d=1, q=1)",
          "nonlinear", "nn", "rnn"]


def forecaster(spec: str):
    return cf.parse_spec(f"rccp|linear|beta|{spec}|hsp").forecasting


def row(*cells, widths=(28, 12, 12, 12, 12, 12)):
    print("".join(f"{c!s:<{w}}" if i == 0 else f"{c!s:>{w}}" for i, (c, w) in
                  enumerate(zip(cells, widths, strict=False))))


def recovery() -> None:
    from causalfolio.plugins.forecasting.sde import HJM, HullWhite, Vasicek
    from causalfolio.plugins.forecasting.timeseries import Arima, Nonlinear

    rng = np.random.default_rng(0)
    print("\n## Parameter recovery (mean estimate and sd across series)\n")
    row("model / parameter", "truth", "mean", "sd", "series", "T")
    x = ou_series(2000, 200, kappa=0.05, theta=0.8, sigma=0.1, seed=11)
    for spec, comp in [("vasicek", Vasicek()), ("vasicek(pooled)", Vasicek(pooled=True)),
                       ("vasicek(robust)", Vasicek(robust=True))]:
        f = comp.calibrate(x, rng)
        for name, truth, est in [("kappa/day", 0.05, f.kappa), ("theta", 0.8, f.theta),
                                 ("sigma", 0.1, f.sigma)]:
            row(f"{spec} {name}", truth, f"{est.mean():.4f}", f"{est.std():.4f}", 200, 2000)
    x = ou_series(250, 200, kappa=0.05, theta=0.8, sigma=0.1, seed=12)
    f = Vasicek().calibrate(x, rng)
    for name, truth, est in [("kappa/day", 0.05, f.kappa), ("sigma", 0.1, f.sigma)]:
        row(f"vasicek {name} (short)", truth, f"{np.nanmean(est):.4f}", f"{np.nanstd(est):.4f}",
            200, 250)
    row("  (degenerate -> random walk)", "", int(f.degenerate.sum()), "", 200, 250)
    kappa, m0, m1, sigma = 0.08, 0.5, 4e-4, 0.05
    x = hull_white_series(1500, 100, kappa=kappa, m0=m0, m1=m1, sigma=sigma, seed=5)
    f = HullWhite().calibrate(x, rng)
    for name, truth, est in [("kappa/day", kappa, f.kappa), ("sigma", sigma, f.sigma),
                             ("mean-level slope/day", m1, f.slope),
                             ("level at T", m0 + m1 * 1499 - m1 / kappa, f.theta)]:
        row(f"hull_white {name}", f"{truth:.4g}", f"{est.mean():.4g}", f"{est.std():.2g}", 100,
            1500)
    mu, s = 0.002, 0.03
    x = np.cumsum(mu + s * rng.standard_normal((5000, 100)), axis=0)
    f = HJM(window=None).calibrate(x, rng)
    row("hjm mu/day", mu, f"{f.mu.mean():.5f}", f"{f.mu.std():.5f}", 100, 5000)
    row("hjm sigma", s, f"{f.sigma.mean():.5f}", f"{f.sigma.std():.5f}", 100, 5000)
    e = rng.standard_normal((3100, 50))
    y = np.zeros_like(e)
    for k in range(1, 3100):
        y[k] = 0.6 * y[k - 1] + e[k] + 0.3 * e[k - 1]
    f = Arima(p=1, q=1).calibrate(y[100:] + 1.0, rng)
    row("arima(1,0,1) ar1", 0.6, f"{f.ar.mean():.4f}", f"{f.ar.std():.4f}", 50, 3000)
    row("arima(1,0,1) ma1", 0.3, f"{f.ma.mean():.4f}", f"{f.ma.std():.4f}", 50, 3000)
    row("arima(1,0,1) sd", 1.0, f"{f.sd.mean():.4f}", f"{f.sd.std():.4f}", 50, 3000)
    phi, th, t, m = 0.3, 0.5, 20000, 8
    e = rng.standard_normal((t, m))
    sc = 1.0
    for _ in range(4):
        z = np.zeros((t, m))
        for k in range(1, t):
            z[k] = phi * z[k - 1] + th * sc * np.tanh(z[k - 1] / sc) + e[k]
        sc = float(z.std())
    f = Nonlinear().calibrate(z, rng)
    row("nonlinear phi", phi, f"{f.phi.mean():.4f}", f"{f.phi.std():.4f}", m, t)
    row("nonlinear theta (tanh)", th, f"{f.theta.mean():.4f}", f"{f.theta.std():.4f}", m, t)


def forecast_error(seeds=(0, 1), n_assets=20, window=125, h=21, step=84) -> None:
    print(f"\n## Forecast error on the synthetic market (true sensitivities; {n_assets} assets, "
          f"window {window}, H = {h}, seeds {list(seeds)})\n")
    names = ["static", "last", *MODELS]
    acc = {k: {"rmse": [], "derr": [], "rho": [], "sec": []} for k in names}
    n_dates = 0
    for seed in seeds:
        truth = synthetic_market(n_assets=n_assets, seed=seed).truth
        s_all = truth.sensitivities
        for tau in range(252, s_all.shape[0] - h, step):
            n_dates += 1
            sens = as_sensitivities(s_all[tau - window: tau])
            future = s_all[tau: tau + h]
            d_true = np.mean([distance_matrix(f) for f in future], axis=0)
            iu = np.triu_indices(n_assets, 1)
            for name in names:
                t0 = time.perf_counter()
                if name == "static":
                    mean_path, dist = np.broadcast_to(sens.aggregate, future.shape), sens.distance
                elif name == "last":
                    mean_path = np.broadcast_to(sens.series[-1], future.shape)
                    dist = distance_matrix(sens.series[-1])
                else:
                    spec = name if name.endswith(")") else f"{name}()"
                    spec = spec[:-1] + (", " if spec[-2] != "(" else "") + "keep_paths=100)"
                    out = forecaster(spec).forecast(sens, horizon=h, seed=seed)
                    mean_path, dist = out.paths.mean(axis=0), out.distance
                acc[name]["sec"].append(time.perf_counter() - t0)
                acc[name]["rmse"].append(np.sqrt(np.mean((mean_path - future) ** 2)))
                acc[name]["derr"].append(np.linalg.norm(dist - d_true) / np.linalg.norm(d_true))
                acc[name]["rho"].append(spearmanr(dist[iu], d_true[iu])[0])
    print(f"{n_dates} rebalance dates\n")
    row("model", "path RMSE", "D rel. err", "D rank corr", "vs static", "sec/date")
    base = np.mean(acc["static"]["derr"])
    for name in names:
        a = acc[name]
        row(name, f"{np.mean(a['rmse']):.4f}", f"{np.mean(a['derr']):.4f}",
            f"{np.mean(a['rho']):.4f}", f"{np.mean(a['derr']) / base:.3f}",
            f"{np.mean(a['sec']):.3f}")


def timing(sizes=(20, 100), reps=3) -> None:
    print("\n## Forecasting time per rebalance (T = 125, P = 8, H = 21, 100 paths; min of "
          f"{reps})\n")
    import torch  # noqa: F401 - imported once here so that no timing includes the import

    for n in sizes:
        mk = synthetic_market(n_assets=n, n_common=4, seed=0)
        drivers = mk.candidates[list(mk.truth.common)]
        base = {}
        for spec in ("linear(lags=[0, 1])",
                     "fnn(hidden=[[8]], lag_sets=[[0, 1]], windows=[125])"):
            dyn = cf.parse_spec(f"rccp|{spec}|fd|static|hsp").dynamics
            c0, t0 = time.process_time(), time.perf_counter()
            dyn.fit(mk.assets.iloc[:400], drivers.iloc[:400], window=125, seed=0)
            base[spec.split("(")[0]] = (time.process_time() - c0, time.perf_counter() - t0)
        truth = mk.truth.sensitivities[275:400]  # (125, N, 4) true paths, duplicated to P = 8
        sens = as_sensitivities(np.concatenate([truth, truth[::-1]], axis=2))
        print(f"N = {n}: dynamics linear {base['linear'][0] * 1e3:.1f} ms CPU, fnn (1 "
              f"architecture) {base['fnn'][0]:.2f} s CPU ({base['fnn'][1]:.2f} s wall); "
              f"series {sens.series.shape}")
        row("forecaster", "CPU ms", "wall ms", "CPU / fnn", "CPU / linear")
        for name in ["static", *MODELS]:
            fc = forecaster(name)
            cpu = wall = np.inf
            for _ in range(reps if name not in ("nn", "rnn") else 2):
                c0, t0 = time.process_time(), time.perf_counter()
                fc.forecast(sens, horizon=21, seed=0)
                cpu = min(cpu, time.process_time() - c0)
                wall = min(wall, time.perf_counter() - t0)
            row(name, f"{cpu * 1e3:.1f}", f"{wall * 1e3:.1f}", f"{cpu / base['fnn'][0]:.3f}",
                f"{cpu / base['linear'][0]:.1f}")


if __name__ == "__main__":
    which = sys.argv[1:] or ["recovery", "error", "timing"]
    if "recovery" in which:
        recovery()
    if "error" in which:
        forecast_error()
    if "timing" in which:
        timing()
