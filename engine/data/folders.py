"""Output folders we may write: claim (lock), check what may be replaced, clean our stale leftovers.

Rules (issue #14, "never destroy user data"):

* A command replaces only a folder that carries its own marker file (``run.json`` for run folders,
  ``study.json`` for ablation folders, ``truth.json`` for dataset folders) holding our *folder
  stamp* (issue #23, D01): a ``"causalfolio_folder"`` entry ``{"format": "causalfolio-folder",
  "version": 1, "kind": "run" | "study" | "dataset", "files": [...]}`` listing the files we
  wrote there (paths relative to the folder; ``*`` patterns for the rows of a study). A file of
  the right name without the stamp is the user's. Even then only the listed files go: a folder
  that also holds files we did not write is refused (nothing deleted), and only when asked
  (``overwrite``). An existing file, or a non-empty folder without the stamp, is refused whatever
  the flags: causalfolio never deletes what it did not write.
* A symbolic link ``--out`` is followed: the folder is written (and locked) at the link's target;
  a link to nothing is refused.
* A folder is written by one process at a time: :func:`folder_lock` holds an exclusive lock (the
  ``filelock`` package) for the whole command; a second writer gets
  :class:`~causalfolio.errors.ConfigError` "... is in use by another causalfolio process". The
  lock files live in a per-user folder of the system's temporary directory, named by a hash of
  the destination's resolved path (symbolic links followed: two spellings of one folder share a
  lock), so that nothing is added to the user's folders.
* A killed writer leaves temporary names of ours: ``.NAME.<8 chars>.tmp`` folders next to the
  destination (holding :data:`WRITING` with our stamp while they are written), ``.NAME.<8
  chars>.old`` backups (a stamped folder being replaced) and ``.FILE.<8 chars>.tmp`` files inside
  a stamped folder (``rows/``, ``stage-cache/``). They are removed by the next writer of the same
  destination, while it holds the lock (so no live writer of ours can own them), only when older
  than the lock and only when they carry our stamp (a look-alike name is the user's).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# mkdtemp/mkstemp names: prefix ".NAME.", 8 characters from [a-z0-9_], suffix ".tmp"
_RANDOM = r"[a-z0-9_]{8}"
_TMP_FILE = re.compile(rf"^\..+\.{_RANDOM}\.tmp$")
# subfolders of an output folder whose temporary files are ours to clean
_TMP_SUBDIRS = ("rows", "stage-cache")

STAMP_KEY = "causalfolio_folder"
"""The key of the folder stamp in a marker file (run.json, study.json, truth.json)."""
STAMP_FORMAT = "causalfolio-folder"
STAMP_VERSION = 1
KINDS = {"run.json": "run", "study.json": "study", "truth.json": "dataset"}
"""The kind of folder each marker file makes (the stamp's ``kind``)."""
WRITING = ".causalfolio-writing.json"
"""Inside a temporary folder while it is written: our stamp, so that a killed writer's folder is
told from a user's look-alike (removed before the folder is renamed into place)."""
_MAX_MARKER_BYTES = 256 * 2**20  # a marker larger than this is not ours (never read whole)
_SIGNED = ("report.html",)  # owned only when the file carries a causalfolio report signature

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
    # the resolved path: two spellings of one folder (a symbolic link, ../) share one lock
    where = os.path.normcase(os.path.realpath(out))
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


# --- the folder stamp: proof that a folder (and which of its files) is ours ---------------------


def stamp(kind: str, files: Iterable[str]) -> dict[str, Any]:
    """The folder stamp of a ``kind`` folder owning ``files`` (relative POSIX paths or ``*``
    patterns), to store under :data:`STAMP_KEY` in the folder's marker file."""
    return {"format": STAMP_FORMAT, "version": STAMP_VERSION, "kind": kind,
            "files": sorted(set(files))}


def stamp_marker(folder: str | os.PathLike, marker: str,
                 extra: Sequence[str] = ()) -> None:
    """Add the stamp to ``folder/marker`` (a JSON object we wrote), listing every file now in
    ``folder`` plus ``extra`` (names we may write later, e.g. ``report.html``)."""
    folder = Path(folder)
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
             if p.is_file() or p.is_symlink()]
    path = folder / marker
    data = json.loads(path.read_text())
    data[STAMP_KEY] = stamp(KINDS[marker], [*files, *extra])
    path.write_text(json.dumps(data, indent=2))


