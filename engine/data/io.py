"""Reading and writing wide tables: a date column plus one column per series (CSV or Parquet)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .validation import check_column_names


def read_table(path: str | os.PathLike, *, date_column: str | None = None) -> pd.DataFrame:
    """Read a wide CSV or Parquet file into a frame indexed by date.

    Parameters
    ----------
    path
        ``.csv`` (optionally ``.csv.gz``) or ``.parquet`` file.
    date_column
        Name of the date column; default: a column named ``date`` (any case), else the first one.

    Returns
    -------
    DataFrame with a DatetimeIndex named ``date``; values are checked later by
    :func:`causalfolio.data.validate_frame`.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    suffixes = "".join(p.suffixes).lower()
    header: list[str] | None = None
    try:
        if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
            raw = pd.read_parquet(p)
            if isinstance(raw.index, pd.DatetimeIndex):
                raw = raw.reset_index()
        elif ".csv" in suffixes or ".txt" in suffixes:
            raw = pd.read_csv(p)
            # the header as written: pandas renames repeated names (A04.1) and fills empty ones
            # (Unnamed: 4), which would hide both mistakes
            first = pd.read_csv(p, header=None, nrows=1, dtype=str, keep_default_na=False)
            header = [str(v) for v in first.iloc[0]] if len(first) else None
        else:
            raise DataError(f"{p}: unsupported file type {suffixes or '(none)'}; use .csv or "
                            ".parquet")
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - parser errors become one clear line
        raise DataError(f"{p}: cannot read the file ({type(exc).__name__}: {exc})") from None
    if raw.empty or raw.shape[1] < 2:
        raise DataError(f"{p}: no data; expected a date column and at least one series column")
    check_column_names(header if header is not None else list(raw.columns), source=str(p))
    guessed = False
    if date_column is None:
        matches = [c for c in raw.columns if str(c).lower() == "date"]
        guessed = not matches
        date_column = matches[0] if matches else raw.columns[0]
    elif date_column not in raw.columns:
        raise DataError(f"{p}: no column {date_column!r}; columns are {list(raw.columns)[:10]}")
    frame = raw.drop(columns=[date_column])
    try:
        frame.index = parse_dates(raw[date_column], source=f"{p} column {date_column!r}")
    except DataError as exc:
        if not guessed:
            raise
        raise DataError(f"{p}: no date column: no column is named 'date' and the first column "
                        f"{str(date_column)!r} does not hold dates (row 1: "
                        f"{str(raw[date_column].iloc[0])!r}); add a column 'date' with dates like "
                        "2021-03-31") from exc
    frame.columns = [str(c) for c in frame.columns]
    return frame


def parse_dates(values: pd.Series, *, source: str = "data") -> pd.DatetimeIndex:
    """Parse a column of dates; the first unparseable value is reported with its row.

    Time-zone offsets are dropped (dates are calendar days), but they must be the same on every
    row: a column that mixes offsets (``+00:00`` and ``+05:00``, or offsets and none) is a
    :class:`DataError`, as are numbers (which pandas would read as nanoseconds since 1970).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
    elif pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"{source}: the date column holds numbers ({str(values.iloc[0])!r} in "
                        "row 1), not dates; write dates like 2021-03-31")
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # pandas' mixed-offset notice
                parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        except (ValueError, TypeError):
            parsed = None
        if parsed is None or not pd.api.types.is_datetime64_any_dtype(parsed):
            _mixed_offsets(values, source)
            raise DataError(f"{source}: cannot read the date column (row 1: "
                            f"{values.iloc[0]!r}); use ISO dates like 2021-03-31")
    bad = parsed.isna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        if pd.notna(values.iloc[i]) and _offset_text(values.iloc[i]) != "unparseable":
            _mixed_offsets(values, source)  # it parses alone: pandas dropped it for its offset
        raise DataError(
            f"{source}: unparseable date {values.iloc[i]!r} in row {i + 1}; use ISO dates "
            "like 2021-03-31"
        )
    idx = pd.DatetimeIndex(parsed, name="date")
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    return idx


def _offset_text(value: object) -> str:
    try:
        off = pd.Timestamp(str(value)).utcoffset()
    except (ValueError, TypeError):
        return "unparseable"
    if off is None:
        return "no offset"
    minutes = int(off.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"offset {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _mixed_offsets(values: pd.Series, source: str) -> None:
    """Raise the error for a date column whose rows carry different time-zone offsets (returns
    when they do not)."""
    first = _offset_text(values.iloc[0])
    for i in range(1, len(values)):
        other = _offset_text(values.iloc[i])
        if other != first:
            raise DataError(f"{source}: dates mix time-zone offsets ({first} in row 1 "
                            f"{values.iloc[0]!r}, {other} in row {i + 1} {values.iloc[i]!r}); "
                            "write every date with the same offset, or as plain dates like "
                            "2021-03-31")


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a date-indexed frame as CSV or Parquet (by suffix)."""
    p = Path(path)
    out = frame.copy()
    out.index.name = out.index.name or "date"
    if p.suffix.lower() in (".parquet", ".pq"):
        out.to_parquet(p)
    else:
        out.to_csv(p, float_format="%.10g")
    return p


