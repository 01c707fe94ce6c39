"""Per-series transforms from levels to returns (SPEC §0 data conventions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DataError

Transform = Literal["pct", "log", "diff", "none"]
TRANSFORMS: tuple[str, ...] = ("pct", "log", "diff", "none")


def apply_transforms(
    levels: pd.DataFrame,
    transforms: str | Mapping[str, str] = "pct",
    *,
    what: str = "series",
) -> pd.DataFrame:
    """Turn levels into returns series by series; the first row is dropped.

    Parameters
    ----------
    levels
        (T, M) levels (prices, yields, spreads...), dates ascending; NaN only outside a series'
        life (before its first or after its last value), which gives NaN returns there.
    transforms
        One transform for all series, or a mapping from series name to transform; series not in
        the mapping use ``pct``. ``pct``: x_t / x_{t-1} - 1 (levels must be > 0); ``log``:
        log(x_t / x_{t-1}) (levels must be > 0); ``diff``: x_t - x_{t-1} (for levels that may be
        zero or negative, such as yields); ``none``: the series already is a return.
    what
        Name used in error messages (``assets``, ``candidates``).
    """
    if isinstance(transforms, str):
        mapping = {c: transforms for c in levels.columns}
    else:
        unknown = [k for k in transforms if k not in levels.columns]
        if unknown:
            raise DataError(f"transforms name series not in the {what}: {unknown[:5]}")
        mapping = {c: transforms.get(c, "pct") for c in levels.columns}
    out = {}
    for col, how in mapping.items():
        if how not in TRANSFORMS:
            raise DataError(f"{what} series {col!r}: unknown transform {how!r}; use one of "
                            f"{', '.join(TRANSFORMS)}")
        x = levels[col].astype(float)
        if how in ("pct", "log"):
            bad = x.notna() & (x <= 0)
            if bad.any():
                d = x.index[bad.to_numpy()][0]
                raise DataError(
                    f"{what} series {col!r} has a non-positive level {x[d]:g} on {d.date()}; "
                    f"{how} returns need positive levels: use transform 'diff' for yields, "
                    "spreads and other levels that can be zero or negative"
                )
            tiny = x.notna() & (x < np.finfo(float).tiny)
            if tiny.any():  # subnormal: ratios of such levels overflow or lose all precision
                d = x.index[tiny.to_numpy()][0]
                raise DataError(
                    f"{what} series {col!r} has a level {x[d]:g} on {d.date()}, below the "
                    f"smallest normal float ({np.finfo(float).tiny:g}); {how} returns of such "
                    "levels are meaningless: rescale the series (e.g. multiply it by 1e300)"
                )
            out[col] = x / x.shift(1) - 1.0 if how == "pct" else np.log(x).diff()
        elif how == "diff":
            out[col] = x.diff()
        else:
            out[col] = x
    frame = pd.DataFrame(out, index=levels.index)
    if len(frame) and any(h != "none" for h in mapping.values()):
        frame = frame.iloc[1:]
    return frame
