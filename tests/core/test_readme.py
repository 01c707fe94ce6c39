"""The README's first lines give the two set-up commands, and .ci/run runs the test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_readme_starts_with_the_two_commands():
    main_job, tests = _commands()[:2]
    head = (ROOT / "README.md").read_text()[:1200]
    assert main_job in head and tests in head
    assert main_job.startswith("python3 -m venv .venv && .venv/bin/pip install torch==2.13.0")
    assert main_job.endswith("causalfolio demo")
    assert tests.endswith("pytest -q")


def test_ci_runs_the_readme_test_command():
    tests = _commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci
