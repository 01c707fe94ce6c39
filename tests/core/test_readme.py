"""The README's first lines give the two set-up commands, and .ci/run runs the test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def _readme_backtest_command() -> str:
    blocks = re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
    block = next(b for b in blocks if "causalfolio backtest " in b)
    lines = block.replace("\\\n", " ").splitlines()
    return next(line for line in lines if line.startswith("causalfolio backtest "))


@pytest.mark.slow  # ~10 s: a full 2014-2022 monthly backtest of three strategies
def test_readme_quick_start_runs_as_printed_on_skfolios_data(tmp_path, monkeypatch, capsys):
    """The README's backtest command, verbatim, on skfolio's S&P 500 stocks (from 1990) and
    five factor ETFs (from 2014) written as a user would (pandas' to_csv): it runs, and prints
    the loading lines the README shows."""
    import json
    import shlex

    datasets = pytest.importorskip("skfolio.datasets")
    from causalfolio.cli import main

    (tmp_path / "data").mkdir()
    datasets.load_sp500_dataset().to_csv(tmp_path / "data" / "assets.csv")
    datasets.load_factors_dataset().to_csv(tmp_path / "data" / "drivers.csv")
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(_readme_backtest_command())
    assert argv[0] == "causalfolio"
    assert main(argv[1:]) == 0
    out = capsys.readouterr().out.splitlines()
    shown = re.search(r"```text\n(data/assets\.csv: .+?)```",
                      (ROOT / "README.md").read_text(), re.S).group(1).splitlines()
    assert out[:2] == shown
    meta = json.loads((tmp_path / "runs" / "my-run" / "run.json").read_text())
    assert len(meta["strategies"]) == 3 and meta["plugins"] == {}