def _safe_relative(name: object) -> bool:
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def read_stamp(folder: str | os.PathLike, marker: str) -> list[str] | None:
    """The files (or patterns) the stamp in ``folder/marker`` says are ours; ``None`` when the
    marker is absent, unreadable, or lacks a valid stamp of its kind (the folder is not ours)."""
    path = Path(folder) / marker
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_MARKER_BYTES:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    st = data.get(STAMP_KEY) if isinstance(data, dict) else None
    if not isinstance(st, dict) or st.get("format") != STAMP_FORMAT or \
            st.get("version") != STAMP_VERSION or st.get("kind") != KINDS.get(marker):
        return None
    files = st.get("files")
    if not isinstance(files, list) or marker not in files or \
            not all(_safe_relative(f) for f in files):
        return None
    return list(files)


def _signed_report(path: Path) -> bool:
    from ..report.html import REPORT_SIGNATURES

    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return any(sig in head for sig in REPORT_SIGNATURES)


def _owns(patterns: Sequence[str], rel: str, path: Path) -> bool:
    if not any(fnmatch.fnmatchcase(rel, pat) for pat in patterns):
        m = _TMP_FILE.match(path.name)  # our atomic writer's temporary name of an owned file
        if not m or path.is_symlink():
            return False
        base = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
        real = base + path.name[1:-len(".xxxxxxxx.tmp")]
        return any(fnmatch.fnmatchcase(real, pat) for pat in patterns)
    if path.name in _SIGNED and "/" not in rel:
        return not path.is_symlink() and _signed_report(path)
    return True


def _walk(folder: Path) -> Iterator[tuple[str, Path]]:
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            p = Path(root) / name
            yield p.relative_to(folder).as_posix(), p


def foreign_files(folder: str | os.PathLike, patterns: Sequence[str]) -> list[str]:
    """Files under ``folder`` that the stamp's ``patterns`` do not own (sorted, relative)."""
    folder = Path(folder)
    return sorted(rel for rel, p in _walk(folder) if not _owns(patterns, rel, p))