def umask() -> int:
    """The process's file-mode creation mask (read without changing it where the system allows)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - systems without /proc
    os.umask(mask)
    return mask


def _honour_umask(path: str | os.PathLike, mode: int) -> None:
    """``mkdtemp``/``mkstemp`` create 0700/0600 whatever the umask: give ``path`` the mode an
    ordinary ``mkdir``/``open`` would (``mode`` less the umask), so colleagues sharing a folder
    can read what we write when the umask lets them."""
    os.chmod(path, mode & ~umask())


@contextlib.contextmanager
def atomic_folder(out: Path, *, marker: str, overwrite: bool = False,
                  what: str = "run", extra_owned: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary folder next to ``out`` and rename it to ``out`` when the block succeeds.

    ``out`` is locked for the whole block, and may be replaced only when it is an empty folder or
    a folder whose ``marker`` (the file the block writes, e.g. ``run.json``) carries our folder
    stamp, holds nothing else than the files the stamp lists, and ``overwrite`` (see
    :mod:`causalfolio.data.folders`); anything else raises
    :class:`~causalfolio.errors.ConfigError` before the block runs. A symbolic link ``out`` is
    followed (written at its target). When the block succeeds, the stamp is added to
    ``marker``, listing every file written plus ``extra_owned`` (names written later, e.g.
    ``report.html``); the replaced folder's own files are then deleted (only those). On error the
    temporary folder is removed, so nothing half-written is left behind.
    """
    from .folders import (
        WRITING,
        claim_folder,
        read_stamp,
        remove_owned,
        resolve_out,
        stamp_marker,
        write_writing_stamp,
    )

    out = resolve_out(out)
    with claim_folder(out, marker=marker, overwrite=overwrite, what=what) as exists:
        old = read_stamp(out, marker) if exists else None
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            write_writing_stamp(tmp, marker)
            yield tmp
            if not (tmp / marker).is_file():
                raise RuntimeError(f"the folder written for {out} lacks its marker {marker}")
            (tmp / WRITING).unlink()
            stamp_marker(tmp, marker, extra_owned)
            _honour_umask(tmp, 0o777)
            if out.exists() and old is None and not any(out.iterdir()):
                out.rmdir()  # an empty folder: nothing to keep
            if out.exists():
                # a unique backup name (never a user's look-alike): reserved empty, replaced by
                # the rename, restored by the next writer if we are killed before the second
                backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old",
                                               dir=out.parent))
                out.rename(backup)
                tmp.rename(out)
                remove_owned(backup, old or [])  # only our files; anything else stays
            else:
                tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling and an atomic rename: readers see
    the old file or the whole new one, never a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        _honour_umask(tmp, 0o666)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_frame(frame: pd.DataFrame, path: Path, *, index: bool) -> None:
    """Write ``frame`` as Parquet or CSV (by suffix; CSV floats ``%.10g``) through a temporary
    sibling and an atomic rename, as :func:`atomic_write_bytes`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=index)
        else:
            frame.to_csv(tmp, index=index, float_format="%.10g")
        _honour_umask(tmp, 0o666)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
