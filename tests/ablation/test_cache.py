"""Stage caches: counted hits where stages are shared, the safe on-disk format, bad entries."""

from __future__ import annotations

import io
import pickle

import attrs
import numpy as np
import pandas as pd
import pytest

from causalfolio.ablation import DiskCache, StageCache, decode, encode
from causalfolio.ablation.cache import (
    CacheIntegrityWarning,
    Unencodable,
    cache_secret,
    seal,
    stage_of,
)
from causalfolio.backtest import BacktestConfig, run_backtest

CFG = BacktestConfig(driver_window=60, train_window=60, cov_window=30)
A = "rccp(k=3)|linear(lags=[0,1])|beta|static|hsp"
B = "rccp(k=3)|linear(lags=[0,1])|beta|static|hrp"
C = "rccp(k=3)|linear|beta|static|hsp"


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (pd.DataFrame, pd.Series, pd.Index)):
        return type(a) is type(b) and a.equals(b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if attrs.has(type(a)):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in attrs.fields(type(a)))
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return type(a) is type(b) and _same(vars(a), vars(b))
    return a == b or (a != a and b != b)


def test_shared_stages_are_computed_once_and_counted(market):
    cache = StageCache()
    res = run_backtest(market, [A, B, C], CFG, cache=cache)
    n = len(res.dates)
    assert n >= 8
    c = cache.counts
    # A and B share every upstream stage; C shares only the driver selection
    assert c[("drivers", "computed")] == n and c[("drivers", "reused")] == 2 * n
    for stage in ("dynamics", "sensitivities", "forecasting"):
        assert c[(stage, "computed")] == 2 * n
        assert c[(stage, "reused")] == n
    assert cache.total("computed") == 7 * n
    # the cached run gives the same weights as independent runs
    alone = run_backtest(market, B, CFG, cache=StageCache())
    pd.testing.assert_frame_equal(alone.strategies[B].weights, res.strategies[B].weights)


def test_views_share_entries_but_count_separately(market):
    shared = StageCache()
    v1, v2 = shared.view(), shared.view()
    run_backtest(market, A, CFG, cache=v1)
    run_backtest(market, B, CFG, cache=v2)
    n = v1.total("computed") // 4
    assert v1.total("reused") == 0 and v2.total("computed") == 0
    assert v2.total("reused") == 4 * n and len(shared) == 4 * n


def test_codec_round_trips_every_stage_output_exactly(market):
    cache = StageCache()
    run_backtest(market, A, CFG, cache=cache)
    seen = set()
    for key in list(cache):
        value = cache._mem[key]
        seen.add(stage_of(value))
        back = decode(encode(value))
        assert _same(value, back), stage_of(value)
    assert seen == {"drivers", "dynamics", "sensitivities", "forecasting"}


def test_disk_cache_makes_a_repeat_run_free_and_identical(market, tmp_path):
    first = StageCache(tmp_path / "c")
    r1 = run_backtest(market, A, CFG, cache=first)
    n = len(r1.dates)
    assert first.total("disk_write") == 4 * n and first.total("skipped") == 0
    files = list((tmp_path / "c").rglob("*.npz"))
    assert len(files) == 4 * n
    assert not list((tmp_path / "c").rglob("*.tmp"))
    second = StageCache(tmp_path / "c")
    r2 = run_backtest(market, A, CFG, cache=second)
    assert second.total("computed") == 0
    assert second.total("disk_hit") == 4 * n == second.total("reused")
    pd.testing.assert_series_equal(r1.strategies[A].nav, r2.strategies[A].nav, check_exact=True)


class _Opaque:
    """Not a stage output: must never be written or rebuilt."""

    def __init__(self) -> None:
        self.f = len


def test_unsafe_values_stay_in_memory(tmp_path):
    cache = StageCache(tmp_path)
    cache["0123456789abcdef"] = _Opaque()
    assert cache.counts[("other", "skipped")] == 1
    assert not list(tmp_path.rglob("*.npz"))
    with pytest.raises(Unencodable):
        encode({"x": _Opaque()})
    with pytest.raises(Unencodable):
        encode(np.array([object()], dtype=object))


def test_foreign_or_damaged_entries_are_misses_never_unpickled(tmp_path, market):
    disk = DiskCache(tmp_path)
    key = "00112233445566aa"
    path = disk._path(key)
    path.parent.mkdir(parents=True)
    # a pickle disguised as an entry: np.load(allow_pickle=False) refuses it
    path.write_bytes(pickle.dumps({"boom": 1}))
    with pytest.warns(CacheIntegrityWarning, match="no keyed-digest header"):
        assert disk.load(key) is None
    # a well-formed file naming a class outside the allow-list
    import json

    for target in ("os:system", "builtins:eval", "causalfolio.data.market:Market"):
        manifest = json.dumps({"format": 1, "root": {"__obj": target, "state": {}}})
        buf = io.BytesIO()
        np.savez(buf, __manifest__=np.frombuffer(manifest.encode(), dtype=np.uint8))
        # sealed with the cache's own secret: the decoder refuses it all the same
        path.write_bytes(seal(buf.getvalue(), cache_secret(tmp_path)))
        with pytest.warns(CacheIntegrityWarning, match=target):
            assert disk.load(key) is None
        with pytest.raises(Unencodable):
            decode(buf.getvalue())
    cache = StageCache(disk)
    assert key not in cache
    with pytest.raises(ValueError, match="not a stage key"):
        disk.load("../../etc/passwd")


def test_fitted_neural_net_round_trips_through_the_safe_format(market):
    torch = pytest.importorskip("torch")
    from causalfolio.pipeline import parse_spec

    pipe = parse_spec("rccp(k=3)|fnn(hidden=[[4]],lag_sets=[[0,1]],windows=None,epochs=10,"
                      "min_epochs=2,patience=2)|aad|static|hsp")
    drivers = market.candidates.iloc[:, :3]
    model = pipe.dynamics.fit(market.assets.iloc[:100], drivers.iloc[:100], window=60, seed=0)
    back = decode(encode(model))
    assert type(back) is type(model)
    x = np.random.default_rng(0).normal(scale=0.01, size=(7, len(model.inputs)))
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    sens = pipe.sensitivities.per_sample(model, x)
    np.testing.assert_array_equal(pipe.sensitivities.per_sample(back, x), sens)
    assert isinstance(back._perm, torch.Tensor) and back._perm.dtype == model._perm.dtype
    with pytest.raises(Unencodable):
        encode(torch.nn.Linear(2, 2))
