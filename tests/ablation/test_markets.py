"""Markets as a grid axis: seeds and settings, bootstrap replicas, per-market dates and cache keys,
identical arms, the constant-sensitivities warning, --reference and the market options' errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from causalfolio.ablation import (
    Grid,
    MarketGrid,
    StageCache,
    parse_seeds,
    parse_synthetic_params,
    resolve_reference,
    run_ablation,
    run_combination,
)
from causalfolio.ablation.identical import identical_to, same_weights
from causalfolio.ablation.markets import resample_indices, resample_market
from causalfolio.cli import main
from causalfolio.data import synthetic_market
from causalfolio.data.synthetic import prices_from_returns
from causalfolio.errors import ConfigError, ConstantSensitivitiesWarning

SMALL = ["n_assets=6", "n_days=300", "n_noise=4"]
SETTINGS = {"driver_window": 60, "train_window": 60, "cov_window": 30}
ARMS = "rccp(k=3)|linear|beta|{static,vasicek}|hsp"


def small_grid(spec: str = ARMS, **extra) -> Grid:
    return Grid.from_specs(spec, benchmarks=["equal"], settings={**SETTINGS, **extra})


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seeds"), [
    ("5", (5,)), ("0,3,7", (0, 3, 7)), ("0:4", (0, 1, 2, 3)), ("2:3", (2,)), (7, (7,)),
    ([1, "4:6"], (1, 4, 5)),
])
def test_seed_lists_and_ranges(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(("text", "message"), [
    ("5:2", "the range is empty"), ("3:3", "the range is empty"), ("a", "takes seeds"),
    ("1,,2", "takes seeds"), ("0:x", "takes seeds"), ("1,1", "seed repeated"),
    ("-1", "must be >= 0"), (True, "takes seeds"),
])
def test_bad_seeds_are_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_seeds(text)


def test_synthetic_params_are_axes_crossed_with_the_seeds():
    axes = parse_synthetic_params(["n_assets=6,8", "beta_noise=0.1", "specific=false"])
    assert axes == (("n_assets", (6, 8)), ("beta_noise", (0.1,)), ("specific", (False,)))
    mg = MarketGrid.from_options(synthetic="0:2", synthetic_param=["n_assets=6,8", *SMALL[1:]])
    params = mg.params()
    # ids name the axes that vary, then the seed; the seed varies fastest
    assert list(params) == ["n_assets=6,seed=0", "n_assets=6,seed=1", "n_assets=8,seed=0",
                            "n_assets=8,seed=1"]
    assert params["n_assets=8,seed=1"] == {"n_assets": 8, "n_days": 300, "n_noise": 4,
                                           "seed": 1}
    markets = mg.markets()
    m = markets["n_assets=8,seed=1"]
    assert m.assets.shape == (300, 8)
    pd.testing.assert_frame_equal(m.assets, synthetic_market(seed=1, n_assets=8, n_days=300,
                                                             n_noise=4).assets)
    assert parse_synthetic_params({"n_assets": [6, 8]}) == (("n_assets", (6, 8)),)


@pytest.mark.parametrize(("items", "message"), [
    (["n_asets=6"], "no parameter 'n_asets'; did you mean 'n_assets'"),
    (["n_assets"], "takes NAME=V"), (["n_assets="], "takes NAME=V"),
    (["n_assets=6.5"], "takes integers"), (["beta_noise=x"], "takes numbers"),
    (["seed=1"], "give the seeds with --synthetic"), (["n_assets=6", "n_assets=8"], "twice"),
])
def test_bad_synthetic_params_are_errors(items, message):
    with pytest.raises(ConfigError, match=message):
        parse_synthetic_params(items)


def test_market_grid_option_errors(market):
    with pytest.raises(ConfigError, match="--resample replicates real data"):
        MarketGrid.from_options(synthetic="0:2", resample="stationary")
    with pytest.raises(ConfigError, match="--replicas must be an integer >= 1"):
        MarketGrid.from_options(data=market, resample="stationary", replicas=0)
    with pytest.raises(ConfigError, match="--block-days must be an integer >= 1"):
        MarketGrid.from_options(data=market, resample="stationary", block_days=0)
    with pytest.raises(ConfigError, match="need --resample"):
        MarketGrid.from_options(data=market, replicas=3)
    with pytest.raises(ConfigError, match="fewer than 20 bootstrap replicas"):
        MarketGrid.from_options(data=market, resample="stationary", replicas=19)
    few = MarketGrid.from_options(data=market, resample="stationary", replicas=3,
                                  allow_few_replicas=True)
    assert few.to_json()["allow_few_replicas"] is True
    assert "allow_few_replicas" not in MarketGrid.from_options(
        data=market, resample="stationary").to_json()
    with pytest.raises(ConfigError, match="unknown --resample"):
        MarketGrid.from_options(data=market, resample="iid")


# --- resampling ------------------------------------------------------------------------------


def test_stationary_replicas_resample_assets_and_candidates_jointly(market):
    mg = MarketGrid.from_options(data=market, resample="stationary", replicas=4, block_days=10,
                                 allow_few_replicas=True)
    reps = mg.markets()
    assert list(reps) == ["replica=0", "replica=1", "replica=2", "replica=3"]
    # replica 0 is the original path
    pd.testing.assert_frame_equal(reps["replica=0"].assets, market.assets)
    pd.testing.assert_frame_equal(reps["replica=0"].candidates, market.candidates)
    a0, c0 = market.assets.to_numpy(), market.candidates.to_numpy()
    for r in (1, 2, 3):
        rep = reps[f"replica={r}"]
        # the calendar is kept
        assert rep.dates.equals(market.dates)
        assert list(rep.assets.columns) == list(market.assets.columns)
        # the indices are arch's stationary bootstrap, seeded by (seed, replica)
        from arch.bootstrap import StationaryBootstrap

        bs = StationaryBootstrap(10, np.arange(len(market.dates)),
                                 seed=np.random.default_rng([0, r]))
        idx = bs.update_indices()
        np.testing.assert_array_equal(resample_indices(len(market.dates), 10, 0, r), idx)
        # same resampled day for assets and candidates
        np.testing.assert_array_equal(rep.assets.to_numpy(), a0[idx])
        np.testing.assert_array_equal(rep.candidates.to_numpy(), c0[idx])
        assert not np.array_equal(idx, np.arange(len(idx)))
    # a replica does not depend on how many were drawn
    more = MarketGrid.from_options(data=market, resample="stationary", replicas=6,
                                   block_days=10, allow_few_replicas=True).markets()
    pd.testing.assert_frame_equal(more["replica=3"].assets, reps["replica=3"].assets)
    # mean block length: the number of block starts is about n / L
    idx = resample_indices(20000, 10, 0, 1)
    starts = 1 + np.count_nonzero(np.diff(idx) != 1)
    assert 20000 / starts == pytest.approx(10, rel=0.1)


def test_resample_market_keeps_names_and_calendar(market):
    idx = np.arange(len(market.dates))[::-1]
    rev = resample_market(market, idx)
    assert rev.dates.equals(market.dates)
    np.testing.assert_array_equal(rev.candidates.to_numpy()[0], market.candidates.to_numpy()[-1])


# --- runs over several markets ---------------------------------------------------------------


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    mg = MarketGrid.from_options(synthetic="0:2", synthetic_param=SMALL)
    out = tmp_path_factory.mktemp("markets") / "study"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_ablation(mg, small_grid(), out, executor="serial")
    return res, caught


def test_every_row_carries_its_market(study):
    res, _ = study
    t = res.table
    assert list(t["market"].unique()) == ["seed=0", "seed=1"]
    assert len(t) == 2 * 3 and (t["status"] == "ok").all()
    assert set(t["market.seed"]) == {0, 1} and set(t["market.n_assets"]) == {6}
    # combination ids are the same across markets, results differ
    a, b = (t[t["market"] == m].set_index("id") for m in ("seed=0", "seed=1"))
    assert list(a.index) == list(b.index)
    assert not np.allclose(a["sharpe"], b["sharpe"])
    # each market's rows equal a single-market study of that market
    single = run_ablation(synthetic_market(seed=1, n_assets=6, n_days=300, n_noise=4),
                          small_grid(), None, executor="serial", evidence=False)
    np.testing.assert_array_equal(b["sharpe"].to_numpy(), single.table["sharpe"].to_numpy())
    assert single.table["market"].iloc[0] == "seed=1"
    # the folder: rows per market, a market-keyed NAV, the markets in study.json
    out = res.out
    assert len(list((out / "rows").glob("*/*.json"))) == 6
    nav = pd.read_parquet(out / "nav.parquet")
    assert list(nav.columns.levels[0]) == ["seed=0", "seed=1"]
    study_json = json.loads((out / "study.json").read_text())
    assert set(study_json["context"]["markets"]) == {"seed=0", "seed=1"}
    assert study_json["markets"]["synthetic"] == [0, 1]
    on_disk = pd.read_csv(out / "results.csv")
    assert list(on_disk["market"]) == list(t["market"])


def test_identical_arms_and_one_warning(study):
    res, caught = study
    t = res.table
    vas = t[t["forecasting"] == "vasicek"]
    assert (vas["identical_to"] == "rccp(k=3)|linear|beta|static|hsp").all()
    assert t.loc[t["forecasting"] == "static", "identical_to"].isna().all()
    assert t.loc[t["benchmark"], "identical_to"].isna().all()
    # the same Sharpe ratio, exactly: identical portfolios
    for _m, g in t.groupby("market"):
        s = g.set_index("forecasting")["sharpe"]
        assert s["vasicek"] == s["static"]
    const = [w for w in caught if issubclass(w.category, ConstantSensitivitiesWarning)]
    assert [str(w.message) for w in const] == [
        "vasicek: the sensitivities are constant over the window (linear|beta?); the forecast "
        "equals static"]


def test_identical_arms_across_executors(study, tmp_path):
    res, _ = study
    mg = MarketGrid.from_options(synthetic="0:2", synthetic_param=SMALL)
    procs = run_ablation(mg, small_grid(), tmp_path / "p", executor="processes", workers=2)
    cols = ["market", "id", "identical_to", "sharpe", "turnover"]
    pd.testing.assert_frame_equal(procs.table[cols], res.table[cols], check_exact=True)
    # resuming reads the weights back and finds the same groups
    again = run_ablation(mg, small_grid(), tmp_path / "p", executor="serial")
    assert again.ran == 0 and again.skipped == 6
    pd.testing.assert_frame_equal(again.table[cols], res.table[cols], check_exact=True)


def test_same_weights_tolerance():
    idx = pd.to_datetime(["2020-01-31", "2020-02-28"])
    a = pd.DataFrame([[0.5, 0.5], [0.3, 0.7]], index=idx, columns=["x", "y"])
    assert same_weights(a, a + 5e-13)
    assert not same_weights(a, a + 1e-11)
    assert same_weights(a, a[["y", "x"]])
    assert not same_weights(a, a.iloc[:1])
    from causalfolio.ablation import Combination

    c = [Combination(spec=s) for s in ("p1", "p2", "p3")]
    got = identical_to(c, {c[0].id: a, c[1].id: a + 1e-3, c[2].id: a + 1e-13})
    assert got == {c[0].id: None, c[1].id: None, c[2].id: "p1"}


def test_common_dates_are_per_market(tmp_path):
    mg = MarketGrid.from_options(synthetic="0", synthetic_param=["n_assets=6", "n_noise=4",
                                                                 "n_days=300,340"])
    res = run_ablation(mg, small_grid("rccp(k=3)|linear|beta|static|hsp"), None,
                       executor="serial", evidence=False)
    d = res.market_dates
    assert list(d) == ["n_days=300,seed=0", "n_days=340,seed=0"]
    assert len(d["n_days=340,seed=0"]) > len(d["n_days=300,seed=0"])
    assert d["n_days=340,seed=0"][: len(d["n_days=300,seed=0"])].equals(d["n_days=300,seed=0"])
    assert (res.table.groupby("market")["id"].count() == 2).all()


def test_stage_cache_keys_differ_per_market(market):
    grid = small_grid("rccp(k=3)|linear|beta|static|hsp")
    combo = grid.combinations()[0]
    other = synthetic_market(seed=2, n_assets=6, n_days=300, n_noise=4)
    replica = MarketGrid.from_options(data=market, resample="stationary", replicas=2,
                                      block_days=10, allow_few_replicas=True).markets()[
        "replica=1"]
    from causalfolio.ablation import common_dates

    keys = []
    for m in (market, other, replica):
        cache = StageCache()
        rec = run_combination(m, combo, common_dates(m, grid, [combo]), grid.fixed, cache)
        assert rec["status"] == "ok"
        keys.append(set(cache))
    assert keys[0] and all(k for k in keys)
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]
    # the same market again: every key is found
    cache = StageCache()
    run_combination(market, combo, common_dates(market, grid, [combo]), grid.fixed, cache)
    assert set(cache) == keys[0]


def test_mapping_of_markets_and_reference(market):
    g = small_grid(cov_window=[20, 30])
    combos = g.combinations()
    assert resolve_reference(combos, None) == "equal @ cov_window=20"
    assert resolve_reference(combos, "equal @ cov_window=30") == "equal @ cov_window=30"
    one = small_grid("rccp(k=3)|linear|beta|static|hsp").combinations()
    assert resolve_reference(one, "equal") == "equal"
    assert resolve_reference(one, "rccp(k=3)|linear|beta|static|hsp()") == \
        "rccp(k=3)|linear|beta|static|hsp"
    with pytest.raises(ConfigError, match="'hrp' is not in the grid; choose a benchmark or a "
                                          "combination: .*equal"):
        resolve_reference(one, "hrp")
    with pytest.raises(ConfigError, match="matches 2 combinations"):
        resolve_reference(combos, "equal")
    with pytest.raises(ConfigError, match="is not in the grid"):
        resolve_reference(one, "((")
    with pytest.raises(ConfigError, match="not a causalfolio Market"):
        run_ablation({"a": 1}, g, None, executor="serial")


# --- the command line ------------------------------------------------------------------------

BASE = ["ablate", "--start", "2015-09-01", "--driver-window", "60", "--train-window", "60",
        "--cov-window", "30", "--executor", "serial"]


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    m = synthetic_market(seed=4, n_assets=6, n_days=300, n_noise=4)
    d = tmp_path_factory.mktemp("real")
    prices_from_returns(m.assets).to_csv(d / "assets.csv")
    prices_from_returns(m.candidates).to_csv(d / "drivers.csv")
    return d / "assets.csv", d / "drivers.csv"


@pytest.mark.parametrize(("args", "message"), [
    (["--synthetic", "5:2"], "--synthetic 5:2: the range is empty"),
    (["--synthetic", "0", "--synthetic-param", "n_asets=6"], "did you mean 'n_assets'"),
    (["--synthetic", "0:2", "--resample", "stationary"], "--resample replicates real data"),
    (["--synthetic", "0", "--reference", "hrp"], "--reference 'hrp' is not in the grid"),
    (["REAL", "--resample", "stationary", "--replicas", "0"],
     "--replicas must be an integer >= 1"),
    (["REAL", "--resample", "stationary", "--block-days", "0"],
     "--block-days must be an integer >= 1"),
    (["REAL", "--replicas", "3"], "--replicas and --block-days need --resample"),
    (["REAL", "--resample", "stationary", "--replicas", "10"],
     "--replicas 10: fewer than 20 bootstrap replicas; their spread is the standard error"),
    (["REAL", "--allow-few-replicas"], "--allow-few-replicas needs --resample stationary"),
])
def test_market_options_errors_are_one_line(args, message, real_files, capsys, tmp_path):
    if args[0] == "REAL":
        args = ["--assets", str(real_files[0]), "--drivers", str(real_files[1]), *args[1:]]
    out = tmp_path / "never"
    argv = [*BASE, "--spec", "rccp(k=3)|linear|beta|static|hsp", "--benchmark", "equal",
            "--out", str(out), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("causalfolio: error:") and message in err, err
    assert len(err.splitlines()) == 1
    assert not out.exists()


def test_grid_file_market_table(tmp_path, capsys):
    f = tmp_path / "g.toml"
    f.write_text('specs = ["rccp(k=3)|linear|beta|static|hsp"]\nbenchmarks = ["equal"]\n'
                 '[market]\nsynthetic = "0:2"\n'
                 'synthetic_param = {n_assets = 6, n_days = 300, n_noise = 4}\n')
    assert main([*BASE, "--grid", str(f), "--quiet", "--out", str(tmp_path / "o")]) == 0
    t = pd.read_csv(tmp_path / "o" / "results.csv")
    assert list(t["market"].unique()) == ["seed=0", "seed=1"]
    assert set(t["market.n_assets"]) == {6}
    capsys.readouterr()
    bad = tmp_path / "b.toml"
    bad.write_text('specs = ["rccp|linear|beta|static|hsp"]\n[market]\nsynthetc = 3\n')
    assert main([*BASE, "--grid", str(bad)]) == 2
    assert "unknown key(s) ['synthetc'] in [market]" in capsys.readouterr().err


def _check_evidence_folder(out, n_markets, capsys_text, *, replicas=False):
    t = pd.read_csv(out / "results.csv")
    assert t["market"].nunique() == n_markets and "identical_to" in t
    summary = pd.read_csv(out / "summary.csv")
    for col in ("factor", "choice", "metric", "effect", "ci_low", "ci_high", "p_value",
                "p_holm", "n_markets"):
        assert col in summary.columns, col
    comp = pd.read_parquet(out / "comparisons.parquet")
    for col in ("diff", "ci_low", "ci_high", "p_value", "p_adjusted", "identical_to"):
        assert col in comp.columns, col
    sharpe = comp[comp["metric"] == "sharpe"].set_index("label")
    assert "equal" not in sharpe.index  # the reference is not compared with itself
    vas = sharpe.loc["rccp(k=3)|linear|beta|vasicek|hsp"]
    assert vas["identical_to"] == "rccp(k=3)|linear|beta|static|hsp"
    # independent markets: the mean over markets of the per-market Sharpe differences;
    # bootstrap replicas of one market: the difference on the data (replica 0), its interval
    # from the replicas' spread (CSV: 10 significant digits)
    per = t[t["label"].isin(["rccp(k=3)|linear|beta|static|hsp", "equal"])]
    wide = per.pivot(index="market", columns="label", values="sharpe")
    d = wide["rccp(k=3)|linear|beta|static|hsp"] - wide["equal"]
    row = sharpe.loc["rccp(k=3)|linear|beta|static|hsp"]
    if replicas:
        assert row["diff"] == pytest.approx(d.loc["replica=0"], rel=1e-7)
        assert row["method"] == "bootstrap-replicas"
        q = stats.t.ppf(0.975, len(d) - 1)  # the spread of R replicas: t, R - 1 d.o.f.
        assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * q * d.std(ddof=1),
                                                               rel=1e-6)
    else:
        assert row["diff"] == pytest.approx(d.mean(), rel=1e-7)
    assert (comp["ci_low"].dropna() <= comp.loc[comp["ci_low"].notna(), "diff"] + 1e-12).all()
    ev = json.loads((out / "evidence.json").read_text())
    assert {"settings", "reference"} <= set(ev)
    assert ev["reference"]["label"] == "equal"
    assert "sharpe difference to the reference equal" in capsys_text
    assert "identical arms" in capsys_text
    return ev


def test_end_to_end_small_study_writes_every_file(tmp_path, capsys):
    out = tmp_path / "ev"
    argv = [*BASE, "--synthetic", "0:3", *[a for p in SMALL for a in ("--synthetic-param", p)],
            "--spec", "rccp(k=3)|linear|beta|{static,vasicek}|hsp", "--benchmark",
            "equal", "--reference", "equal", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    ev = _check_evidence_folder(out, 3, capsys.readouterr().out)
    assert ev["market_settings"]["synthetic"] == [0, 1, 2]
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").is_file()
    # resumed: nothing recomputed, the same comparisons
    before = pd.read_csv(out / "comparisons.csv")
    assert main(argv) == 0
    assert "0 combinations run, 9 already done" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(out / "comparisons.csv"), before)


def test_end_to_end_resampled_real_data(real_files, tmp_path, capsys):
    out = tmp_path / "ev-real"
    argv = [*BASE, "--assets", str(real_files[0]), "--drivers", str(real_files[1]),
            "--resample", "stationary", "--replicas", "3", "--allow-few-replicas",
            "--block-days", "10",
            "--spec", "rccp(k=3)|linear|beta|{static,vasicek}|hsp", "--benchmark",
            "equal", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    ev = _check_evidence_folder(out, 3, capsys.readouterr().out, replicas=True)
    assert ev["market_settings"]["replicas"] == 3
    assert json.loads((out / "study.json").read_text())["markets"]["allow_few_replicas"] is True
    assert ev["market_settings"]["block_days"] == 10
    t = pd.read_csv(out / "results.csv")
    assert list(t["market"].unique()) == ["replica=0", "replica=1", "replica=2"]
    assert set(t["market.replica"]) == {0, 1, 2} and set(t["market.block_days"]) == {10}
