"""Bounded work (issue #14, item 4): the size of a grid is computed from the parse trees before
anything is expanded and refused above ``max_combinations`` (default 10,000) with the count;
expansion and de-duplication take linear time."""

from __future__ import annotations

import tracemalloc
import types

import pytest

from causalfolio.ablation import Grid
from causalfolio.ablation import grid as grid_module
from causalfolio.cli import main
from causalfolio.errors import ConfigError
from causalfolio.spec import MAX_COMBINATIONS, count_spec, expand_spec

THIRTY = "|".join(["{a,b}"] * 30)  # 2**30 = 1,073,741,824 specs
SETTINGS_1E8 = {name: list(range(1, 11)) for name in (
    "driver_window", "train_window", "cov_window", "reselect_every", "seed")}
SETTINGS_1E8.update(min_weight=[0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09],
                    max_weight=[0.5 + i / 100 for i in range(10)],
                    cost_bps=[float(i) for i in range(10)])


def test_count_from_the_parse_tree():
    assert MAX_COMBINATIONS == 10_000
    assert count_spec("a") == 1
    assert count_spec("{a,b}|{c,d,e}") == 6
    assert count_spec("{a,{b,c}}|x(k={1,2})") == 6
    assert count_spec("x(s='{a,b}')") == 1  # braces inside quotes are text
    assert count_spec(THIRTY) == 2 ** 30
    assert len(expand_spec("{a,{b,c}}|x(k={1,2})")) == 6


def test_thirty_brace_groups_are_refused_with_the_count():
    with pytest.raises(ConfigError, match=r"1,073,741,824 combinations.*max_combinations=10,000"):
        expand_spec(THIRTY)
    with pytest.raises(ConfigError, match="1,073,741,824"):
        Grid.from_specs(THIRTY.replace("|", "", 25))  # a 5-stage spec of 30 groups


def test_the_cli_refuses_with_the_count_and_the_option(capsys):
    spec = "rccp(k={" + ",".join(str(k) for k in range(2, 12)) + "})|linear(lags={[0],[1]})|" \
        + "|".join("{" + ",".join(f"{s}(seed={i})" for i in range(30)) + "}"
                   for s in ("beta", "static", "hsp"))
    code = main(["spec", spec])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "540,000 combinations" in err
    assert "--max-combinations" in err
    code = main(["ablate", "--spec", THIRTY.replace("|", "", 25), "--synthetic", "0",
                 "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and "1,073,741,824" in err


def test_a_1e8_settings_grid_is_refused_without_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=r"100,000,000 combinations \(1 pipelines and "
                                              r"benchmarks x 100,000,000 settings cells\)"):
            Grid.from_specs("rccp(k=3)|linear|beta|static|hsp", settings=SETTINGS_1E8)
        # a grid built directly refuses in combinations(), before building any
        big = Grid(specs=("rccp(k=3)|linear|beta|static|hsp",),
                   axes=tuple((k, tuple(v)) for k, v in SETTINGS_1E8.items()))
        assert big.size() == 10 ** 8
        with pytest.raises(ConfigError, match="100,000,000"):
            big.combinations()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2 ** 20  # bytes; building the combinations would take tens of GB


def test_the_limit_is_one_option_everywhere(tmp_path, capsys):
    spec = "rccp(k={2,3,4})|linear|beta|static|{hsp,hrp}"  # 6 pipelines
    settings = {"cov_window": [40, 50]}  # x 2 = 12
    with pytest.raises(ConfigError, match="12 combinations.*max_combinations=11"):
        Grid.from_specs(spec, settings=settings, max_combinations=11)
    assert Grid.from_specs(spec, settings=settings, max_combinations=12).size() == 12
    with pytest.raises(ConfigError, match="6 combinations"):
        expand_spec(spec, max_combinations=5)
    with pytest.raises(ConfigError, match="integer >= 1"):
        Grid.from_specs(spec, max_combinations=0)
    path = tmp_path / "g.toml"
    path.write_text(f'max_combinations = 11\nspecs = ["{spec}"]\n[backtest]\n'
                    'cov_window = [40, 50]\n')
    with pytest.raises(ConfigError, match="max_combinations=11"):
        Grid.from_toml(path)
    assert Grid.from_toml(path, max_combinations=12).size() == 12  # the argument overrides
    code = main(["ablate", "--grid", str(path), "--synthetic", "0", "--dry-run"])
    assert code == 2 and "12 combinations" in capsys.readouterr().err
    code = main(["ablate", "--grid", str(path), "--synthetic", "0", "--dry-run",
                 "--max-combinations", "12"])
    assert code == 0 and "12 combinations" in capsys.readouterr().out
    path.write_text('max_combinations = "many"\nspecs = ["equal|x"]\n')
    with pytest.raises(ConfigError, match="max_combinations must be an integer"):
        Grid.from_toml(path)


def test_expansion_of_5000_alternatives_keeps_order_and_removes_duplicates():
    ks = [str(k) for k in range(2, 5002)]
    spec = "rccp(k={" + ",".join(ks + ks[:100]) + "})"
    out = expand_spec(spec, max_combinations=6000)
    assert out == [f"rccp(k={k})" for k in ks]


class _CountingStr(str):
    """A str whose == calls are counted (the comparisons de-duplication makes)."""

    calls = 0

    def __eq__(self, other):
        _CountingStr.calls += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_grid_deduplication_is_linear(monkeypatch):
    """De-duplicating n canonical specs makes O(n) comparisons (a list scan made n^2/2)."""
    real = grid_module.parse_spec

    def counting_parse(spec, registry=None):
        p = real(spec, registry)
        return types.SimpleNamespace(spec=_CountingStr(p.spec), is_benchmark=p.is_benchmark)

    monkeypatch.setattr(grid_module, "parse_spec", counting_parse)
    ks = ",".join(str(k) for k in range(2, 2002))
    spec = "rccp(k={" + ks + "})|linear|beta|static|hsp"
    _CountingStr.calls = 0
    grid = Grid.from_specs([spec, spec])  # 4,000 specs, 2,000 distinct
    assert len(grid.specs) == 2000
    assert _CountingStr.calls <= 3 * 4000, _CountingStr.calls
