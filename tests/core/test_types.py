"""mypy over engine/ (installed as causalfolio) with the configuration in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_engine_type_checks(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (it is in the dev extra)")
    # engine/ installs as `causalfolio`: check it under that name, so that its absolute
    # `causalfolio.` imports resolve to the same files.
    (tmp_path / "causalfolio").symlink_to(ROOT / "engine", target_is_directory=True)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "-p", "causalfolio"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("Success: no issues found")
