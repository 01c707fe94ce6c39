"""``fixed``: a user-given list of drivers (SPEC §1e), e.g. smart-beta ETFs or sector indices for
the factor-model comparison of monograph §9.1 and Remark 5."""

from __future__ import annotations

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import DataError
from causalfolio.params import in_range, non_empty, param, positive, unique_items
from causalfolio.plugins.drivers._common import (
    check_inputs,
    check_names,
    constant_columns,
    correlation_matrix,
    specific_by_regression,
)
from causalfolio.stages import DriverSelection, DriverSelector


@attrs.define(frozen=True, kw_only=True)
class Fixed(DriverSelector):
    """The drivers the user names, in the given order (factor-model comparison, §9.1)."""

    name = "fixed"

    names: tuple[str, ...] = param(doc="candidate names to use as drivers, in order",
                                   validator=[non_empty, unique_items])
    window: int | None = param(None, doc="selection window in trading days (only for the "
                                         "evidence; default: the backtest's driver window)",
                               validator=positive)
    alpha: float = param(0.05, doc="significance level defining which constituents a driver "
                         "is specific to (t-test of its coefficient)",
                         validator=in_range(0.0, 1.0, lo_open=True, hi_open=True))

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        y, x = check_inputs(self.name, assets, candidates)
        cols = [str(c) for c in candidates.columns]
        check_names(self.name, "names", self.names, cols)
        idx = [cols.index(n) for n in self.names]
        const = [self.names[i] for i, c in enumerate(constant_columns(x[:, idx])) if c]
        if const:
            raise DataError(f"fixed: drivers {const} are constant over the selection window; "
                            "remove them or use a longer window")
        xs = x[:, idx] - x[:, idx].mean(axis=0)
        yc = y - y.mean(axis=0)
        corr = correlation_matrix(xs, yc)
        spec = specific_by_regression(yc, xs, self.alpha)
        scores = pd.DataFrame({"strength": np.abs(corr).sum(axis=1),
                               "mean_corr": corr.mean(axis=1)}, index=list(self.names))
        specific = {n: tuple(str(a) for a in assets.columns[spec[j]])
                    for j, n in enumerate(self.names)}
        return DriverSelection(names=list(self.names), scores=scores, specific_to=specific,
                               objective=None, info={"n_candidates": len(cols)})


@hookimpl
def register_drivers(register):
    register(Fixed)
