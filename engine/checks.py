"""Shared checks of user-given settings (dates, output paths, seeds), each failure one clear
:class:`~causalfolio.errors.ConfigError` naming the setting and the fix.

Used by the Python API (``BacktestConfig``, ``Grid``, ``synthetic_market``) and by every CLI
command, so a bad value gives the same message wherever it enters.
"""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ConfigError, shorten


def parse_date(value: Any, name: str) -> pd.Timestamp | None:
    """A date setting (``start``, ``end``) as a tz-naive :class:`pandas.Timestamp`.

    Parameters
    ----------
    value
        ``None`` (unset), a date string such as ``2016-02-29``, or a date/timestamp object.
    name
        The setting's name, used in the message (e.g. ``start``).

    Raises
    ------
    ConfigError
        For text that is not a calendar date (``notadate``, ``2016-02-30``), numbers and empty
        strings.
    """
    if value is None:
        return None
    if isinstance(value, (bool, int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} date {value!r} is a number, not a date; use YYYY-MM-DD, "
                          "e.g. 2016-02-29")
    if isinstance(value, str):
        text = value.strip()
        if text and not text[0].isdigit():  # 'now', 'today': not reproducible, not a date
            raise ConfigError(f"{name} date {shorten(repr(value))} is invalid (not a date); use "
                              "YYYY-MM-DD, e.g. 2016-02-29")
        try:
            ts = pd.Timestamp(text) if text else pd.NaT
        except (ValueError, TypeError, OverflowError) as exc:
            why = ("the day is out of range for the month" if "out of range" in str(exc)
                   else "not a date")
            raise ConfigError(f"{name} date {shorten(repr(value))} is invalid ({why}); use "
                              "YYYY-MM-DD, e.g. 2016-02-29") from None
    elif isinstance(value, (pd.Timestamp, _dt.date, np.datetime64)):
        ts = pd.Timestamp(value)
    else:
        raise ConfigError(f"{name} date must be a YYYY-MM-DD string or a date, got "
                          f"{type(value).__name__}")
    if pd.isna(ts):
        raise ConfigError(f"{name} date {value!r} is empty; use YYYY-MM-DD, e.g. 2016-02-29")
    return ts.tz_localize(None) if ts.tz is not None else ts


MAX_SEED = 2**32 - 1
"""Largest seed: numpy's and scikit-learn's ``random_state`` range, and small enough for the
int64 columns of result tables."""


def check_seed(value: Any, name: str = "seed") -> int:
    """A random seed: an integer in [0, :data:`MAX_SEED`] (numpy's generators refuse negative
    seeds; a larger one cannot be stored in the result tables)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{name} must be an integer >= 0, got {shorten(repr(value))}")
    if value > MAX_SEED:
        raise ConfigError(f"{name} must be at most {MAX_SEED} (2**32 - 1), got "
                          f"{shorten(repr(value))}")
    return int(value)


def check_out_path(out: str | os.PathLike, *, option: str = "--out", kind: str = "folder"
                   ) -> Path:
    """Check that ``out`` can be created as a new folder (or file) before any work starts.

    Refuses names that are not a new entry (``.``, ``..``, ``x/..``, ``/``), a path below an
    existing file, and a location where nothing can be created (``/proc/x``, a read-only folder).
    The check creates nothing that remains: it makes and removes one empty temporary folder in
    the nearest existing parent.

    Parameters
    ----------
    out
        The path given by the user.
    option
        How the user gave it, for the message (``--out``).
    kind
        ``folder`` or ``file`` (what will be written there), for the message.

    Returns
    -------
    The path, unchanged, as a :class:`~pathlib.Path`.
    """
    p = Path(out)
    text = str(out)
    if not text.strip():
        raise ConfigError(f"{option} is empty; give a {kind} name, e.g. runs/demo")
    if p.name in ("", ".", "..") or text.rstrip("/").endswith(("/.", "/..")) or \
            text.rstrip("/") in (".", "..", ""):
        raise ConfigError(f"{option} {text!r} does not name a new {kind}; give a {kind} name, "
                          "e.g. runs/demo")
    if p.is_symlink() and not p.exists():
        raise ConfigError(f"{option} {shorten(repr(text))} is a symbolic link to "
                          f"{shorten(repr(os.readlink(p)))}, which does not exist; create what "
                          f"it points to, or choose another {option}")
    if kind == "folder" and p.is_file():
        raise ConfigError(f"{option} {text!r} is a file, not a folder; choose another {option}")
    if kind == "file" and p.is_dir():
        raise ConfigError(f"{option} {text!r} is a folder; give a file name such as "
                          f"{p / 'report.html'}")
    parent = p.parent
    while not (parent.exists() or parent == parent.parent):
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {text!r}: {parent} is a file, not a folder; choose another "
                          f"{option}")
    try:
        probe = tempfile.mkdtemp(prefix=".causalfolio-probe.", dir=parent)
    except OSError as exc:
        raise ConfigError(f"{option} {text!r}: cannot create anything in {parent} "
                          f"({exc.strerror or exc}); choose a writable location") from None
    os.rmdir(probe)
    return p
