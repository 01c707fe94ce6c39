"""The disk cache's digest is keyed (issue #23, D12): an entry altered and re-sealed by someone who
can write the cache but not read its secret is refused with a ``CacheIntegrityWarning`` (exported
from causalfolio.errors, and re-emitted as itself from worker processes), entries are capped in
size, and the secret is an owner-only file; a study whose cache folder cannot be used, or that
stops before any combination finished, leaves nothing behind (D17, D21)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from causalfolio.ablation import DiskCache, Grid, encode, run_ablation
from causalfolio.ablation import cache as cache_mod
from causalfolio.cli import main
from causalfolio.data import synthetic_market
from causalfolio.errors import CacheIntegrityWarning, CausalfolioWarning, ConfigError

KEY = "00112233445566aa"
SETTINGS = {"driver_window": 60, "train_window": 60, "cov_window": 40, "schedule": "quarterly"}


def _stored(tmp_path):
    disk = DiskCache(tmp_path / "c")
    value = {"x": np.arange(3.0)}
    assert disk.store(KEY, value)
    return disk, disk._path(KEY)


def test_cache_integrity_warning_is_a_user_warning_of_causalfolio():
    assert issubclass(CacheIntegrityWarning, CausalfolioWarning)
    assert issubclass(CacheIntegrityWarning, UserWarning)
    assert cache_mod.CacheIntegrityWarning is CacheIntegrityWarning


@pytest.mark.parametrize("digest", ["sha256", "hmac-guess"])
def test_an_altered_and_resealed_entry_is_refused(tmp_path, digest):
    disk, path = _stored(tmp_path)
    blob = path.read_bytes()
    prefix = blob[:blob.index(b"=") + 1]  # the header as written, up to its digest
    forged = encode({"x": np.arange(3.0) * 1000})
    if digest == "sha256":  # what anyone can recompute
        mac = hashlib.sha256(forged).hexdigest()
    else:  # a keyed digest under a key the forger chose
        mac = hmac.new(b"\0" * 32, forged, hashlib.sha256).hexdigest()
    path.write_bytes(prefix + mac.encode() + b"\n" + forged)
    with pytest.warns(CacheIntegrityWarning, match=str(path)):
        assert DiskCache(tmp_path / "c").load(KEY) is None


def test_the_secret_is_an_owner_only_file_outside_the_entries(tmp_path):
    disk, path = _stored(tmp_path)
    secret = tmp_path / "c" / cache_mod.SECRET_NAME
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.stat().st_size == 32
    assert secret.parent != path.parent and not secret.is_relative_to(disk.base)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheIntegrityWarning)
        assert DiskCache(tmp_path / "c").load(KEY)["x"].tolist() == [0.0, 1.0, 2.0]
    os.chmod(secret, 0o644)  # readable by others: not trusted, the disk cache is off
    with pytest.warns(CacheIntegrityWarning, match="readable or writable by others"):
        assert DiskCache(tmp_path / "c").load(KEY) is None
    os.chmod(secret, 0o600)
    secret.unlink()  # a new secret: the old entries no longer verify (recomputed)
    with pytest.warns(CacheIntegrityWarning, match="keyed digest mismatch"):
        assert DiskCache(tmp_path / "c").load(KEY) is None


def test_entries_are_capped_in_size(tmp_path, monkeypatch):
    _, path = _stored(tmp_path)
    monkeypatch.setattr(cache_mod, "MAX_ENTRY_BYTES", 64)
    with pytest.warns(CacheIntegrityWarning, match="larger than 64 bytes"):
        assert DiskCache(tmp_path / "c").load(KEY) is None
    assert not DiskCache(tmp_path / "d").store(KEY, {"x": np.arange(3.0)})


def test_a_workers_cache_warning_keeps_its_class():
    from causalfolio.ablation.runner import _reemit

    with pytest.warns(CacheIntegrityWarning, match="altered"):
        _reemit("CacheIntegrityWarning", "stage cache entry x is altered")


@pytest.fixture(scope="module")
def market():
    return synthetic_market(seed=1, n_assets=5, n_days=260, n_noise=2)


def test_an_unreachable_scheduler_leaves_nothing_behind(market, tmp_path):
    grid = Grid.from_specs("rccp(k=2)|linear|beta|static|hsp", settings=SETTINGS)
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        run_ablation(market, grid, tmp_path / "s", executor="dask",
                     scheduler="tcp://127.0.0.1:1", connect_timeout=1)
    (tmp_path / "e").mkdir()  # an empty folder given by the user stays, empty
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        run_ablation(market, grid, tmp_path / "e", executor="dask",
                     scheduler="tcp://127.0.0.1:1", connect_timeout=1)
    assert [p.name for p in tmp_path.iterdir()] == ["e"] and not any((tmp_path / "e").iterdir())


def test_a_cache_dir_that_is_a_file_is_refused_before_anything_is_written(tmp_path, capsys):
    target = tmp_path / "FILE"
    target.write_text("mine")
    code = main(["ablate", "--synthetic", "0", "--spec", "rccp(k=2)|linear|beta|static|hsp",
                 "--out", str(tmp_path / "s"), "--cache-dir", str(target), "--executor",
                 "serial", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--cache-dir" in err and "is a file" in err
    assert target.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]


def test_a_read_only_cache_dir_is_refused(market, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes into read-only folders: refuse entries there instead
        real = tempfile.mkdtemp

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == ro:
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    else:
        os.chmod(ro, 0o555)
    grid = Grid.from_specs("rccp(k=2)|linear|beta|static|hsp", settings=SETTINGS)
    try:
        with pytest.raises(ConfigError, match="--cache-dir .* cannot be written"):
            run_ablation(market, grid, tmp_path / "s", executor="serial", cache_dir=ro / "c")
    finally:
        os.chmod(ro, 0o755)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"] and not any(ro.iterdir())
