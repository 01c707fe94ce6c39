"""The built wheel ships every package folder; the built-ins register from the installed wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from causalfolio._toml import tomllib

ROOT = Path(__file__).resolve().parents[2]
MAPPING = {"engine": "causalfolio", "plugins": "causalfolio/plugins"}


def _package_folders() -> set[str]:
    """Every folder with an __init__.py under engine/ and plugins/, as an installed path."""
    out = set()
    for top, target in MAPPING.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).as_posix()
            out.add(target if rel == "." else f"{target}/{rel}")
    return out


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = {p.replace(".", "/") for p in cfg["tool"]["setuptools"]["packages"]}
    missing = _package_folders() - listed
    assert not missing, f"add these packages to [tool.setuptools] packages: {sorted(missing)}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for top in MAPPING:
        shutil.copytree(ROOT / top, src / top, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("causalfolio-*.whl")
    return whl


def test_wheel_contains_every_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    inits = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    assert _package_folders() <= inits, sorted(_package_folders() - inits)
    modules = {n for n in names if n.endswith(".py")}
    for top, target in MAPPING.items():
        for py in (ROOT / top).rglob("*.py"):
            if "__pycache__" in py.parts:
                continue
            assert f"{target}/{py.relative_to(ROOT / top).as_posix()}" in modules
    assert not any(n.startswith(("engine/", "plugins/")) for n in names)
    assert "causalfolio/py.typed" in names  # PEP 561 marker: type checkers use our hints


def test_builtins_register_from_the_installed_wheel(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(target), str(wheel)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    code = ("import causalfolio, causalfolio.plugins; from causalfolio.registry import "
            "get_registry; r = get_registry(); print(causalfolio.__file__); "
            "print(sorted(e.name for e in r.entries())); print(r.failures)")
    env = {**os.environ, "PYTHONPATH": str(target), "CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    where, names, failures = proc.stdout.splitlines()
    assert where.startswith(str(target))
    for name in ("rccp", "linear", "beta", "static", "hsp", "hrp", "equal"):
        assert f"'{name}'" in names
    assert failures == "[]"
