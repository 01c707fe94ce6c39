"""Dynamics and sensitivity benchmarks (run by hand, not by pytest).

    .venv/bin/python tests/benchmarks/bench_dynamics.py speed    [--device cuda] [--epochs 300]
                                                          [--threads 1]
    .venv/bin/python tests/benchmarks/bench_dynamics.py memory   [--assets 100] [--device cuda]
    .venv/bin/python tests/benchmarks/bench_dynamics.py recovery [--dates 4] [--idio-vol 0.01]
                                                          [--no-specific]
    .venv/bin/python tests/benchmarks/bench_dynamics.py backtest [--rebalances 240] [--workers 2]
                                                          [--device cuda]

``speed``: one realistic rebalance, 20 assets x 6 architectures x 3 windows (60/90/125 days),
lag set {0, 1} on 10 drivers (20 inputs), up to 300 full-batch Adam epochs with early stopping:
``fnn`` trained as batched ensembles against the same search trained one net at a time
(``batched=False``, the ordinary ``nn.Sequential`` loop), in the same run; prints the speed
ratio and the largest prediction difference between the two (same seeds, same models). Also times
``aad`` (all per-sample gradients in one batched reverse pass) against a per-asset backward
loop.

``memory``: peak resident memory of a fresh process that fits ``fnn`` (default search) on N assets
and extracts ``aad`` sensitivities, minus the peak of the same process that only loads the data.

``recovery``: on the default synthetic market (14 assets, 4 common drivers, one acting
nonlinearly, time-varying betas; ``--idio-vol 0.002 --no-specific`` for a low-noise variant),
fits ``linear`` + ``beta``, ``fnn`` + ``aad`` and ``fnn(weight_decay=0.1)`` + ``aad`` on the true
common drivers at several dates and compares the in-sample per-sample sensitivities with the true
paths ``truth.sensitivities``: RMSE over the window per (asset, driver), error of the mean, the
correlation of the paths, and the spurious sensitivity to the lag at which a driver does not act.

``backtest``: wall time of a 20-year monthly backtest (240 rebalances) of
``rccp(k=10)|fnn(lag_sets=[[0,1]])|aad|static|hsp`` (default 6 architectures x 3 windows) on a
20-asset synthetic market: the rebalance dates are run in ``--workers`` processes (dates are
independent: each rebalance selects its drivers and trains its nets from data before it).

Torch and BLAS run one thread per process here (``speed --threads 2``: two torch threads for
both sides); timings on a shared machine are noisy.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from causalfolio import parse_spec  # noqa: E402
from causalfolio.data.synthetic import synthetic_market  # noqa: E402
from causalfolio.plugins.dynamics.fnn import FNN  # noqa: E402
from causalfolio.plugins.dynamics.linear import Linear  # noqa: E402
from causalfolio.plugins.sensitivities.aad import AAD  # noqa: E402
from causalfolio.plugins.sensitivities.beta import Beta  # noqa: E402

torch.set_num_threads(1)


def _market(n_assets: int, n_days: int, n_common: int = 10, seed: int = 0):
    return synthetic_market(n_assets=n_assets, n_days=n_days, n_common=n_common, n_nonlinear=2,
                            n_noise=10, n_proxies=2, n_colliders=1, seed=seed)


def speed(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    m = _market(20, 300)
    drivers = m.candidates[list(m.truth.common)]
    kw = dict(lag_sets=((0, 1),), windows=(60, 90, 125), epochs=args.epochs,
              device=args.device)
    batched, loop = FNN(**kw), FNN(batched=False, **kw)
    print(f"rebalance: 20 assets x {len(batched.hidden)} architectures x 3 windows, "
          f"{2 * drivers.shape[1]} inputs, <= {args.epochs} epochs, device {args.device}, "
          f"{torch.get_num_threads()} torch threads for both")
    batched.fit(m.assets.iloc[:200], drivers.iloc[:200], window=125, seed=9)  # warm-up
    t0 = time.perf_counter()
    fb = batched.fit(m.assets, drivers, window=125, seed=0)
    tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    fl = loop.fit(m.assets, drivers, window=125, seed=0)
    tl = time.perf_counter() - t0
    x = fb.design(drivers).loc[fb.train_index].to_numpy()
    diff = np.abs(fb.predict(x) - fl.predict(x)).max() / np.abs(fl.predict(x)).max()
    same = sum(fb.info["selection"][a]["hidden"] == fl.info["selection"][a]["hidden"]
               and fb.info["selection"][a]["window"] == fl.info["selection"][a]["window"]
               for a in fb.assets)
    print(f"fnn batched ensembles: {tb:8.2f} s   (epochs run per architecture "
          f"{fb.info['epochs_run']})")
    print(f"fnn one net at a time: {tl:8.2f} s")
    print(f"speed ratio loop / batched: {tl / tb:.1f}x")
    print(f"same selected configuration for {same}/20 assets; max |prediction difference| "
          f"{diff:.1e} of the largest prediction (float32)")
    # AAD: one vmapped pass against one backward pass per asset
    forward = fb.torch_forward()
    xt = torch.as_tensor(x)
    AAD().per_sample(fb, x)
    t0 = time.perf_counter()
    for _ in range(5):
        s = AAD().per_sample(fb, x)
    ta = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    for _ in range(5):
        rows = []
        for i in range(len(fb.assets)):
            xi = xt.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(forward(xi)[:, i].sum(), xi)
            rows.append(g)
        ref = torch.stack(rows, 1).numpy()
    tr = (time.perf_counter() - t0) / 5
    print(f"aad ({x.shape[0]} samples x 20 assets x {x.shape[1]} inputs): "
          f"batched {ta * 1e3:.1f} ms,"
          f" per-asset backward loop {tr * 1e3:.1f} ms, ratio {tr / ta:.1f}x, "
          f"max diff {np.abs(s - ref).max():.1e}")


def _memory_child(n_assets: int, fit: bool, device: str = "cpu") -> None:
    m = _market(n_assets, 300)
    drivers = m.candidates[list(m.truth.common)]
    if fit:
        f = FNN(device=device).fit(m.assets, drivers, window=125, seed=0)
        AAD().extract(f, f.design(drivers).loc[f.train_index])
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def memory(args: argparse.Namespace) -> None:
    out = {}
    for fit in (False, True):
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, __file__, "_memory_child", str(args.assets),
                              str(int(fit)), args.device],
                             capture_output=True, text=True, check=True)
        out[fit] = json.loads(res.stdout.strip().splitlines()[-1])["maxrss_mb"]
        if fit:
            print(f"fit + aad on {args.assets} assets (default search: 6 architectures x 3 lag "
                  f"sets x 3 windows = {54 * args.assets} nets): {time.perf_counter() - t0:.1f} s")
    print(f"peak RSS: data only {out[False]:.0f} MB, with fnn fit + aad {out[True]:.0f} MB, "
          f"difference {out[True] - out[False]:.0f} MB")


def recovery(args: argparse.Namespace) -> None:
    m = synthetic_market(seed=3, idio_vol=args.idio_vol, specific=not args.no_specific)
    tr = m.truth
    drivers = m.candidates[list(tr.common)]
    names = [f"{d}@{tr.lags[d]}" for d in tr.common]
    kinds = ["nonlinear" if d in tr.nonlinear else "linear" for d in tr.common]
    cuts = [tr.dates[int(p)] for p in np.linspace(300, len(tr.dates) - 1, args.dates)]
    models = {"linear+beta": (Linear(lags=(0, 1)), Beta()), "fnn+aad": (FNN(), AAD()),
              "fnn(weight_decay=0.1)+aad": (FNN(weight_decay=0.1), AAD())}
    stats = {k: {"path": [], "mean": [], "corr": [], "spur": []} for k in models}
    for cut in cuts:
        past, d = m.assets.loc[m.assets.index < cut], drivers.loc[drivers.index < cut]
        for key, (model, ext) in models.items():
            fit = model.fit(past, d, window=125, seed=0)
            s = ext.extract(fit, fit.design(d).loc[fit.train_index])
            true = tr.sensitivities[tr.dates.get_indexer(s.dates)]
            S = s.series[:, :, [list(s.inputs).index(n) for n in names]]
            stats[key]["path"].append(np.sqrt(((S - true) ** 2).mean(0)))
            stats[key]["mean"].append(np.abs(S.mean(0) - true.mean(0)))
            c = [[np.corrcoef(S[:, i, j], true[:, i, j])[0, 1] if S[:, i, j].std() > 0 else 0.0
                  for j in range(len(names))] for i in range(S.shape[1])]
            stats[key]["corr"].append(np.array(c))
            wrong = [j for j, n in enumerate(s.inputs) if n not in names]
            stats[key]["spur"].append(np.abs(s.series[:, :, wrong].mean(0)).mean(0))
    sd = np.mean([tr.sensitivities[i - 125:i].std(0).mean() for i in range(300, 1260, 240)])
    print(f"synthetic market seed 3 (idio_vol {args.idio_vol}, specific drivers "
          f"{not args.no_specific}): 14 assets, drivers {list(zip(names, kinds, strict=True))};"
          f" {len(cuts)} dates, 125-day windows; true sensitivity sd over a window {sd:.2f}")
    for key in models:
        path = np.stack(stats[key]["path"])  # (dates, N, K)
        mean = np.stack(stats[key]["mean"])
        corr = np.stack(stats[key]["corr"])
        print(f"\n{key}")
        print("  driver            path RMSE (median / max over assets)   |mean error| (median)  "
              " path corr (median)")
        for j, n in enumerate(names):
            print(f"  {n:8s} {kinds[j]:9s} {np.median(path[:, :, j]):6.3f} / "
                  f"{path[:, :, j].max():6.3f}                  {np.median(mean[:, :, j]):6.3f}"
                  f"                {np.median(corr[:, :, j]):6.2f}")
        print(f"  spurious |mean sensitivity| to the non-acting lags: "
              f"{np.mean(np.concatenate(stats[key]['spur'])):.3f}")
        per_asset = path.mean(axis=(0, 2))
        print("  per-asset path RMSE (mean over drivers and dates): "
              + " ".join(f"{v:.2f}" for v in per_asset))


def _rebalance(task):
    spec, date, seed = task
    torch.set_num_threads(1)
    m = _BT_MARKET
    t0, c0 = time.perf_counter(), time.process_time()
    res = parse_spec(spec).run(m.assets, m.candidates, date, seed=seed)
    return time.perf_counter() - t0, res.weights.to_numpy(), time.process_time() - c0


_BT_MARKET = None


def _init(n_days: int) -> None:
    global _BT_MARKET
    torch.set_num_threads(1)
    _BT_MARKET = _market(20, n_days, n_common=6)


def backtest(args: argparse.Namespace) -> None:
    dev = "" if args.device == "cpu" else f",device='{args.device}'"
    spec = f"rccp(k=10)|fnn(lag_sets=[[0,1]]{dev})|aad|static|hsp"
    n_days = 261 * 21 + 300  # 21 years of business days: 240 full months after the history
    m = _market(20, n_days, n_common=6)
    later = m.dates[300:]
    months = later.to_series().groupby(later.to_period("M")).first()
    dates = list(months.iloc[-args.rebalances:])
    tasks = [(spec, d, k) for k, d in enumerate(dates)]
    print(f"{spec}: {len(dates)} monthly rebalances {dates[0].date()} .. {dates[-1].date()}, "
          f"{args.workers} worker processes, 1 torch thread each")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(n_days,)) as pool:
        out = list(pool.map(_rebalance, tasks, chunksize=1))
    wall = time.perf_counter() - t0
    per = np.array([o[0] for o in out])
    cpu = np.array([o[2] for o in out])
    print(f"wall time {wall:.0f} s ({wall / 60:.1f} min); per rebalance median {np.median(per):.2f}"
          f" s, max {per.max():.2f} s; all weights sum to 1: "
          f"{all(abs(o[1].sum() - 1) < 1e-9 for o in out)}")
    print(f"CPU time of the rebalances {cpu.sum():.0f} s (median {np.median(cpu):.2f} s each): "
          f"{cpu.sum() / args.workers / 60:.1f} min of wall time on {args.workers} idle cores")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_memory_child":
        _memory_child(int(sys.argv[2]), bool(int(sys.argv[3])), sys.argv[4])
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["speed", "memory", "recovery", "backtest"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=1, help="torch threads for 'speed'")
    p.add_argument("--assets", type=int, default=100)
    p.add_argument("--dates", type=int, default=4)
    p.add_argument("--idio-vol", type=float, default=0.01)
    p.add_argument("--no-specific", action="store_true")
    p.add_argument("--rebalances", type=int, default=240)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    {"speed": speed, "memory": memory, "recovery": recovery, "backtest": backtest}[args.what](args)


if __name__ == "__main__":
    main()
