"""``dp``: dynamic-programming subset search on G(S), with exhaustive search for small problems
(SPEC §1b, monograph §5.4.3).

D(j, m) = min{D(j-1, m), D(j-1, m-1) + Delta(j)} over the pre-screened candidates in screening
order, Delta evaluated exactly for the subset on the path. The recurrence is exact only when the
objective is additive over drivers, so when the number of k-subsets is small the exhaustive
optimum is also computed and the gap reported (``exhaustive='auto'``), or returned instead
(``exhaustive='always'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import lazy_module
from causalfolio.params import param, positive
from causalfolio.plugins.drivers._common import check_inputs
from causalfolio.plugins.drivers._gsearch import NUMERICAL_TIE, GSearchBase, dp_path, exhaustive
from causalfolio.stages import DriverSelection

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: loading the registry and parsing specs need no pandas
    pd = lazy_module("pandas")


@attrs.define(frozen=True, kw_only=True)
class Dp(GSearchBase):
    """Common drivers by the dynamic-programming recurrence on G(S) (§5.4.3)."""

    name = "dp"
    method = "dp"

    prescreen: int | None = param(40, doc="keep the candidates with the largest summed |corr| "
                                  "(rccp, eps=0) before the search; None keeps all",
                                  validator=positive)
    exhaustive: Literal["auto", "never", "always"] = param(
        "auto", doc="'auto': also run the exhaustive search when C(pool, k) <= max_subsets and "
                    "report the gap; 'always': return the exhaustive optimum; 'never'")
    max_subsets: int = param(20000, doc="largest number of k-subsets searched exhaustively",
                             validator=positive)

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        check_inputs(self.name, assets, candidates, k=self.k)
        pool, rep, penalty = self._prepare(assets, candidates)
        out = dp_path(pool, self.k, self.measure, penalty)
        by_size = out["by_size"]
        g0 = out["g0"]
        sizes = sorted(by_size)
        m, reason = max(sizes), "k"
        if self.stop == "score":
            # the smallest size whose objective no larger size beats by more than rounding
            m = sizes[0]
            for s in sizes[1:]:
                if by_size[s][0] < by_size[m][0] - NUMERICAL_TIE * g0:
                    m = s
            reason = "score: size with the lowest objective"
        elif self.stop == "constraint":
            for s in sizes[1:]:
                if by_size[s - 1][0] - by_size[s][0] < self.tol * g0:
                    m, reason = s - 1, "constraint: next size lowers the objective < tol x G0"
                    break
        objective, chosen = by_size[m]
        info = {"g_empty": g0, "objective_by_size": {str(s): by_size[s][0] for s in sizes},
                "stop_reason": reason, "lam": self.lam}
        if self.exhaustive != "never":
            import math

            count = math.comb(len(pool.names), m)
            if self.exhaustive == "always" or count <= self.max_subsets:
                ex = exhaustive(pool, m, self.measure, penalty, self.max_subsets)
                info.update(exhaustive_objective=ex["objective"], n_subsets=ex["n_subsets"],
                            gap=objective - ex["objective"],
                            exhaustive_names=[pool.names[p] for p in ex["subset"]])
                if self.exhaustive == "always":
                    objective, chosen = ex["objective"], ex["subset"]
                    info["returned"] = "exhaustive"
        info.setdefault("returned", "dp")
        return self._result(assets, candidates, pool, chosen, objective, [], None, rep, info)


@hookimpl
def register_drivers(register):
    register(Dp)