def remove_owned(folder: str | os.PathLike, patterns: Sequence[str], *,
                 keep_root: bool = False) -> None:
    """Delete the files under ``folder`` that ``patterns`` own, then the folders left empty
    (``folder`` too unless ``keep_root``); what is not ours stays."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return
    for rel, p in list(_walk(folder)):
        if _owns(patterns, rel, p):
            p.unlink(missing_ok=True)
    for root, dirs, _ in os.walk(folder, topdown=False):
        for d in dirs:
            with contextlib.suppress(OSError):  # not empty: the user's files stay
                (Path(root) / d).rmdir()
    if not keep_root:
        with contextlib.suppress(OSError):
            folder.rmdir()


def resolve_out(out: str | os.PathLike) -> Path:
    """``out`` with a final symbolic link followed (the folder is written at its target);
    :class:`~causalfolio.errors.ConfigError` for a link to nothing."""
    out = Path(out)
    if not out.is_symlink():
        return out
    target = Path(os.path.realpath(out))
    if not target.exists():
        raise ConfigError(f"--out {out} is a symbolic link to {os.readlink(out)}, which does "
                          "not exist; create the folder it points to, or choose another --out")
    return target


def is_writing_folder(path: Path, marker: str) -> bool:
    """Whether ``path`` is a temporary folder of one of our writers (it holds :data:`WRITING`
    with our stamp of ``marker``'s kind)."""
    if not path.is_dir() or path.is_symlink():
        return False
    f = path / WRITING
    try:
        if f.is_symlink() or not f.is_file() or f.stat().st_size > 4096:
            return False
        data = json.loads(f.read_bytes())
    except (OSError, ValueError):
        return False
    st = data.get(STAMP_KEY) if isinstance(data, dict) else None
    return isinstance(st, dict) and st.get("format") == STAMP_FORMAT and \
        st.get("version") == STAMP_VERSION and st.get("kind") == KINDS.get(marker)


def write_writing_stamp(folder: Path, marker: str) -> None:
    """Mark a temporary folder as ours while it is written (see :data:`WRITING`)."""
    (folder / WRITING).write_text(json.dumps({STAMP_KEY: stamp(KINDS[marker], [])}))


def check_replaceable(out: str | os.PathLike, *, marker: str, overwrite: bool,
                      what: str = "run") -> bool:
    """Whether ``out`` holds a folder to replace (True), or nothing yet (False).

    Raises :class:`~causalfolio.errors.ConfigError` (nothing is written) when ``out`` is a file, a
    non-empty folder whose ``marker`` lacks our stamp (whatever ``overwrite`` says), a stamped
    folder that also holds files we did not write, or a stamped folder and ``overwrite`` is
    false.
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
    owned = read_stamp(out, marker)
    if owned is None:
        raise ConfigError(f"--out {out} is not a {what} folder written by causalfolio (its "
                          f"{marker} lacks causalfolio's folder stamp) and causalfolio never "
                          "replaces a folder it did not write, whatever the flags: choose "
                          "another --out (or empty or remove that folder yourself)")
    if not overwrite:
        raise ConfigError(f"--out {out} exists and is not empty (a {what} folder); choose "
                          "another --out or pass --force to replace it")
    foreign = foreign_files(out, owned)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3
                                          else "")
        raise ConfigError(f"--out {out} is a {what} folder but also holds files causalfolio did "
                          f"not write ({shown}); causalfolio deletes only its own files: move "
                          "them out, or choose another --out")
    return True


def clean_stale(out: str | os.PathLike, since: float, marker: str) -> list[Path]:
    """Remove our temporary leftovers of killed writers of ``out`` older than ``since``.

    Call it while holding :func:`folder_lock` of ``out``. Removes ``.NAME.<8>.tmp`` folders next
    to ``out`` that hold our :data:`WRITING` stamp; the owned files of a ``.NAME.<8>.old`` backup
    whose ``marker`` carries our stamp once ``out`` exists (restoring it when ``out`` is missing:
    a writer was killed between the two renames); and, when ``out`` carries our stamp, the
    ``.FILE.<8>.tmp`` files of owned names at its top and in its ``rows/`` and ``stage-cache/``.
    Look-alike names without our stamp are the user's and stay. Returns what was removed.
    """
    out = Path(out)
    removed: list[Path] = []
    parent = out.parent
    folder_tmp = re.compile(rf"^\.{re.escape(out.name)}\.{_RANDOM}\.tmp$")
    folder_old = re.compile(rf"^\.{re.escape(out.name)}\.{_RANDOM}\.old$")
    if parent.is_dir():
        for p in sorted(parent.iterdir()):
            if p.is_symlink() or not p.is_dir() or p.stat().st_mtime >= since:
                continue
            if folder_tmp.match(p.name) and (is_writing_folder(p, marker)
                                             or not any(p.iterdir())):
                shutil.rmtree(p, ignore_errors=True)  # ours, or empty: nothing is lost
                removed.append(p)
            elif folder_old.match(p.name) and (owned := read_stamp(p, marker)) is not None:
                if out.exists() or out.is_symlink():
                    remove_owned(p, owned)
                    removed.append(p)
                else:
                    p.rename(out)
            elif folder_old.match(p.name) and not any(p.iterdir()):
                p.rmdir()  # a backup name reserved by a writer killed before its rename
                removed.append(p)
    owned = read_stamp(out, marker) if out.is_dir() and not out.is_symlink() else None
    if owned is not None:
        dirs = [out] + [out / d for d in _TMP_SUBDIRS if (out / d).is_dir()]
        cache = out / "stage-cache"
        if cache.is_dir():
            dirs += [p for p in cache.rglob("*") if p.is_dir() and not p.is_symlink()]
        rows = out / "rows"
        if rows.is_dir():
            dirs += [p for p in rows.iterdir() if p.is_dir() and not p.is_symlink()]
        for d in dirs:
            for p in d.iterdir():
                if _TMP_FILE.match(p.name) and p.is_file() and not p.is_symlink() \
                        and p.stat().st_mtime < since \
                        and _owns(owned, p.relative_to(out).as_posix(), p):
                    p.unlink(missing_ok=True)
                    removed.append(p)
    return removed


@contextlib.contextmanager
def claim_folder(out: str | os.PathLike, *, marker: str, overwrite: bool,
                 what: str = "run") -> Iterator[bool]:
    """Lock ``out``, check it may be written (:func:`check_replaceable`) and clean our stale
    leftovers; yields whether ``out`` already exists. Hold it for the whole command, so that a
    concurrent writer is refused before it computes anything. A symbolic link ``out`` is
    followed (:func:`resolve_out`)."""
    out = resolve_out(out)
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
