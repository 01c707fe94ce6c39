"""Cache integrity (issue #14, item 7): an altered disk-cache entry is detected by its content hash
and recomputed with a warning naming it; stage keys carry the components' code version, so a
changed component never reuses the outputs of its previous code."""

from __future__ import annotations

import warnings

import attrs
import numpy as np
import pandas as pd
import pytest

import causalfolio
from causalfolio.ablation import StageCache, decode, encode
from causalfolio.ablation.cache import CacheIntegrityWarning, cache_secret, seal, stage_of, unseal
from causalfolio.backtest import BacktestConfig, run_backtest
from causalfolio.pipeline import parse_spec
from causalfolio.stages import base

CFG = BacktestConfig(driver_window=60, train_window=60, cov_window=30)
A = "rccp(k=3)|linear(lags=[0,1])|beta|static|hsp"


def _weights(result):
    return result.strategies[A].weights


def _entries(folder):
    """path -> (header, decoded value) of every disk entry."""
    out = {}
    key = cache_secret(folder)
    for path in sorted(folder.rglob("*.npz")):
        blob = path.read_bytes()
        out[path] = (blob[: blob.index(b"\n") + 1], decode(unseal(blob, key)))
    return out


def test_seal_round_trip_and_mismatch():
    data = encode({"x": np.arange(3.0)})
    key = b"k" * 32
    assert unseal(seal(data, key), key) == data
    blob = bytearray(seal(data, key))
    blob[-20] ^= 1
    with pytest.raises(ValueError, match="keyed digest mismatch"):
        unseal(bytes(blob), key)
    with pytest.raises(ValueError, match="keyed digest mismatch"):  # another cache's secret
        unseal(seal(data, key), b"x" * 32)
    with pytest.raises(ValueError, match="no keyed-digest header"):
        unseal(data, key)


def test_an_altered_entry_is_recomputed_with_one_warning(market, tmp_path):
    fresh = run_backtest(market, A, CFG)  # no cache at all
    folder = tmp_path / "c"
    run_backtest(market, A, CFG, cache=StageCache(folder))
    entries = _entries(folder)
    path, (header, value) = next((p, e) for p, e in entries.items()
                                 if stage_of(e[1]) == "forecasting")
    d = np.asarray(value.distance)
    order = np.arange(d.shape[0])[::-1]
    altered = attrs.evolve(value, distance=d[np.ix_(order, order)] * 3.0)
    # the altered value changes the weights when it is used (so the check below has power)
    used = {p.stem: v for p, (_, v) in entries.items()}
    used[path.stem] = altered
    tampered = run_backtest(market, A, CFG, cache=used)
    assert not _weights(tampered).equals(_weights(fresh))
    # well-formed but altered on disk: a valid .npz behind the original header
    path.write_bytes(header + encode(altered))
    second = StageCache(folder)
    with pytest.warns(CacheIntegrityWarning, match=str(path)) as record:
        again = run_backtest(market, A, CFG, cache=second)
    assert sum(issubclass(w.category, CacheIntegrityWarning) for w in record) == 1
    pd.testing.assert_frame_equal(_weights(again), _weights(fresh), check_exact=True)
    assert second.counts[("forecasting", "computed")] == 1
    assert second.total("disk_hit") == len(entries) - 1
    # rewritten whole: the next run reads it back quietly
    assert _entries(folder)[path][1].distance.tolist() == d.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheIntegrityWarning)
        third = StageCache(folder)
        run_backtest(market, A, CFG, cache=third)
    assert third.total("computed") == 0


def test_a_changed_component_never_reuses_its_old_outputs(market, tmp_path, monkeypatch):
    folder = tmp_path / "c"
    first = StageCache(folder)
    r1 = run_backtest(market, A, CFG, cache=first)
    n = len(r1.dates)
    same = StageCache(folder)
    run_backtest(market, A, CFG, cache=same)
    assert same.total("computed") == 0
    # the dynamics model's source changes: its outputs and everything downstream are recomputed
    dynamics = type(parse_spec(A).dynamics)
    before = parse_spec(A).dynamics.key_spec
    monkeypatch.setitem(base._SOURCE_HASHES, dynamics, "0" * 16)
    assert parse_spec(A).dynamics.key_spec != before
    changed = StageCache(folder)
    r2 = run_backtest(market, A, CFG, cache=changed)
    assert changed.counts[("drivers", "disk_hit")] == n
    for stage in ("dynamics", "sensitivities", "forecasting"):
        assert changed.counts[(stage, "computed")] == n, stage
    pd.testing.assert_frame_equal(_weights(r1), _weights(r2), check_exact=True)
    # a new causalfolio version: nothing is reused
    monkeypatch.setattr(causalfolio, "__version__", "999.0")
    upgraded = StageCache(folder)
    run_backtest(market, A, CFG, cache=upgraded)
    assert upgraded.total("disk_hit") == 0 and upgraded.total("computed") == 4 * n


def test_source_hash_is_per_class_and_stable():
    p = parse_spec(A)
    assert base.source_hash(type(p.drivers)) != base.source_hash(type(p.dynamics))
    assert base.source_hash(type(p.drivers)) == base.source_hash(type(p.drivers))
    assert p.drivers.key_spec.startswith("rccp(k=3)@" + causalfolio.__version__ + "+")
