"""A separately installed third-party plugin package is found through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "causalfolio-example-plugin"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("plugin-site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q",
         "--target", str(target), str(PLUGIN)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return target


PLUGIN_ENV = ("CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD", "CAUSALFOLIO_BLOCK_PLUGINS")


def _run(code: str, site: Path, **env) -> subprocess.CompletedProcess:
    """Run ``code`` with the plugin on the path and exactly the plugin settings in ``env``
    (never the ones of the environment running the tests)."""
    inherited = {k: v for k, v in os.environ.items() if k not in PLUGIN_ENV}
    full_env = {**inherited, "PYTHONPATH": str(site), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=300)


PIPELINE = """
import numpy as np
import causalfolio as cf
from causalfolio.backtest import BacktestConfig, run_backtest
reg = cf.get_registry()
print(reg.provider('mapping', 'isolation'))
m = cf.synthetic_market(n_assets=6, n_days=300, n_noise=4, seed=3)
spec = 'rccp(k=3)|linear|beta|static|isolation(power=2)'
res = run_backtest(m, spec, BacktestConfig(min_weight=0.05, max_weight=0.5))
s = res.strategies[cf.parse_spec(spec).spec]
last = s.rebalances[-1]
d = last.sensitivities.distance
expected = (d.sum(1) / 5) ** 2
expected = np.clip(expected / expected.sum(), 0.05, 0.5)
print(cf.parse_spec(spec).spec, len(s.rebalances), bool(np.allclose(s.weights.sum(1), 1)))
print(float(np.corrcoef(expected, last.weights.to_numpy())[0, 1]))
"""


def test_pipeline_uses_the_third_party_component_by_name(plugin_site):
    proc = _run(PIPELINE, plugin_site)
    assert proc.returncode == 0, proc.stderr
    provider, summary, corr = proc.stdout.splitlines()
    assert provider == "isolation"
    spec, n, sums = summary.split()
    assert spec == "rccp(k=3)|linear|beta|static|isolation(power=2.0)"
    assert int(n) > 3 and sums == "True"
    assert float(corr) > 0.99


def test_autoload_off_hides_the_plugin(plugin_site, monkeypatch):
    # the checks must hold for the reason they test, whatever the outer environment says
    monkeypatch.setenv("CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("CAUSALFOLIO_BLOCK_PLUGINS", "isolation")
    code = ("import causalfolio as cf\ntry:\n    cf.parse_spec('rccp|linear|beta|static|isolation')"
            "\n    print('found')\nexcept cf.SpecError as e:\n    print('error:', e)")
    proc = _run(code, plugin_site)  # positive control: visible by default
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "found"
    proc = _run(code, plugin_site, CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD="1")
    assert proc.returncode == 0, proc.stderr
    assert "unknown risk mapping 'isolation'" in proc.stdout
    proc = _run(code.replace("isolation'", "isolation(power=3)'"), plugin_site,
                CAUSALFOLIO_BLOCK_PLUGINS="isolation")
    assert proc.returncode == 0, proc.stderr
    assert "unknown risk mapping 'isolation'" in proc.stdout
    proc = _run(code, plugin_site, CAUSALFOLIO_BLOCK_PLUGINS="some_other_plugin")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "found"


PROVENANCE = """
import json, sys, tempfile
import causalfolio as cf
from causalfolio.backtest import BacktestConfig, run_backtest, write_run
from causalfolio.cli import main
main(["plugins", "--stage", "mapping"])
m = cf.synthetic_market(n_assets=5, n_days=200, n_noise=3, seed=1)
res = run_backtest(m, "rccp(k=2)|linear|beta|static|isolation", BacktestConfig(
    driver_window=60, train_window=60, cov_window=40, schedule="quarterly"), benchmarks=["hrp"])
out = tempfile.mkdtemp() + "/run"
write_run(res, out)
print(json.dumps(json.load(open(out + "/run.json"))["plugins"]))
"""


@pytest.fixture(scope="module")
def unpacked_site(tmp_path_factory) -> Path:
    """The example plugin as pip lays it out (module, dist-info with METADATA and entry points),
    written directly: no build tools needed."""
    import shutil

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    meta = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    target = tmp_path_factory.mktemp("plugin-unpacked")
    shutil.copy(PLUGIN / "causalfolio_example_plugin.py", target)
    info = target / f"causalfolio_example_plugin-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\n"
                                   f"Version: {meta['version']}\n")
    eps = meta["entry-points"]["causalfolio"]
    (info / "entry_points.txt").write_text(
        "[causalfolio]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    return target


def test_plugins_lists_the_distribution_and_run_json_records_it(unpacked_site):
    """The listing names the installed package and its version (and the entry-point key, which
    differs); run.json records the plugin distributions a run used, not the built-ins."""
    proc = _run(PROVENANCE, unpacked_site)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    iso = [line for line in lines if line.startswith("  isolation ")]
    assert len(iso) == 1
    assert iso[0].endswith("[causalfolio-example-plugin 0.1.0, entry point isolation]")
    assert any(line.startswith("  hsp ") and line.endswith("[causalfolio.plugins.mapping.hsp]")
               for line in lines)
    import json

    assert json.loads(lines[-1]) == {"mapping:isolation": {
        "provider": "isolation", "distribution": "causalfolio-example-plugin",
        "version": "0.1.0"}}
