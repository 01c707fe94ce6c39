"""Grids: brace expansion counts, canonical names, settings axes, TOML files, task planning."""

from __future__ import annotations

import pytest

from causalfolio.ablation import AXES, Grid, plan_tasks
from causalfolio.ablation.grid import parse_values
from causalfolio.errors import ConfigError, SpecError

SPEC = "rccp(k={4,6})|linear(lags={[0],[0,1]})|beta|static|{hsp,hrp,equal}"


def test_brace_expansion_count_order_and_canonical_names():
    g = Grid.from_specs(SPEC)
    assert len(g.specs) == 2 * 2 * 3
    # leftmost group varies slowest; defaults are dropped from the canonical form
    assert g.specs[0] == "rccp(k=4)|linear|beta|static|hsp"
    assert g.specs[1] == "rccp(k=4)|linear|beta|static|hrp"
    assert g.specs[3] == "rccp(k=4)|linear(lags=[0,1])|beta|static|hsp"
    assert g.specs[-1] == "rccp(k=6)|linear(lags=[0,1])|beta|static|equal"


def test_canonical_duplicates_collapse():
    # k=10 is rccp's default, so both alternatives are the same pipeline
    g = Grid.from_specs("{rccp,rccp(k=10)}|linear(lags=[0])|beta|static|hsp")
    assert g.specs == ("rccp|linear|beta|static|hsp",)


def test_settings_axes_cross_specs_and_benchmarks():
    g = Grid.from_specs(SPEC, benchmarks=["{equal,hrp}"],
                        settings={"cov_window": [42, 63], "seed": 3, "start": "2016-01-04"})
    combos = g.combinations()
    assert len(combos) == 12 * 2 + 2 * 2
    assert g.axes == (("cov_window", (42, 63)), ("seed", (3,)))
    c = combos[1]
    assert c.label == "rccp(k=4)|linear|beta|static|hsp @ cov_window=63"  # seed is fixed
    assert c.stages == {"drivers": "rccp(k=4)", "dynamics": "linear", "sensitivities": "beta",
                        "forecasting": "static", "mapping": "hsp"}
    cfg = c.config(g.fixed)
    assert (cfg.windows.cov, cfg.seed, str(cfg.start.date())) == (63, 3, "2016-01-04")
    assert cfg.windows.drivers == AXES["driver_window"][1]
    bench = combos[-1]
    assert bench.benchmark and bench.stages["drivers"] is None and bench.stages["mapping"] == "hrp"
    ids = [c.id for c in combos]
    assert len(set(ids)) == len(ids)
    # ids depend on the spec and axis values only: rebuilding the grid gives the same ids
    again = Grid.from_specs(SPEC, benchmarks=["equal", "hrp"],
                            settings={"cov_window": [42, 63], "seed": [3]})
    assert [c.id for c in again.combinations()] == ids


def test_stage_alternatives_are_crossed():
    g = Grid.from_specs(stages={"drivers": ["rccp(k=3)", "rccp(k=5)"],
                                "dynamics": "linear(lags={[0],[1]})", "sensitivities": "beta",
                                "forecasting": "static", "mapping": ["hsp", "hrp"]})
    assert len(g.specs) == 8
    assert "rccp(k=5)|linear(lags=[1])|beta|static|hrp" in g.specs


