"""Running grids: identical dates, counted sharing, executors agree, resume, failures, tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from causalfolio.ablation import Grid, run_ablation, summarize
from causalfolio.backtest import METRICS, BacktestConfig, run_backtest
from causalfolio.data import synthetic_market
from causalfolio.errors import ConfigError

SETTINGS = {"driver_window": 60, "train_window": 60, "cov_window": 30}

SPEC = "rccp(k={3,4})|linear(lags={[0],[0,1]})|beta|static|{hsp,hrp}"
KEY = ["id", *METRICS]


def grid(**extra) -> Grid:
    return Grid.from_specs(SPEC, benchmarks=["equal"],
                           settings={**SETTINGS, "cov_window": [20, 30], **extra})


@pytest.fixture(scope="module")
def serial(market, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "study"
    return run_ablation(market, grid(), out, executor="serial")


def test_serial_study_shares_stages_and_matches_plain_backtests(serial, market):
    t = serial.table
    assert len(t) == 8 * 2 + 2 and (t["status"] == "ok").all()
    n = len(serial.dates)
    # distinct stage outputs per date: 2 selections, 4 dynamics, 4 sensitivities, 4 forecasts
    assert serial.stage_computations() == (2 + 4 + 4 + 4) * n
    independent = 16 * 4 * n
    assert independent / serial.stage_computations() > 4
    assert t["stage_computed"].sum() == serial.stage_computations()
    # every combination ran on the same dates: check one against a plain backtest
    row = t.iloc[5]
    cfg = BacktestConfig(schedule=tuple(serial.dates), seed=0,
                         driver_window=60, train_window=60,
                         cov_window=int(row["cov_window"]))
    plain = run_backtest(market, row["spec"], cfg)
    m = plain.strategies[row["spec"]].metrics
    assert plain.dates.equals(serial.dates)
    for k in METRICS:
        assert row[k] == pytest.approx(m[k], rel=1e-12, abs=1e-15)
    pd.testing.assert_series_equal(serial.nav[row["id"]], plain.strategies[row["spec"]].nav,
                                   check_names=False)


def test_tables_columns_and_files(serial):
    t = serial.table
    for col in ("drivers", "dynamics", "mapping", "drivers.k", "dynamics.lags", "cov_window",
                "sharpe", "status", "error", "stage_computed", "stage_reused"):
        assert col in t.columns, col
    assert set(t["drivers.k"].dropna()) == {3, 4}
    assert set(t["dynamics.lags"].dropna()) == {"[0]", "[0,1]"}
    out = serial.out
    on_disk = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(on_disk[KEY], t[KEY])
    csv = pd.read_csv(out / "results.csv")
    np.testing.assert_allclose(csv["sharpe"], t["sharpe"], rtol=1e-9)
    assert len(list((out / "rows").glob("*.json"))) == len(t)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    study = json.loads((out / "study.json").read_text())
    assert study["finished"] == 18 and study["remaining"] == 0 and study["failed"] == 0
    assert pd.read_parquet(out / "nav.parquet").shape[1] == 18


def test_summary_is_the_marginal_mean_of_each_choice(serial):
    t = serial.table
    pipes = t[~t["benchmark"]]
    s = serial.choices
    assert set(s["factor"]) == {"drivers", "dynamics", "mapping", "cov_window"}
    for factor in ("drivers", "mapping", "cov_window"):
        for level, grp in pipes.groupby(pipes[factor].astype(str)):
            row = s[(s.factor == factor) & (s.level == level) & (s.metric == "sharpe")].iloc[0]
            assert row["n"] == len(grp) == 8
            assert row["mean"] == pytest.approx(grp["sharpe"].mean())
            assert row["std"] == pytest.approx(grp["sharpe"].std(ddof=1))
            assert row["mean_minus_overall"] == pytest.approx(grp["sharpe"].mean()
                                                             - pipes["sharpe"].mean())
    # deviations of a factor's levels from the overall mean, weighted by counts, sum to zero
    for factor in set(s["factor"]):
        sub = s[(s.factor == factor) & (s.metric == "total_return")]
        assert (sub["mean_minus_overall"] * sub["n"]).sum() == pytest.approx(0.0, abs=1e-12)
    assert "effect" not in s  # "effect" is the evidence summary's word only


def test_summary_known_answer():
    t = pd.DataFrame({"benchmark": [False] * 4 + [True], "status": ["ok"] * 4 + ["ok"],
                      "drivers": ["a", "a", "b", "b", None], "sharpe": [1.0, 3.0, 5.0, 7.0, 99.0],
                      **{m: 0.0 for m in METRICS if m != "sharpe"}})
    for s in ("dynamics", "sensitivities", "forecasting", "mapping"):
        t[s] = "x"
    s = summarize(t, [], metrics=["sharpe"])
    assert s[["level", "n", "mean", "min", "max", "mean_minus_overall"]].values.tolist() == [
        ["a", 2, 2.0, 1.0, 3.0, -2.0], ["b", 2, 6.0, 5.0, 7.0, 2.0]]
    assert s["std"].tolist() == pytest.approx([2 ** 0.5] * 2)


def test_executors_give_identical_results(serial, market, tmp_path):
    procs = run_ablation(market, grid(), tmp_path / "p", executor="processes", workers=2)
    pd.testing.assert_frame_equal(procs.table[KEY], serial.table[KEY], check_exact=True)
    pd.testing.assert_frame_equal(procs.nav, serial.nav, check_exact=True)


def test_dask_local_cluster_gives_identical_results(serial, market, tmp_path):
    pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed "
                        "(pip install 'causalfolio[distributed]')")
    res = run_ablation(market, grid(), tmp_path / "d", executor="dask", workers=2,
                       dask_processes=False, cache_dir=None)
    pd.testing.assert_frame_equal(res.table[KEY], serial.table[KEY], check_exact=True)
    assert res.stage_computations() >= serial.stage_computations()


def test_resume_after_interruption_loses_nothing(serial, market, tmp_path):
    out = tmp_path / "r"
    seen = []

    def stop_after_five(p):
        seen.append(p["done"])
        if p["done"] == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ablation(market, grid(), out, executor="serial", progress=stop_after_five,
                     cache_dir=None)
    assert seen == [1, 2, 3, 4, 5]
    assert len(list((out / "rows").glob("*.json"))) == 5
    partial = json.loads((out / "study.json").read_text())
    assert partial["finished"] == 5 and partial["remaining"] == 13
    res = run_ablation(market, grid(), out, executor="serial", cache_dir=None)
    assert (res.ran, res.skipped, res.remaining) == (13, 5, 0)
    pd.testing.assert_frame_equal(res.table[KEY], serial.table[KEY], check_exact=True)
    pd.testing.assert_frame_equal(res.nav, serial.nav, check_exact=True)
    again = run_ablation(market, grid(), out, executor="serial", cache_dir=None)
    assert (again.ran, again.skipped, again.stage_computations()) == (0, 18, 0)



def test_an_interrupted_rerun_leaves_no_statistics_of_the_earlier_study(market, tmp_path):
    # comparisons/evidence of a finished study must not survive into a folder whose study.json
    # now describes a larger, unfinished grid: they would be read as this study's evidence
    out = tmp_path / "grow"
    small = Grid.from_specs("rccp(k=3)|linear|beta|static|{hsp,hrp}", benchmarks=["equal"],
                            settings=SETTINGS)
    first = run_ablation(market, small, out, executor="serial", cache_dir=None)
    assert first.evidence is not None
    assert all((out / name).exists() for name in
               ("comparisons.csv", "comparisons.parquet", "evidence.json"))
    large = Grid.from_specs("rccp(k=3)|linear|beta|static|{hsp,hrp,inverse_vol,herc}",
                            benchmarks=["equal"], settings=SETTINGS)

    def stop_after_one(p):
        if p["done"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ablation(market, large, out, executor="serial", progress=stop_after_one,
                     cache_dir=None)
    assert json.loads((out / "study.json").read_text())["remaining"] == 1
    assert not any((out / name).exists() for name in
                   ("comparisons.csv", "comparisons.parquet", "evidence.json"))
    assert (out / "summary.csv").exists() and (out / "results.csv").exists()
    done = run_ablation(market, large, out, executor="serial", cache_dir=None)
    assert done.remaining == 0 and done.evidence is not None
    labels = set(pd.read_csv(out / "comparisons.csv")["label"])
    assert {f"rccp(k=3)|linear|beta|static|{m}" for m in ("inverse_vol", "herc")} <= labels

def test_a_failing_combination_does_not_stop_the_grid(market, tmp_path):
    g = Grid.from_specs("rccp(k={3,40})|linear|beta|static|hsp", benchmarks=["equal"],
                        settings={**SETTINGS, "min_weight": [0.0, 0.5]})
    res = run_ablation(market, g, tmp_path / "f", executor="serial")
    t = res.table.set_index("label")
    assert len(t) == 6
    ok = t[t.status == "ok"]
    assert set(ok.index) == {"rccp(k=3)|linear|beta|static|hsp @ min_weight=0.0",
                             "equal @ min_weight=0.0"}
    k40 = t.loc["rccp(k=40)|linear|beta|static|hsp @ min_weight=0.0"]
    assert k40["status"] == "failed" and k40["error"].startswith("DataError: rccp: k=40")
    bounds = t.loc["equal @ min_weight=0.5"]
    assert "ConfigError: infeasible weight bounds" in bounds["error"]
    assert np.isnan(bounds["sharpe"])
    assert np.isfinite(ok["sharpe"]).all()
    assert set(res.summary["factor"]) == set()  # one successful pipeline: nothing to compare
    # failures are not retried unless asked
    again = run_ablation(market, g, tmp_path / "f", executor="serial")
    assert again.ran == 0
    retried = run_ablation(market, g, tmp_path / "f", executor="serial", retry_failed=True)
    assert retried.ran == 4 and retried.skipped == 2


def test_out_folder_of_another_study_is_protected(market, tmp_path):
    g = Grid.from_specs("rccp(k=3)|linear|beta|static|{hsp,hrp}", settings=SETTINGS)
    out = tmp_path / "s"
    run_ablation(market, g, out, executor="serial")
    other = synthetic_market(seed=2, n_assets=6, n_days=300, n_noise=4)
    with pytest.raises(ConfigError, match="another --out"):
        run_ablation(other, g, out, executor="serial")
    res = run_ablation(other, g, out, executor="serial", force=True)
    assert res.ran == 2
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    for force in (False, True):  # a folder we did not write is refused whatever the flags
        with pytest.raises(ConfigError, match="not an ablation folder"):
            run_ablation(market, g, tmp_path / "x", executor="serial", force=force)
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["notes.txt"]


def test_bad_execution_options(market):
    g = Grid.from_specs("rccp(k=3)|linear|beta|static|hsp", settings=SETTINGS)
    with pytest.raises(ConfigError, match="unknown executor"):
        run_ablation(market, g, executor="threads")
    with pytest.raises(ConfigError, match="workers"):
        run_ablation(market, g, workers=0)
    # importorskip outside pytest.raises: inside, its Skipped exception would end the test
    # silently before the assertion (and the checks above would look like the whole test)
    pytest.importorskip("dask.distributed")
    with pytest.raises(ConfigError, match="Dask scheduler"):
        run_ablation(market, g, executor="dask", scheduler="tcp://127.0.0.1:9",
                     connect_timeout=1)


def test_killed_worker_stops_cleanly_and_a_rerun_completes(serial, market, tmp_path):
    import multiprocessing
    import os
    import signal

    from causalfolio.ablation import WorkerLost

    out = tmp_path / "k"
    killed = []

    def kill_a_worker(p):
        if not killed:
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    with pytest.raises(WorkerLost, match="re-run the same command"):
        run_ablation(market, grid(), out, executor="processes", workers=2,
                     per_combination=True, progress=kill_a_worker)
    assert killed
    finished = len(list((out / "rows").glob("*.json")))
    assert 1 <= finished < 18
    assert json.loads((out / "study.json").read_text())["remaining"] == 18 - finished
    res = run_ablation(market, grid(), out, executor="serial")
    assert (res.ran, res.skipped) == (18 - finished, finished)
    pd.testing.assert_frame_equal(res.table[KEY], serial.table[KEY], check_exact=True)


def test_factors_skip_parameters_that_restate_the_component():
    from causalfolio.ablation.summary import factors

    t = pd.DataFrame({"benchmark": [False] * 4 + [True],
                      "drivers": ["rccp(k=3)", "rccp(k=5)", "greedy(k=3)", "greedy(k=5)", None],
                      "drivers.k": pd.array([3, 5, 3, 5, None], dtype="Int64"),
                      "drivers.eps": [0.0, 0.0, 0.1, 0.1, None],
                      "mapping": ["hsp"] * 4 + ["equal"], "cov_window": [30, 40, 30, 40, 30]})
    for s in ("dynamics", "sensitivities", "forecasting"):
        t[s] = ["x"] * 4 + [None]
    # k splits rccp/greedy rows across methods: a factor; eps only restates the method: not
    assert factors(t, ["cov_window"]) == ["drivers", "drivers.k", "cov_window"]
    only_k = t[t["drivers"].str.startswith("rccp", na=True)]
    assert factors(only_k, ["cov_window"]) == ["drivers", "cov_window"]
