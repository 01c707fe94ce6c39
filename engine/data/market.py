"""The market a backtest runs on: aligned asset and candidate-driver returns."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import pandas as pd

from ..errors import DataError
from .io import read_table
from .transforms import apply_transforms
from .validation import (
    NanPolicy,
    apply_nan_policy,
    check_not_constant,
    check_returns,
    lives,
    validate_frame,
)

Align = Literal["inner", "assets"]


@attrs.frozen(eq=False)  # holds arrays/frames: identity equality, hashable
class Market:
    """Asset returns and candidate-driver returns on one calendar.

    Attributes
    ----------
    assets
        (T, N) daily returns of the portfolio constituents; NaN where an asset is outside the
        universe (before its listing, after its delisting).
    candidates
        (T, M) daily returns (or transformed changes) of the candidate drivers, same dates; NaN
        where a candidate series does not exist.
    truth
        Ground truth when the market is synthetic (:class:`~causalfolio.data.SyntheticTruth`).
    """

    assets: pd.DataFrame
    candidates: pd.DataFrame
    truth: Any = None
    loading: tuple[str, ...] = attrs.field(default=(), repr=False)
    """What loading kept (:meth:`from_frames`): one line per data set, with the dates each step
    cut and why (empty for a market built directly)."""

    def __attrs_post_init__(self) -> None:
        if not self.assets.index.equals(self.candidates.index):
            raise DataError("assets and candidates must share one calendar; use "
                            "Market.from_frames to align them")
        overlap = sorted(set(self.assets.columns) & set(self.candidates.columns))
        if overlap:
            raise DataError(f"names used both as asset and as candidate driver: {overlap[:5]}; "
                            "rename or remove them from the candidates")

    def _summary(self) -> str:
        from ..display import date_span

        truth = ", synthetic truth" if self.truth is not None else ""
        return (f"{self.assets.shape[1]} assets x {len(self.assets)} days "
                f"{date_span(self.dates)}, {self.candidates.shape[1]} candidates{truth}")

    def __repr__(self) -> str:
        return f"Market({self._summary()})"

    def _repr_html_(self) -> str:
        """Notebook view: shape, dates and the first names of assets and candidates."""
        from .. import display

        return display.html_block("Market", [
            self._summary(), f"assets: {display.names(list(self.assets.columns))}",
            f"candidates: {display.names(list(self.candidates.columns))}"])

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The common calendar."""
        return self.assets.index  # type: ignore[return-value]

    def before(self, date: pd.Timestamp) -> Market:
        """The market restricted to dates strictly before ``date``."""
        mask = self.dates < pd.Timestamp(date)
        return Market(self.assets.loc[mask], self.candidates.loc[mask], self.truth)

    @classmethod
    def from_frames(
        cls,
        assets: pd.DataFrame,
        candidates: pd.DataFrame,
        *,
        kind: Literal["prices", "returns"] = "prices",
        transforms: str | Mapping[str, str] | None = None,
        asset_transform: str | None = None,
        align: Align = "inner",
        nan_policy: NanPolicy = "error",
    ) -> Market:
        """Validate, align and transform asset and candidate frames.

        Parameters
        ----------
        assets, candidates
            Wide frames indexed by date: prices/levels (``kind='prices'``) or returns.
        kind
            ``prices``: levels, turned into returns by ``transforms``; ``returns``: used as is.
        transforms
            For candidates: one transform or a mapping name -> ``pct``/``log``/``diff``/``none``
            (default ``pct`` for prices, ``none`` for returns).
        asset_transform
            Transform for all assets (default ``pct`` for prices, ``none`` for returns).
        align
            Calendar policy. ``inner``: keep dates present in both files. ``assets``: keep the
            asset dates and carry candidate levels forward over dates they miss (holidays of
            another market), inside each candidate's life.
        nan_policy
            What to do with gaps (NaNs inside a series' life) after alignment: ``error``,
            ``ffill`` or ``drop``. NaNs before a series' first value or after its last are not
            an error: the asset or candidate is outside the universe there (a changing universe;
            the backtester invests in, and selects drivers from, the series with a full window
            of history at each rebalance).
        """
        if kind not in ("prices", "returns"):
            raise DataError(f"kind must be 'prices' or 'returns', got {kind!r}")
        a = validate_frame(assets, what="assets")
        c = validate_frame(candidates, what="candidates")
        overlap = sorted(set(a.columns) & set(c.columns))
        if overlap:
            raise DataError(f"names used both as asset and as candidate driver: {overlap[:5]}; "
                            "rename or remove them from the candidates")
        a_given, c_given = a.index, c.index
        a_steps: list[tuple[pd.DatetimeIndex, str]] = []
        c_steps: list[tuple[pd.DatetimeIndex, str]] = []
        if align == "inner":
            idx = a.index.intersection(c.index)
            a, c = a.loc[idx], c.loc[idx]
            a_steps.append((idx, "by align='inner' (--align inner): no candidate values"))
            c_steps.append((idx, "by align='inner' (--align inner): no asset values"))
        elif align == "assets":
            full = c.reindex(a.index.union(c.index))
            alive = lives(full)
            # carry levels over dates another market is closed, inside each series' life only
            c = (full.fillna(0.0) if kind == "returns" else full.ffill()).where(alive)
            c = c.reindex(a.index)
            c_steps.append((a.index, "by align='assets' (--align assets): not asset dates"))
        else:
            raise DataError(f"unknown alignment {align!r}; use 'inner' or 'assets'")
        if len(a) == 0:
            raise DataError("assets and candidates share no dates; check the date columns")
        a = apply_nan_policy(a, nan_policy, what="assets")
        c = apply_nan_policy(c, nan_policy, what="candidates")
        idx = a.index.intersection(c.index)
        a, c = a.loc[idx], c.loc[idx]
        a_steps.append((idx, f"by nan_policy={nan_policy!r}: a gap in some series"))
        c_steps.append((idx, f"by nan_policy={nan_policy!r}: a gap in some series"))
        default = "pct" if kind == "prices" else "none"
        a = apply_transforms(a, asset_transform or default, what="assets")
        c = apply_transforms(c, transforms if transforms is not None else default,
                             what="candidates")
        idx = a.index.intersection(c.index)
        a, c = a.loc[idx], c.loc[idx]
        if len(a) < 2:
            raise DataError(f"only {len(a)} aligned dates of returns; need a longer history")
        check_returns(a, what="assets", kind=kind, levels=asset_transform is None)
        check_returns(c, what="candidates", kind=kind, levels=transforms is None)
        check_not_constant(a, what="assets")
        check_not_constant(c, what="candidates")
        why = "as returns: the first date has no previous level"
        a_steps.append((idx, why))
        c_steps.append((idx, why))
        from .loading import loading_line

        lines = (loading_line("assets", "assets", a_given, assets.shape[1], a_steps, a.index,
                              a.shape[1]),
                 loading_line("candidates", "candidates", c_given, candidates.shape[1], c_steps,
                              c.index, c.shape[1]))
        return cls(a, c, loading=lines)

    @classmethod
    def from_files(
        cls,
        assets: str | os.PathLike,
        candidates: str | os.PathLike,
        **kwargs: Any,
    ) -> Market:
        """Read two wide CSV/Parquet files and build a market (see :meth:`from_frames`)."""
        return cls.from_frames(read_table(assets), read_table(candidates), **kwargs)
