"""Output folders we may write: claim (lock), check what may be replaced, clean our stale leftovers.

Rules (issue #14, "never destroy user data"):

* A command replaces only a folder that carries its own marker file (``run.json`` for run folders,
  ``study.json`` for ablation folders, ``truth.json`` for dataset folders), and only when asked
  (``overwrite``). An existing file, or a non-empty folder without the marker, is refused
  whatever the flags: causalfolio never deletes what it did not write.
* A folder is written by one process at a time: :func:`folder_lock` holds an exclusive lock (the
  ``filelock`` package) for the whole command; a second writer gets
  :class:`~causalfolio.errors.ConfigError` "... is in use by another causalfolio process". The
  lock files live in a per-user folder of the system's temporary directory, named by a hash of
  the destination's absolute path, so that nothing is added to the user's folders.
* A killed writer leaves temporary names of ours: ``.NAME.<8 chars>.tmp`` folders next to the
  destination and ``.FILE.<8 chars>.tmp`` files inside it (``rows/``, ``stage-cache/``). They are
  removed by the next writer of the same destination, while it holds the lock (so no live writer
  of ours can own them) and only when older than the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError

# mkdtemp/mkstemp names: prefix ".NAME.", 8 characters from [a-z0-9_], suffix ".tmp"
_RANDOM = r"[a-z0-9_]{8}"
_TMP_FILE = re.compile(rf"^\..+\.{_RANDOM}\.tmp$")
# subfolders of an output folder whose temporary files are ours to clean
_TMP_SUBDIRS = ("rows", "stage-cache")

_HELD: dict[str, list] = {}  # lock path -> [FileLock, depth, owner thread id, acquired at]
_GUARD = threading.Lock()


def _in_use(out: Path) -> ConfigError:
    return ConfigError(f"{out} is in use by another causalfolio process; wait for it to finish "
                       "or choose another --out")


def _lock_path(out: Path) -> Path:
    """The lock file of the destination ``out`` (created with its folder when needed)."""
    try:
        user = str(os.getuid())
    except AttributeError:  # pragma: no cover - Windows
        user = re.sub(r"[^A-Za-z0-9_-]", "_", os.environ.get("USERNAME", "user"))
    folder = Path(tempfile.gettempdir()) / f"causalfolio-locks-{user}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the lock folder {folder} ({exc.strerror or exc}); set "
                          "TMPDIR to a writable folder") from None
    where = os.path.normcase(str(out.parent.resolve() / out.name))
    return folder / f"{hashlib.sha256(where.encode()).hexdigest()[:32]}.lock"


@contextlib.contextmanager
def folder_lock(out: str | os.PathLike) -> Iterator[float]:
    """Hold the exclusive write lock of the destination ``out`` (re-entrant in one thread).

    Yields the time (``time.time()``) the lock was first acquired. Raises
    :class:`~causalfolio.errors.ConfigError` at once when another process, or another thread of
    this one, holds it.
    """
    from filelock import FileLock, Timeout

    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {out.parent} for --out {out} "
                          f"({exc.strerror or exc}); choose another --out") from None
    lock_path = _lock_path(out)
    key = str(lock_path)
    me = threading.get_ident()
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            if held[2] != me:
                raise _in_use(out)
            held[1] += 1
        else:
            lock = FileLock(str(lock_path), thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                raise _in_use(out) from None
            except OSError as exc:
                raise ConfigError(f"cannot lock --out {out} ({exc.strerror or exc}); choose "
                                  "another --out") from None
            held = _HELD[key] = [lock, 1, me, time.time()]
    try:
        yield held[3]
    finally:
        with _GUARD:
            held[1] -= 1
            if held[1] == 0:
                del _HELD[key]
                held[0].release()


def check_replaceable(out: str | os.PathLike, *, marker: str, overwrite: bool,
                      what: str = "run") -> bool:
    """Whether ``out`` holds a folder to replace (True), or nothing yet (False).

    Raises :class:`~causalfolio.errors.ConfigError` (nothing is written) when ``out`` is a file, a
    non-empty folder without ``marker`` (whatever ``overwrite`` says), or a ``marker`` folder and
    ``overwrite`` is false.
    """
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return False
    if not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder; causalfolio never replaces a "
                          "file it did not write: choose another --out")
    if not any(p for p in out.iterdir() if not _TMP_FILE.match(p.name)):
        return True
    if not (out / marker).is_file():
        raise ConfigError(f"--out {out} is not a {what} folder (no {marker}) and causalfolio "
                          "never replaces a folder it did not write, whatever the flags: choose "
                          "another --out (or empty or remove that folder yourself)")
    if not overwrite:
        raise ConfigError(f"--out {out} exists and is not empty (a {what} folder); choose "
                          "another --out or pass --force to replace it")
    return True


def clean_stale(out: str | os.PathLike, since: float, marker: str) -> list[Path]:
    """Remove our temporary leftovers of killed writers of ``out`` older than ``since``.

    Call it while holding :func:`folder_lock` of ``out``. Removes ``.NAME.<8>.tmp`` folders next
    to ``out``; a ``.NAME.old`` backup holding ``marker`` once ``out`` exists (restoring it when
    ``out`` is missing: a writer was killed between the two renames); and, when ``out`` holds
    ``marker``, ``.FILE.<8>.tmp`` files at its top and in its ``rows/`` and ``stage-cache/``.
    Returns what was removed.
    """
    out = Path(out)
    removed: list[Path] = []
    parent = out.parent
    folder_tmp = re.compile(rf"^\.{re.escape(out.name)}\.{_RANDOM}\.tmp$")
    if parent.is_dir():
        for p in parent.iterdir():
            if folder_tmp.match(p.name) and p.is_dir() and not p.is_symlink() \
                    and p.stat().st_mtime < since:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    backup = parent / f".{out.name}.old"
    if backup.is_dir() and not backup.is_symlink() and (backup / marker).is_file() \
            and backup.stat().st_mtime < since:
        if out.exists() or out.is_symlink():
            shutil.rmtree(backup, ignore_errors=True)
            removed.append(backup)
        else:
            backup.rename(out)
    if out.is_dir() and not out.is_symlink() and (out / marker).is_file():
        dirs = [out] + [out / d for d in _TMP_SUBDIRS if (out / d).is_dir()]
        cache = out / "stage-cache"
        if cache.is_dir():
            dirs += [p for p in cache.rglob("*") if p.is_dir() and not p.is_symlink()]
        for d in dirs:
            for p in d.iterdir():
                if _TMP_FILE.match(p.name) and p.is_file() and not p.is_symlink() \
                        and p.stat().st_mtime < since:
                    p.unlink(missing_ok=True)
                    removed.append(p)
    return removed


@contextlib.contextmanager
def claim_folder(out: str | os.PathLike, *, marker: str, overwrite: bool,
                 what: str = "run") -> Iterator[bool]:
    """Lock ``out``, check it may be written (:func:`check_replaceable`) and clean our stale
    leftovers; yields whether ``out`` already exists. Hold it for the whole command, so that a
    concurrent writer is refused before it computes anything."""
    with folder_lock(out) as since:
        clean_stale(out, since, marker)
        yield check_replaceable(out, marker=marker, overwrite=overwrite, what=what)


def check_file_replaceable(path: str | os.PathLike, *, signatures: tuple[bytes, ...],
                           what: str = "report") -> None:
    """Refuse (:class:`~causalfolio.errors.ConfigError`) to overwrite an existing ``path`` unless
    its first 4 KiB hold one of ``signatures`` (a file causalfolio wrote): user files are never
    overwritten, whatever the flags."""
    path = Path(path)
    if not path.exists():
        return
    if path.is_dir():
        raise ConfigError(f"--out {path} is a folder; give a file name, e.g. "
                          f"{path / 'report.html'}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise ConfigError(f"--out {path} cannot be read ({exc.strerror or exc}); choose another "
                          "--out") from None
    if not any(s in head for s in signatures):
        raise ConfigError(f"--out {path} exists and is not a causalfolio {what}; causalfolio "
                          "never overwrites a file it did not write: choose another --out")