def test_upstream_keys_and_task_planning():
    g = Grid.from_specs(SPEC, settings={"cov_window": [42, 63]})
    combos = g.combinations()
    a, b = combos[0], combos[2]  # same upstream, hsp vs hrp
    assert a.upstream_key(4) == b.upstream_key(4)
    assert a.upstream_key(1) == combos[6].upstream_key(1)  # same drivers, other dynamics
    assert a.upstream_key(2) != combos[6].upstream_key(2)
    # cov_window touches only the mapping: same upstream; seed changes every stage
    assert combos[0].upstream_key(4) == combos[1].upstream_key(4)
    s = Grid.from_specs(SPEC, settings={"seed": [0, 1]}).combinations()
    assert s[0].upstream_key(1) != s[1].upstream_key(1)
    # up to 2 workers: the coarsest level, the driver selection, gives 2 tasks of 12
    assert [len(t) for t in plan_tasks(combos, 1)] == [12, 12]
    assert [len(t) for t in plan_tasks(combos, 2)] == [12, 12]
    # 3 workers need >= 3 tasks: grouped by drivers + dynamics (4 groups of 6)
    tasks = plan_tasks(combos, 3)
    assert [len(t) for t in tasks] == [6, 6, 6, 6]
    assert [c.stages["dynamics"] for c in tasks[1]] == ["linear(lags=[0,1])"] * 6
    # more workers than distinct upstreams: one task per upstream (mappings stay together)
    assert [len(t) for t in plan_tasks(combos, 16)] == [6, 6, 6, 6]
    assert sorted(c.id for t in tasks for c in t) == sorted(c.id for c in combos)
    assert [len(t) for t in plan_tasks(combos, 2, per_combination=True)] == [1] * 24


def test_toml_grid_file(tmp_path):
    f = tmp_path / "grid.toml"
    f.write_text('specs = ["rccp(k=3)|linear|beta|static|hsp"]\n'
                 'benchmarks = "equal"\n'
                 "[stages]\n"
                 'drivers = ["rccp(k=4)", "rccp(k=5)"]\n'
                 'dynamics = "linear(lags={[0],[0,1]})"\n'
                 'sensitivities = "beta"\nforecasting = "static"\nmapping = "hrp"\n'
                 "[backtest]\ncov_window = [30, 40]\ntrain_window = 60\n"
                 'schedule = "quarterly"\n')
    g = Grid.from_toml(f, settings={"cov_window": [50]})
    assert len(g.specs) == 1 + 4 and g.benchmarks == ("equal",)
    assert dict(g.axes) == {"cov_window": (50,), "train_window": (60,)}  # CLI overrides file
    assert g.fixed["schedule"] == "quarterly"
    assert len(g.combinations()) == 6


@pytest.mark.parametrize(("text", "message"), [
    ("nonsense = 1\n", "unknown key"),
    ("specs = [\n", "not a valid TOML"),
    ('specs = ["rccp|linear|beta|static|hsp"]\n[backtest]\nwindowz = 3\n',
     "unknown backtest setting 'windowz'"),
    ('specs = ["rccp|linear|beta|static|hsp"]\n[backtest]\ncov_window = []\n', "empty list"),
    ('specs = ["rccp|linear|beta|static|hsp"]\n[backtest]\ncov_window = 2.5\n', "integers"),
    ('[stages]\ndrivers = "rccp"\n', "lack dynamics"),
    ('specs = ["rccp|linear|beta|static|hsp"]\n[backtest]\nschedule = ["2020-01-02"]\n',
     "schedule must be one of"),
])
def test_bad_grid_files(tmp_path, text, message):
    f = tmp_path / "g.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Grid.from_toml(f)


def test_bad_specs_and_values():
    with pytest.raises(ConfigError, match="grid file not found"):
        Grid.from_toml("/nonexistent/grid.toml")
    with pytest.raises(SpecError, match="benchmark"):
        Grid.from_specs(["hrp"])
    with pytest.raises(SpecError, match="single mapping"):
        Grid.from_specs([], benchmarks=["rccp|linear|beta|static|hsp"])
    with pytest.raises(SpecError, match="lineer"):
        Grid.from_specs("rccp|{linear,lineer}|beta|static|hsp")
    with pytest.raises(ConfigError, match="no pipeline"):
        Grid.from_specs([])
    assert parse_values("cov_window", "42, 63") == [42, 63]
    assert parse_values("drift", "true,false") == [True, False]
    assert parse_values("min_weight", "0,0.03") == [0.0, 0.03]
    with pytest.raises(ConfigError, match="empty value"):
        parse_values("cov_window", "42,")
    with pytest.raises(ConfigError, match="true/false"):
        parse_values("drift", "maybe")
