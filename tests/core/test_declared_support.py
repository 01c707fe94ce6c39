"""Declared support is tested support: what pyproject.toml declares matches what the code and the
tests import, Python 3.10 reads grid files (``tomli``), pgmpy is capped below the release that
drops the private API ``bayesnet`` overrides, and CI cannot skip the browser tests silently."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
import warnings
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from causalfolio._toml import tomllib

ROOT = Path(__file__).resolve().parents[2]
CFG = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Tools run from the command line (not imported by the test files).
TOOLS = {"pytest", "ruff"}


def _requirements(items: list[str]) -> dict[str, Requirement]:
    reqs = [Requirement(r) for r in items]
    return {re.sub(r"[-_.]+", "-", r.name).lower(): r for r in reqs}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_modules(folder: Path) -> set[str]:
    mods: set[str] = set()
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                mods.add(str(node.args[0].value).split(".")[0])
    return mods


def _third_party(mods: set[str]) -> dict[str, set[str]]:
    """module -> distributions providing it, for modules outside the standard library and us."""
    dists = packages_distributions()
    out = {}
    for m in mods:
        if m in sys.stdlib_module_names or m in ("causalfolio", "conftest") or m.startswith("_"):
            continue
        if any((ROOT / "tests").rglob(f"{m}.py")):
            continue  # a test helper module
        out[m] = {_norm(d) for d in dists.get(m, [m])}
    return out


def test_every_module_the_tests_import_is_declared():
    declared = set(_requirements(CFG["project"]["dependencies"]))
    for extra in CFG["project"]["optional-dependencies"].values():  # dev, test, data, nn, ...
        declared |= set(_requirements(extra))
    declared |= {"pgmpy", "packaging"}  # packaging comes with pytest (a dependency of it)
    missing = {m: d for m, d in _third_party(_imported_top_modules(ROOT / "tests")).items()
               if not d & declared}
    assert not missing, f"declare these in pyproject.toml (the dev/test extra): {missing}"


def test_every_dev_dependency_is_used():
    used = set()
    for dists in _third_party(_imported_top_modules(ROOT / "tests")).values():
        used |= dists
    extras = CFG["project"]["optional-dependencies"]
    dev = {**_requirements(extras["dev"]), **_requirements(extras.get("test", []))}
    unused = sorted(n for n in dev if n not in used and n not in TOOLS and n != "causalfolio")
    assert not unused, f"unused dev dependencies (drop them from pyproject.toml): {unused}"


def test_pgmpy_is_capped_below_the_release_without_the_overridden_api():
    req = _requirements(CFG["project"]["dependencies"])["pgmpy"]
    assert not req.specifier.contains(Version("1.3.0"))
    assert req.specifier.contains(Version("1.1.2"))
    # the private method bayesnet overrides still exists in the installed pgmpy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgmpy's own deprecation notices on import
        from pgmpy.estimators import HillClimbSearch

    assert hasattr(HillClimbSearch, "_legal_operations")


def test_grid_files_are_read_without_tomllib(monkeypatch, tmp_path):
    """Python 3.10 has no tomllib: the tomli backport (declared for < 3.11) reads grid files."""
    pytest.importorskip("tomli", reason="tomli is in the dev extra")
    req = _requirements(CFG["project"]["dependencies"])["tomli"]
    assert req.marker is not None and req.marker.evaluate({"python_version": "3.10"})
    assert not req.marker.evaluate({"python_version": "3.11"})
    monkeypatch.setitem(sys.modules, "tomllib", None)  # `import tomllib` now fails
    monkeypatch.delitem(sys.modules, "causalfolio._toml")
    toml = importlib.import_module("causalfolio._toml")
    assert toml.tomllib.__name__ == "tomli"
    from causalfolio.ablation import Grid

    path = tmp_path / "g.toml"
    path.write_text('specs = ["rccp(k={2,3})|linear|beta|static|hsp"]\n[backtest]\n'
                    'cov_window = [40, 50]\n')
    grid = Grid.from_toml(path)
    assert len(grid.combinations()) == 4


def _run_chromium_script(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    """Run .ci/chromium with a PATH holding no browser and no apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("id",):
        target = bin_dir / tool
        if not target.exists():
            target.symlink_to(shutil.which(tool))
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([shutil.which("bash"), str(ROOT / ".ci" / "chromium")], env=env,
                          capture_output=True, text=True, timeout=60)


def test_ci_fails_without_chromium(tmp_path):
    proc = _run_chromium_script(tmp_path, "true")
    assert proc.returncode == 1, proc.stderr
    assert "Chromium is missing" in proc.stderr and "CI=true" in proc.stderr
    proc = _run_chromium_script(tmp_path, None)
    assert proc.returncode == 0 and "will be skipped" in proc.stderr
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "bash .ci/chromium" in ci
    assert ci.index("bash .ci/chromium") < next(i for i, line in enumerate(ci)
                                                if "pytest" in line and not line.startswith("#"))


def _report_conftest():
    spec = importlib.util.spec_from_file_location("_report_conftest",
                                                  ROOT / "tests" / "report" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_browser_tests_fail_under_ci_without_chromium(tmp_path, monkeypatch):
    """With CI=true and no Chromium on PATH, the browser tests fail instead of skipping."""
    conftest = _report_conftest()
    page = tmp_path / "p.html"
    page.write_text("<html></html>")
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser here
    assert conftest.find_chromium() is None
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        conftest.render_in_chromium(page)
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        conftest.no_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="headless Chromium not found"):
        conftest.render_in_chromium(page)
