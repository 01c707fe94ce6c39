"""One spelling for the windows and the bounds across the Python API, TOML grids and the command
line (issue 15); the old Python spellings still work, with a FutureWarning."""

from __future__ import annotations

import argparse
import warnings

import attrs
import numpy as np
import pytest

import causalfolio as cf
from causalfolio.ablation import AXES, Grid
from causalfolio.backtest import BacktestConfig
from causalfolio.cli import _config, build_parser
from causalfolio.cli_common import BACKTEST_WINDOWS_AND_BOUNDS
from causalfolio.errors import ConfigError
from causalfolio.pipeline import Windows

SETTINGS = {"driver_window": 100, "train_window": 90, "cov_window": 42, "min_weight": 0.02,
            "max_weight": 0.2}
SPEC = "rccp(k=3)|linear|beta|static|hsp"


def _cli_config(*options: str) -> BacktestConfig:
    args = build_parser().parse_args(["backtest", "--assets", "a.csv", "--drivers", "d.csv",
                                      "--spec", SPEC, *options])
    return _config(args)


def _options(settings: dict) -> list[str]:
    return [t for k, v in settings.items() for t in (f"--{k.replace('_', '-')}", str(v))]


def test_python_toml_and_cli_accept_the_same_names_and_give_the_same_config(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the canonical spelling never warns
        python = BacktestConfig(**SETTINGS)
        cli = _cli_config(*_options(SETTINGS))
        grid_file = tmp_path / "grid.toml"
        grid_file.write_text(f'specs = ["{SPEC}"]\n[backtest]\n'
                             + "".join(f"{k} = {v}\n" for k, v in SETTINGS.items()))
        (toml,) = Grid.from_toml(grid_file).combinations()
        (code,) = Grid.from_specs(SPEC, settings=SETTINGS).combinations()
    assert cli == python
    assert toml.config({}) == python and code.config({}) == python
    assert (python.driver_window, python.train_window, python.cov_window) == (100, 90, 42)
    assert python.windows == Windows(drivers=100, train=90, cov=42)
    assert python.bounds == (0.02, 0.2)
    # ablate's comma-separated axes use the same options
    args = build_parser().parse_args(["ablate", "--spec", SPEC, *_options(SETTINGS)])
    assert {k: getattr(args, k) for k in SETTINGS} == {k: str(v) for k, v in SETTINGS.items()}


def test_every_grid_axis_is_a_config_field_and_an_option_of_both_commands():
    fields = {f.name for f in attrs.fields(BacktestConfig)}
    assert set(AXES) <= fields and set(BACKTEST_WINDOWS_AND_BOUNDS) <= set(AXES)
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("backtest", "ablate"):
        dests = {a.dest: a.option_strings for a in sub.choices[command]._actions}
        for name in BACKTEST_WINDOWS_AND_BOUNDS:
            assert dests[name] == [f"--{name.replace('_', '-')}"], (command, name)
    for name in AXES:  # ablate takes every axis as an option (comma-separated values)
        assert name in {a.dest for a in sub.choices["ablate"]._actions}


def test_old_python_spellings_warn_and_give_the_same_config():
    with pytest.warns(FutureWarning, match="driver_window=, train_window=, cov_window="):
        old_w = BacktestConfig(windows=Windows(drivers=100, train=90, cov=42),
                               min_weight=0.02, max_weight=0.2)
    with pytest.warns(FutureWarning, match="min_weight=, max_weight="):
        old_b = BacktestConfig(driver_window=100, train_window=90, cov_window=42,
                               bounds=(0.02, 0.2))
    assert old_w == old_b == BacktestConfig(**SETTINGS)


@pytest.mark.parametrize("kwargs, message", [
    (dict(bounds=(0.0, 0.5), max_weight=0.4), "either bounds=(min, max) or min_weight="),
    (dict(windows=Windows(), cov_window=40), "either windows="),
    (dict(driver_window=1), "driver_window must be an integer >= 2"),
    (dict(cov_window=40.5), "cov_window must be an integer >= 2"),
    (dict(min_weight=0.3, max_weight=0.2), "0 <= min_weight <= max_weight <= 1"),
    (dict(max_weigth=0.2), "unknown backtest setting(s) max_weigth"),
])
def test_inconsistent_or_misspelt_settings_are_config_errors(kwargs, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises((ConfigError, cf.ParameterError), match=message.replace("(", r"\(")
                           .replace(")", r"\)")):
            BacktestConfig(**kwargs)


def test_pipeline_run_takes_the_same_names_and_the_old_ones_with_a_warning(small_market):
    pipe = cf.parse_spec(SPEC)
    date = small_market.dates[200]
    windows = {"driver_window": 60, "train_window": 60, "cov_window": 40}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = pipe.run(small_market.assets, small_market.candidates, date, **windows,
                       min_weight=0.05, max_weight=0.4)
    with pytest.warns(FutureWarning):
        old = pipe.run(small_market.assets, small_market.candidates, date,
                       windows=Windows(drivers=60, train=60, cov=40), bounds=(0.05, 0.4))
    np.testing.assert_array_equal(new.weights.to_numpy(), old.weights.to_numpy())
    assert new.weights.min() >= 0.05 - 1e-12 and new.weights.max() <= 0.4 + 1e-12
