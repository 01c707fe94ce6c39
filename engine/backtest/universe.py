"""Changing universes: which assets are investable, and which candidates may be selected, at each
rebalance date.

An asset is investable at date tau when it has a return on each of the ``need`` trading days
before tau (a full window of history) and on tau itself (it has a price on the date, so it can be
traded). A candidate driver is in the pool when it has a value on each of the ``need`` days
before tau (drivers are not traded, so nothing on tau is read). NaNs mark days outside a series'
life: before its listing, after its delisting (see :func:`causalfolio.data.validation.lives`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Universe:
    """Membership of assets and candidates at every calendar position, from cumulative counts.

    Parameters
    ----------
    assets, candidates
        (T, N) and (T, M) returns with NaN outside each series' life.
    need
        Trading days of history required before a date.
    """

    def __init__(self, assets: pd.DataFrame, candidates: pd.DataFrame | None, need: int) -> None:
        self.need = int(need)
        self.n_assets = assets.shape[1]
        self._a = self._counts(assets)
        self._c = self._counts(candidates) if candidates is not None else None

    @staticmethod
    def _counts(frame: pd.DataFrame) -> np.ndarray | None:
        have = frame.notna().to_numpy()
        if have.all():
            return None  # a fixed universe: everything is always in
        out = np.zeros((have.shape[0] + 1, have.shape[1]), dtype=np.int32)
        np.cumsum(have, axis=0, out=out[1:])
        return out

    @property
    def fixed(self) -> bool:
        """True when no asset or candidate ever leaves or enters."""
        return self._a is None and self._c is None

    def investable(self, pos: int) -> np.ndarray:
        """(N,) bool: assets with returns on the ``need`` days before calendar position ``pos``
        and on ``pos``."""
        if self._a is None:
            return np.ones(self.n_assets, dtype=bool)
        lo = pos - self.need
        if lo < 0:
            return np.zeros(self.n_assets, dtype=bool)
        return (self._a[pos + 1] - self._a[lo]) == self.need + 1

    def pool(self, pos: int) -> np.ndarray | None:
        """(M,) bool: candidates with values on the ``need`` days before position ``pos``."""
        if self._c is None:
            return None  # all candidates
        lo = pos - self.need
        if lo < 0:
            return np.zeros(self._c.shape[1], dtype=bool)
        return (self._c[pos] - self._c[lo]) == self.need
