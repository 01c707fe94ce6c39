"""Screenshots of the two HTML reports for docs/reports.md (headless Chromium, full page).

    python examples/report_screenshots.py [--out docs/img]

A synthetic market (10 assets, 3 years, 20 candidate drivers): a backtest of one HSP pipeline
against 1/N and HRP, and an ablation of 4 pipelines with 20 stationary-bootstrap replicas of the
market (replica 0 = the data), each written with its report, then loaded in Chromium and saved
as ``backtest-report.png`` and ``ablation-report.png`` (colours reduced to 256 to keep them small).
About 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

WIDTH = 1150


def screenshot(html: Path, png: Path) -> None:
    """Full-page PNG of a local HTML file: render tall, then crop the blank bottom."""
    import numpy as np
    from PIL import Image

    exe = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                               "google-chrome"))), None)
    if exe is None:
        raise SystemExit("headless Chromium not found (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                        f"--window-size={WIDTH},16000", "--virtual-time-budget=5000",
                        f"--screenshot={png}", html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=300)
    im = Image.open(png).convert("RGB")
    ink = np.flatnonzero((np.asarray(im.convert("L")) < 250).any(axis=1))
    im = im.crop((0, 0, WIDTH, int(ink.max()) + 40))
    im.quantize(256).save(png, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs/img", help="folder of the two PNG files")
    args = ap.parse_args(argv)
    from causalfolio.ablation import Grid, MarketGrid, run_ablation
    from causalfolio.backtest import BacktestConfig, run_backtest, write_run
    from causalfolio.data import synthetic_market
    from causalfolio.report import write_ablation_report, write_report

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    market = synthetic_market(n_assets=10, n_days=760, n_noise=12, seed=7)
    work = Path(tempfile.mkdtemp(prefix="cf-shots-"))
    try:
        config = BacktestConfig(start="2015-09-01", min_weight=0.02, max_weight=0.3)
        spec = "rccp(k=4)|linear(lags=[0,1])|beta|vasicek(n_paths=50)|hsp"
        res = run_backtest(market, [spec], config, benchmarks=["equal", "hrp"])
        run = write_run(res, work / "run")
        screenshot(write_report(run, market=market, result=res), out / "backtest-report.png")
        grid = Grid.from_specs(["rccp(k={2,4})|linear|beta|static|{hsp,hrp}"],
                               benchmarks=["equal"], settings={"start": "2015-09-01"})
        markets = MarketGrid.from_options(data=market, resample="stationary", replicas=20,
                                          seed=0)
        run_ablation(markets, grid, work / "ablation", executor="processes", workers=2,
                     cache_dir=False, reference="equal")
        screenshot(write_ablation_report(work / "ablation"), out / "ablation-report.png")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"screenshots: {out / 'backtest-report.png'}, {out / 'ablation-report.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
