"""Fixtures of the report tests: one small run folder written once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from causalfolio.backtest import BacktestConfig, run_backtest, write_run
from causalfolio.data import synthetic_market
from causalfolio.pipeline import Windows

SPEC = "rccp(k=4)|linear(lags=[0,1])|beta|vasicek(n_paths=20)|hsp"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--enable-logging=stderr",
                  "--v=0", "--virtual-time-budget=5000")


@pytest.fixture(scope="session")
def tiny_market():
    return synthetic_market(n_assets=6, n_days=330, n_noise=4, n_proxies=1, n_colliders=1,
                            seed=3)


@pytest.fixture(scope="session")
def tiny_result(tiny_market):
    config = BacktestConfig(windows=Windows(drivers=60, train=60, cov=40), bounds=(0.05, 0.4),
                            reselect_every=2, start="2015-06-01")
    return run_backtest(tiny_market, [SPEC], config, benchmarks=["equal", "hrp"])


@pytest.fixture(scope="session")
def run_dir(tiny_result, tmp_path_factory):
    return write_run(tiny_result, tmp_path_factory.mktemp("runs") / "tiny")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


NO_CHROMIUM = "headless Chromium not found (install it: apt-get install -y chromium)"


def no_chromium() -> None:
    """Skip the browser test, saying why; under CI (``CI=true``) fail instead, so a CI image
    without the browser cannot pass with the browser tests quietly skipped."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{NO_CHROMIUM}; CI=true requires it")
    pytest.skip(NO_CHROMIUM)


def render_in_chromium(html_file: Path) -> tuple[str, str]:
    """Load a local file in headless Chromium; returns (DOM after scripts ran, stderr log)."""
    exe = find_chromium()
    if exe is None:
        no_chromium()
    with tempfile.TemporaryDirectory(prefix="cf-chromium-") as profile:
        proc = subprocess.run(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
             html_file.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc.stdout, proc.stderr


def console_messages(log: str) -> list[str]:
    """The page's console output (messages and uncaught errors) in Chromium's stderr log."""
    return [line for line in log.splitlines() if ":CONSOLE" in line]


@pytest.fixture
def browser():
    """(render_in_chromium, console_messages); skips when Chromium is absent (fails under CI)."""
    if find_chromium() is None:
        no_chromium()
    return render_in_chromium, console_messages


@pytest.fixture(scope="session")
def ablation_dir(tiny_market, tmp_path_factory):
    from causalfolio.ablation import Grid, run_ablation

    grid = Grid.from_specs(["rccp(k={2,4})|linear|beta|static|{hsp,hrp}"], benchmarks=["equal"],
                           settings={"start": "2015-10-01", "cov_window": 40,
                                     "driver_window": 60, "train_window": 60})
    out = tmp_path_factory.mktemp("abl") / "study"
    run_ablation(tiny_market, grid, out, executor="serial", cache_dir=False)
    return out


@pytest.fixture(scope="session")
def full_report(run_dir, tiny_market, tiny_result, tmp_path_factory):
    """The report written with the market and the in-memory result (risk attribution, paths)."""
    from causalfolio.report.html import write_report

    return write_report(run_dir, tmp_path_factory.mktemp("full") / "sub" / "report.html",
                        market=tiny_market, result=tiny_result)
