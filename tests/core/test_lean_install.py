"""The core runs without torch and without the test-only libraries (issue 15, lean install).

A fresh interpreter blocks every library that is not a core dependency in pyproject.toml (torch,
the test extra, dask) with a ``sys.meta_path`` finder, as a ``pip install -e .`` without extras
would leave them missing, then runs a linear backtest, a small ablation and a report; the torch
components stay registered, are marked in ``causalfolio plugins`` and raise a one-line error naming
``causalfolio[nn]``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from causalfolio._toml import tomllib

ROOT = Path(__file__).resolve().parents[2]
IMPORT_NAME = {"pyportfolioopt": "pypfopt", "scikit-learn": "sklearn"}
SPEC = "rccp(k=3)|linear(lags=[0,1])|beta|static|hsp"


def _names(requirements: list[str]) -> set[str]:
    """Import names of requirement strings (causalfolio's own extras left out)."""
    return {IMPORT_NAME.get(d, d.replace("-", "_")) for d in map(_dist, requirements)
            if d != "causalfolio"}


def _dependency_closure(names: set[str]) -> set[str]:
    """Distribution names of ``names`` and everything they require (installed metadata)."""
    seen: set[str] = set()
    stack = list(names)
    while stack:
        dist = stack.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            reqs = importlib.metadata.requires(dist) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        stack.extend(_dist(r) for r in reqs if "extra ==" not in r)
    return seen


def _dist(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower().replace("_", "-")


def _blocked() -> list[str]:
    """Import names of the extra-only dependencies: what a bare ``pip install .`` lacks (those a
    core dependency pulls in anyway, e.g. threadpoolctl for scikit-learn, stay)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _dependency_closure({_dist(r) for r in project["dependencies"]})
    extra = {_dist(r) for reqs in project["optional-dependencies"].values() for r in reqs}
    return sorted(IMPORT_NAME.get(d, d.replace("-", "_")) for d in extra - core
                  if d != "causalfolio")


def test_torch_and_test_libraries_are_extras_not_core():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _names(project["dependencies"])
    extras = project["optional-dependencies"]
    assert "torch" not in core and "torch" in _names(extras["nn"])
    for test_only in ("pytest", "pypfopt", "skfolio", "copulas"):
        assert test_only not in core and test_only in _names(extras["test"])
    # the README's `pip install -e ".[dev]"` still sets up everything: dev includes nn and test
    assert any(r.replace(" ", "").startswith("causalfolio[") and "nn" in r and "test" in r
               for r in extras["dev"])
    assert {"torch", "pytest", "skfolio"} <= set(_blocked())


PROBE = textwrap.dedent("""
    import contextlib, io, json, sys, tempfile
    from pathlib import Path

    BLOCKED = set(sys.argv[1].split(","))

    class Blocker:
        # a lean install: these packages are not there
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, Blocker())

    import causalfolio as cf
    from causalfolio.ablation import Grid, run_ablation
    from causalfolio.cli import main
    from causalfolio.report import write_report
    from causalfolio.backtest import write_run

    out = {}
    reg = cf.get_registry()
    out["failures"] = [f.name for f in reg.failures]
    out["registered"] = sorted(e.name for e in reg.entries())
    market = cf.synthetic_market(seed=3, n_assets=6, n_days=420, n_noise=4)
    config = cf.BacktestConfig(start="2016-01-04")
    res = cf.run_backtest(market, [sys.argv[2]], config, benchmarks=["equal", "mvo"])
    out["weights"] = {k: s.weights.to_numpy().tolist() for k, s in res.strategies.items()}
    tmp = Path(tempfile.mkdtemp())
    out["report"] = write_report(write_run(res, tmp / "run")).is_file()
    grid = Grid.from_specs("rccp(k=3)|linear|{beta,fd}|static|{hsp,hrp}",
                           settings={"start": "2016-04-01"})
    abl = run_ablation(market, grid, tmp / "abl", executor="serial", cache_dir=False)
    out["ablation_ok"] = int((abl.table["status"] == "ok").sum())
    try:
        cf.parse_spec("rccp(k=3)|fnn|aad|static|hsp")
    except cf.CausalfolioError as exc:
        out["fnn_error"] = str(exc)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        out["cli_status"] = main(["spec", "rccp(k=3)|linear|aad|static|hsp"])
    out["cli_stderr"] = err.getvalue()
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        main(["plugins", "--stage", "forecasting"])
    out["plugins"] = text.getvalue()
    out["loaded"] = sorted(m for m in BLOCKED if m in sys.modules)
    print(json.dumps(out))
""")


def test_core_runs_without_torch_and_test_libraries(tmp_path):
    blocked = _blocked()
    env = {**os.environ, "CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", PROBE, ",".join(blocked), SPEC],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["failures"] == [] and out["loaded"] == []
    # the torch components are still registered, and marked with the extra that installs them
    assert {"fnn", "aad", "nn", "rnn", "linear", "sklearn", "beta", "fd"} <= set(out["registered"])
    for name in ("nn", "rnn"):
        line = next(ln for ln in out["plugins"].splitlines() if ln.strip().startswith(name + " "))
        assert "requires torch: not installed, pip install 'causalfolio[nn]'" in line
    assert "fnn needs torch, which is not installed" in out["fnn_error"]
    assert ">>fnn<<" in out["fnn_error"]  # pointed at in the spec
    assert "pip install 'causalfolio[nn]'" in out["fnn_error"]
    assert out["cli_status"] == 2
    assert out["cli_stderr"].count("\n") == 1 and "causalfolio[nn]" in out["cli_stderr"]
    assert out["report"] and out["ablation_ok"] == 4
    # same weights as in this (full) environment: the lean install changes nothing it can run
    import causalfolio as cf

    market = cf.synthetic_market(seed=3, n_assets=6, n_days=420, n_noise=4)
    res = cf.run_backtest(market, [SPEC], cf.BacktestConfig(start="2016-01-04"),
                          benchmarks=["equal", "mvo"])
    assert set(res.strategies) == set(out["weights"]) and len(res.strategies) == 3
    for key, strategy in res.strategies.items():
        np.testing.assert_allclose(np.array(out["weights"][key]), strategy.weights.to_numpy(),
                                   rtol=0, atol=1e-12)
