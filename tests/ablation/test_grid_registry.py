"""The registry given to a Grid is the one every part of run_ablation uses (issue 14, item 6)."""

from __future__ import annotations

import attrs
import numpy as np
import pandas as pd
import pytest

from causalfolio.ablation import Grid, run_ablation
from causalfolio.backtest import METRICS, BacktestConfig, run_backtest
from causalfolio.errors import PluginError
from causalfolio.pipeline import Windows
from causalfolio.registry import build_registry
from causalfolio.stages import Allocation, RiskMapping

SETTINGS = {"driver_window": 60, "train_window": 60, "cov_window": 30}
SPEC = "rccp(k=3)|linear|beta|static|{closest_first(power=1),closest_first(power=2)}"


@attrs.define(frozen=True, kw_only=True)
class ClosestFirst(RiskMapping):
    """Weights proportional to (1 / mean sensitivity distance) ** power (a notebook component)."""

    name = "closest_first"
    power: float = 1.0

    def allocate(self, inputs):
        d = np.asarray(inputs.distance, dtype=float)
        score = (1.0 / (d.sum(axis=1) / (len(d) - 1))) ** self.power
        return Allocation(weights=pd.Series(score / score.sum(), index=list(inputs.assets)))


def notebook_registry():
    """A registry with a component added in code, as a notebook user would."""
    reg = build_registry(autoload=False, block=[])
    reg.add("mapping", ClosestFirst, "notebook")
    return reg


@pytest.fixture(scope="module")
def reg():
    return notebook_registry()


def _expected(market, reg, spec):
    cfg = BacktestConfig(windows=Windows(drivers=60, train=60, cov=30))
    res = run_backtest(market, spec, cfg, registry=reg)
    return next(iter(res.strategies.values()))


def test_serial_ablation_runs_and_summarises_with_the_grids_registry(market, reg, tmp_path):
    grid = Grid.from_specs(SPEC, settings=SETTINGS, registry=reg)
    assert grid.pipelines()[grid.specs[0]].mapping.name == "closest_first"
    res = run_ablation(market, grid, tmp_path / "s", executor="serial")
    assert list(res.table["status"]) == ["ok", "ok"], res.table["error"].tolist()
    # the summary parsed the specs too: the varying parameter has its own column
    assert list(res.table["mapping.power"]) == [1.0, 2.0]
    for spec, row in zip(grid.specs, res.table.itertuples(), strict=True):
        strat = _expected(market, reg, spec)
        # same dates as the plain backtest, so the metrics agree exactly
        assert list(res.dates) == list(strat.weights.index)
        for m in METRICS:
            assert getattr(row, m) == pytest.approx(strat.metrics[m], rel=1e-12, abs=1e-15)


def test_processes_executor_rebuilds_the_registry_in_the_workers(market, reg, tmp_path):
    grid = Grid.from_specs(SPEC, settings=SETTINGS, registry=reg)
    serial = run_ablation(market, grid, None, executor="serial", cache_dir=None)
    procs = run_ablation(market, grid, tmp_path / "p", executor="processes", workers=2)
    assert list(procs.table["status"]) == ["ok", "ok"], procs.table["error"].tolist()
    pd.testing.assert_frame_equal(procs.table[["id", *METRICS]],
                                  serial.table[["id", *METRICS]], check_exact=True)


def test_a_registry_that_cannot_travel_is_a_clear_error(market, tmp_path):
    @attrs.define(frozen=True, kw_only=True)
    class Local(ClosestFirst):  # defined in a function: cannot be pickled to a worker
        """A local component."""

        name = "local_first"

    reg = build_registry(autoload=False, block=[])
    reg.add("mapping", Local, "notebook")
    grid = Grid.from_specs("rccp(k=3)|linear|beta|static|local_first", settings=SETTINGS,
                           registry=reg)
    with pytest.raises(PluginError, match="cannot be sent to worker processes.*'serial'"):
        run_ablation(market, grid, tmp_path / "x", executor="processes", workers=2)
    assert not (tmp_path / "x" / "rows").exists() or not any((tmp_path / "x" / "rows").iterdir())
    res = run_ablation(market, grid, None, executor="serial", cache_dir=None)
    assert list(res.table["status"]) == ["ok"]
