"""Stage caches: an in-memory cache that counts its hits, over an optional on-disk cache.

The pipeline keys every stage output by a deterministic key (component spec, upstream key, data
window, seed; see :meth:`causalfolio.pipeline.Pipeline.run`). :class:`StageCache` is the mapping it
is given: it counts, per stage, how many outputs were computed and how many were reused, and can
read and write through to a :class:`DiskCache`.

On-disk entries use open, safe formats only: one ``.npz`` file per key holding plain numeric
arrays plus a JSON manifest, loaded with ``allow_pickle=False``. Objects are rebuilt only for an
allow-list of classes (the stage outputs of :mod:`causalfolio.stages` and subclasses of
:class:`~causalfolio.stages.FittedDynamics`) from their data; nothing in a cache file can run code.
Dense CPU torch tensors are stored as arrays too (fitted nets keep their weights as tensors).
Outputs that hold anything else (a torch ``Module`` object, a GPU tensor, a function) stay in
memory only and are counted as ``skipped``. Every file is written to a temporary name and renamed
into place, so concurrent workers and interruptions never leave a half-written entry; the folder
is safe to delete.

Each file starts with a header line holding a keyed digest of the rest (HMAC-SHA-256 of the
``.npz`` bytes under the cache's secret), checked on every read before anything is decoded. The
secret is 32 random bytes in ``root/secret.key``, outside the entries, created once per cache
folder with mode 0600 (owner only): whoever can write the entries but not read the secret cannot
seal an entry we accept, and a secret that is not the user's own owner-only file (or that cannot
be created) is not trusted (one :class:`CacheIntegrityWarning`; the cache stays in memory). An
entry altered, damaged, sealed under another secret, or larger than :data:`MAX_ENTRY_BYTES` is
recomputed (and rewritten), with one :class:`CacheIntegrityWarning` naming it. Stage keys include
the code version of each component (:func:`causalfolio.stages.code_version`: the causalfolio
version and the source hash of the component's modules), so a changed component never reuses the
outputs of its previous code.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import secrets
import stat
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from ..data.io import atomic_write_bytes
from ..errors import CacheIntegrityWarning, ConfigError
from ..stages import DistanceForecast, DriverSelection, FittedDynamics, Sensitivities

CACHE_FORMAT = 1  # the manifest's format
DISK_FORMAT = 3  # the files' format (folder v<n>); 3: an HMAC-SHA-256 header line before the .npz
_HEADER = b"causalfolio-stage-cache hmac-sha256="
SECRET_NAME = "secret.key"
"""The cache's secret, in the cache folder next to (never inside) the entries' folder."""
MAX_ENTRY_BYTES = 512 * 2**20
"""Largest entry read or written (bytes); a larger file is not read (a miss, with a warning)."""
_KEY_RE = re.compile(r"^[0-9a-f]{8,64}$")
_STAGE_TYPES: tuple[tuple[type, str], ...] = (
    (DriverSelection, "drivers"), (FittedDynamics, "dynamics"), (Sensitivities, "sensitivities"),
    (DistanceForecast, "forecasting"),
)


def stage_of(value: Any) -> str:
    """The stage whose output ``value`` is (``drivers`` ... ``forecasting``), else ``other``."""
    for tp, name in _STAGE_TYPES:
        if isinstance(value, tp):
            return name
    return "other"


class Unencodable(TypeError):
    """A value the safe codec cannot store (kept in memory only)."""


# --- safe codec: JSON manifest + numeric arrays ---------------------------------------------------


def _allowed(cls: type) -> bool:
    return cls in (DriverSelection, Sensitivities, DistanceForecast) or (
        isinstance(cls, type) and issubclass(cls, FittedDynamics))


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a: np.ndarray) -> dict[str, Any]:
        if a.dtype.kind not in "biufcM" or a.dtype.hasobject:
            if a.dtype.kind in "OU" and all(isinstance(x, str) for x in a.ravel().tolist()):
                return {"__strs": a.ravel().tolist(), "shape": list(a.shape)}
            raise Unencodable(f"array of dtype {a.dtype}")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.ascontiguousarray(a)
        return {"__a": name}

    def enc(self, obj: Any) -> Any:  # noqa: PLR0911 - one branch per type
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and not isinstance(obj, np.integer):
            return obj
        if isinstance(obj, float):
            return obj if np.isfinite(obj) else {"__f": repr(obj)}
        if isinstance(obj, np.generic):
            return {"__np": self.array(np.asarray(obj))}
        if isinstance(obj, np.ndarray):
            return self.array(obj)
        if isinstance(obj, tuple):
            return {"__t": [self.enc(v) for v in obj]}
        if isinstance(obj, list):
            return [self.enc(v) for v in obj]
        if isinstance(obj, dict):
            return {"__d": [[self.enc(k), self.enc(v)] for k, v in obj.items()]}
        if isinstance(obj, pd.Timestamp):
            return {"__ts": obj.isoformat()}
        if isinstance(obj, pd.DatetimeIndex):
            if obj.tz is not None:
                raise Unencodable("time-zone aware index")
            return {"__dti": self.array(obj.asi8), "name": self.enc(obj.name)}
        if isinstance(obj, pd.Index):
            return {"__idx": self.enc(obj.to_numpy()), "name": self.enc(obj.name)}
        if isinstance(obj, pd.Series):
            return {"__s": self.enc(obj.to_numpy()), "index": self.enc(obj.index),
                    "name": self.enc(obj.name)}
        if isinstance(obj, pd.DataFrame):
            return {"__df": [self.enc(obj[c].to_numpy()) for c in obj.columns],
                    "columns": self.enc(list(obj.columns)), "index": self.enc(obj.index)}
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.Tensor):
            if obj.device.type != "cpu" or obj.is_sparse or obj.is_quantized:
                raise Unencodable(f"torch tensor on {obj.device} / non-dense")
            return {"__tensor": self.array(obj.detach().numpy()),
                    "grad": bool(obj.requires_grad)}
        cls = type(obj)
        if _allowed(cls):
            where = f"{cls.__module__}:{cls.__qualname__}"
            if attrs.has(cls):
                return {"__attrs": where, "fields": {f.name: self.enc(getattr(obj, f.name))
                                                     for f in attrs.fields(cls)}}
            if hasattr(obj, "__dict__"):
                return {"__obj": where, "state": {k: self.enc(v) for k, v in vars(obj).items()}}
        raise Unencodable(f"{cls.__module__}.{cls.__qualname__}")


def _allowed_classes() -> dict[str, type]:
    """``module:qualname`` -> class, for every class a cache entry may name.

    The stage outputs and every loaded subclass of ``FittedDynamics`` (their plugins are loaded
    before anything is decoded: the registry imports them to parse the specs).
    """
    out: dict[str, type] = {}
    todo: list[type] = [DriverSelection, Sensitivities, DistanceForecast, FittedDynamics]
    while todo:
        cls = todo.pop()
        out[f"{cls.__module__}:{cls.__qualname__}"] = cls
        if issubclass(cls, FittedDynamics):
            todo.extend(cls.__subclasses__())
    return out


def _resolve(where: str) -> type:
    # A cache file is data: the name it holds is looked up among the allowed classes, never
    # imported and never walked attribute by attribute.
    cls = _allowed_classes().get(where) if isinstance(where, str) else None
    if cls is None or not _allowed(cls):
        raise Unencodable(f"{where!r} is not an allowed stage-output class")
    return cls


def _dec(node: Any, arrays: Any) -> Any:  # noqa: PLR0911 - one branch per tag
    if isinstance(node, list):
        return [_dec(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__a" in node:
        return arrays[node["__a"]]
    if "__strs" in node:
        return np.array(node["__strs"], dtype=object).reshape(node["shape"])
    if "__f" in node:
        return float(node["__f"])
    if "__np" in node:
        return _dec(node["__np"], arrays)[()]
    if "__t" in node:
        return tuple(_dec(v, arrays) for v in node["__t"])
    if "__d" in node:
        return {_hashable(_dec(k, arrays)): _dec(v, arrays) for k, v in node["__d"]}
    if "__tensor" in node:
        import torch

        t = torch.as_tensor(_dec(node["__tensor"], arrays))
        return t.requires_grad_(True) if node.get("grad") else t
    if "__ts" in node:
        return pd.Timestamp(node["__ts"])
    if "__dti" in node:
        return pd.DatetimeIndex(_dec(node["__dti"], arrays).astype("datetime64[ns]"),
                                name=_dec(node["name"], arrays))
    if "__idx" in node:
        return pd.Index(_dec(node["__idx"], arrays), name=_dec(node["name"], arrays))
    if "__s" in node:
        return pd.Series(_dec(node["__s"], arrays), index=_dec(node["index"], arrays),
                         name=_dec(node["name"], arrays))
    if "__df" in node:
        cols = _dec(node["columns"], arrays)
        data = {i: _dec(v, arrays) for i, v in enumerate(node["__df"])}
        frame = pd.DataFrame(data, index=_dec(node["index"], arrays))
        frame.columns = pd.Index(cols)
        return frame
    if "__attrs" in node:
        cls = _resolve(node["__attrs"])
        fields = {k: _dec(v, arrays) for k, v in node["fields"].items()}
        init = {f.name: fields[f.name] for f in attrs.fields(cls) if f.init and f.name in fields}
        return cls(**init)
    if "__obj" in node:
        cls = _resolve(node["__obj"])
        inst = cls.__new__(cls)  # type: ignore[call-overload]  # an allowed class
        inst.__dict__.update({k: _dec(v, arrays) for k, v in node["state"].items()})
        return inst
    raise Unencodable(f"unknown tag in cache manifest: {sorted(node)[:3]}")


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


def encode(obj: Any) -> bytes:
    """Serialise a stage output to ``.npz`` bytes (numeric arrays + a JSON manifest).

    Raises :class:`Unencodable` for values outside the safe subset.
    """
    enc = _Encoder()
    manifest = json.dumps({"format": CACHE_FORMAT, "root": enc.enc(obj)})
    buf = io.BytesIO()
    np.savez(buf, __manifest__=np.frombuffer(manifest.encode(), dtype=np.uint8),
             **enc.arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds too narrowly
    return buf.getvalue()


def decode(data: bytes | os.PathLike | str) -> Any:
    """Rebuild a stage output written by :func:`encode` (never unpickles)."""
    src = io.BytesIO(data) if isinstance(data, bytes) else data
    with np.load(src, allow_pickle=False) as z:
        manifest = json.loads(z["__manifest__"].tobytes().decode())
        if manifest.get("format") != CACHE_FORMAT:
            raise Unencodable(f"cache format {manifest.get('format')} (expected {CACHE_FORMAT})")
        arrays = {k: z[k] for k in z.files if k != "__manifest__"}
    return _dec(manifest["root"], arrays)


# --- the caches ---------------------------------------------------------------------------------


def seal(data: bytes, key: bytes) -> bytes:
    """``data`` behind a header line holding its HMAC-SHA-256 under ``key`` (an entry on disk)."""
    return _HEADER + hmac.new(key, data, hashlib.sha256).hexdigest().encode() + b"\n" + data


def unseal(blob: bytes, key: bytes) -> bytes:
    """The payload of :func:`seal`'s output; :class:`ValueError` when the digest does not match
    (altered, damaged, or sealed under another key)."""
    n = len(_HEADER)
    if not blob.startswith(_HEADER) or blob[n + 64:n + 65] != b"\n":
        raise ValueError("no keyed-digest header")
    data = blob[n + 65:]
    if not hmac.compare_digest(hmac.new(key, data, hashlib.sha256).hexdigest().encode(),
                               blob[n:n + 64]):
        raise ValueError("keyed digest mismatch")
    return data


def cache_secret(root: str | os.PathLike) -> bytes:
    """The secret of the cache folder ``root``, created (32 random bytes, mode 0600) when absent.

    Raises :class:`ValueError` when the file is not one we can trust: not a regular file, not
    owned by this user, readable or writable by others, or of the wrong size.
    """
    root = Path(root)
    path = root / SECRET_NAME
    if not path.exists() and not path.is_symlink():
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{SECRET_NAME}.", suffix=".tmp", dir=root)  # 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
            try:
                os.link(tmp, path)  # never replaces a secret another process just made
            except FileExistsError:
                pass
        finally:
            Path(tmp).unlink(missing_ok=True)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            raise ValueError(f"{path} belongs to another user")
        if st.st_mode & 0o077:
            raise ValueError(f"{path} is readable or writable by others "
                             f"(mode {st.st_mode & 0o777:o}; it must be 600)")
        key = os.read(fd, 65)
    finally:
        os.close(fd)
    if len(key) != 32:
        raise ValueError(f"{path} does not hold a 32-byte secret")
    return key


def check_cache_dir(root: str | os.PathLike) -> Path:
    """Check before a study starts that the cache folder ``root`` can be used: not a file, and
    writable (its nearest existing folder); :class:`~causalfolio.errors.ConfigError` otherwise.
    Creates nothing that remains."""
    p = Path(root)
    text = str(root)
    if not text.strip():
        raise ConfigError("--cache-dir is empty; give a folder, or pass --no-disk-cache")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"--cache-dir {text} is a file, not a folder; give a folder, or pass "
                          "--no-disk-cache")
    where = p
    while not where.exists() and where != where.parent:
        where = where.parent
    if not where.is_dir():
        raise ConfigError(f"--cache-dir {text}: {where} is a file, not a folder; give a folder, "
                          "or pass --no-disk-cache")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".causalfolio-probe.", dir=where))
    except OSError as exc:
        raise ConfigError(f"--cache-dir {text} cannot be written ({exc.strerror or exc}); give "
                          "a writable folder, or pass --no-disk-cache") from None
    return p


_WARNED: set[tuple[str, str]] = set()


def _warn_once(path: Path, blob: bytes, reason: str) -> None:
    """One warning per entry and content (a process reading it again stays quiet)."""
    where = str(path)
    seen = (where, hashlib.sha256(blob).hexdigest())
    if seen in _WARNED:
        return
    _WARNED.add(seen)
    warnings.warn(f"stage cache entry {where} is altered or damaged ({reason}); recomputing it",
                  CacheIntegrityWarning, stacklevel=3)



class DiskCache:
    """Stage outputs on disk, one sealed ``.npz`` (:func:`seal`) per key under
    ``root/v<format>/<xx>/<key>.npz``, with the cache's secret in ``root/secret.key``.

    Parameters
    ----------
    root
        Cache folder (created when needed). Deleting it at any time is safe: missing entries are
        recomputed. An entry whose keyed digest does not match (altered, damaged, or sealed under
        another secret), larger than :data:`MAX_ENTRY_BYTES`, or that cannot be decoded, is a
        miss, with one :class:`CacheIntegrityWarning` naming it. When the secret cannot be
        created or trusted (:func:`cache_secret`), nothing is read or written (one warning).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.base = self.root / f"v{DISK_FORMAT}"
        self._key: bytes | None = None
        self._unusable = False

    def _secret(self) -> bytes | None:
        if self._key is None and not self._unusable:
            try:
                self._key = cache_secret(self.root)
            except (OSError, ValueError) as exc:
                self._unusable = True
                seen = (str(self.root), "secret")
                if seen not in _WARNED:
                    _WARNED.add(seen)
                    warnings.warn(f"stage cache {self.root}: its secret cannot be used "
                                  f"({exc}); the disk cache is off for this run",
                                  CacheIntegrityWarning, stacklevel=4)
        return self._key

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise ValueError(f"not a stage key: {key!r}")
        return self.base / key[:2] / f"{key}.npz"

    def load(self, key: str) -> Any | None:
        """The stored value, or ``None`` when absent, altered or unreadable (recomputed)."""
        p = self._path(key)
        try:
            with open(p, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                # never more than the cap in memory, whatever the file says or becomes
                blob = fh.read(MAX_ENTRY_BYTES + 1) if size <= MAX_ENTRY_BYTES else b""
        except OSError:  # absent (or vanished): a miss
            return None
        secret = self._secret()
        if secret is None:
            return None
        if size > MAX_ENTRY_BYTES or len(blob) > MAX_ENTRY_BYTES:
            _warn_once(p, str(size).encode(), f"larger than {MAX_ENTRY_BYTES} bytes")
            return None
        try:
            data = unseal(blob, secret)
        except ValueError as exc:
            _warn_once(p, blob, str(exc))
            return None
        try:
            return decode(data)
        except Exception as exc:  # noqa: BLE001 - a damaged/foreign entry is a miss, recomputed
            _warn_once(p, blob, f"{type(exc).__name__}: {exc}")
            return None

    def store(self, key: str, value: Any) -> bool:
        """Write ``value`` atomically; False when it is outside the safe subset, larger than
        :data:`MAX_ENTRY_BYTES`, or I/O fails."""
        try:
            data = encode(value)
        except Unencodable:
            return False
        if len(data) + 128 > MAX_ENTRY_BYTES:
            return False
        p = self._path(key)
        try:
            secret = self._secret()
            if secret is None:
                return False
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(p, seal(data, secret))
        except OSError:
            return False
        return True


class StageCache(MutableMapping):
    """In-memory stage cache with per-stage counters, over an optional :class:`DiskCache`.

    ``counts`` holds ``(stage, event)`` -> number, with events ``computed`` (an output was stored
    after being computed), ``reused`` (served from memory or disk), ``disk_hit`` (loaded from
    disk), ``disk_write`` and ``skipped`` (not storable on disk).
    """

    def __init__(self, disk: DiskCache | str | os.PathLike | None = None, *,
                 store: dict[str, Any] | None = None) -> None:
        self._mem: dict[str, Any] = {} if store is None else store
        self.disk = DiskCache(disk) if disk is not None and not isinstance(disk, DiskCache) \
            else disk
        self.counts: Counter = Counter()
        self._from_disk: set[str] = set()

    def view(self) -> StageCache:
        """A cache sharing this one's entries and disk tier but with its own counters (one per
        combination, so that concurrent combinations count separately)."""
        return StageCache(self.disk, store=self._mem)

    def __contains__(self, key: object) -> bool:
        if key in self._mem:
            return True
        if self.disk is not None and isinstance(key, str):
            value = self.disk.load(key)
            if value is not None:
                self._mem[key] = value
                self._from_disk.add(key)
                return True
        return False

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        value = self._mem[key]
        stage = stage_of(value)
        self.counts[(stage, "reused")] += 1
        if key in self._from_disk:
            self._from_disk.discard(key)
            self.counts[(stage, "disk_hit")] += 1
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._mem[key] = value
        stage = stage_of(value)
        self.counts[(stage, "computed")] += 1
        if self.disk is not None:
            ok = self.disk.store(key, value)
            self.counts[(stage, "disk_write" if ok else "skipped")] += 1

    def __delitem__(self, key: str) -> None:
        del self._mem[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mem)

    def __len__(self) -> int:
        return len(self._mem)

    def total(self, event: str) -> int:
        """Sum of one event's counts over all stages."""
        return sum(v for (_, e), v in self.counts.items() if e == event)

    def snapshot(self) -> dict[str, int]:
        """The counts as ``{"stage.event": n}`` (JSON-ready)."""
        return {f"{s}.{e}": int(v) for (s, e), v in sorted(self.counts.items())}
