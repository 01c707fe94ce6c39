"""``greedy``: forward selection of common drivers on G(S) (SPEC §1b, monograph §5.3, §5.4.3).

Start from the empty set and add, one at a time, the candidate that lowers the remaining
conditional dependence between constituents G(S) (optionally the regularised objective
G(S) - lambda * sum R(X)) the most; every candidate is scored at each step by one rank-one
update of the residuals, not one regression per candidate. Then (``refine`` > 0) swap passes
replace a selected driver whenever another candidate gives a lower objective with the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import lazy_module
from causalfolio.params import non_negative, param
from causalfolio.plugins.drivers._common import check_inputs
from causalfolio.plugins.drivers._gsearch import GSearchBase, greedy_path, swap_refine
from causalfolio.stages import DriverSelection

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: loading the registry and parsing specs need no pandas
    pd = lazy_module("pandas")


@attrs.define(frozen=True, kw_only=True)
class Greedy(GSearchBase):
    """Common drivers by greedy minimisation of the conditional dependence G(S) (§5.4.3)."""

    name = "greedy"
    method = "greedy"

    refine: int = param(10, doc="passes of swap refinement after the forward search (replace a "
                        "driver when that lowers the objective); 0: plain forward selection",
                        validator=non_negative)

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        check_inputs(self.name, assets, candidates, k=self.k)
        pool, rep, penalty = self._prepare(assets, candidates)
        out = greedy_path(pool, self.k, self.measure, penalty, self.stop, self.tol)
        info = {"g_empty": out["g0"], "g_path": out["g_path"], "stop_reason": out["reason"],
                "lam": self.lam, "forward_names": [pool.names[p] for p in out["path"]],
                "forward_objective": out["objective"], "swaps": []}
        chosen, objective = out["path"], out["objective"]
        if self.refine and len(chosen) > 0:
            ref = swap_refine(pool, chosen, self.measure, penalty, self.refine)
            chosen, objective = ref["subset"], ref["objective"]
            info["swaps"] = [[pool.names[a], pool.names[b]] for a, b in ref["swaps"]]
        g_after = out["g_path"] if not info["swaps"] else []
        return self._result(assets, candidates, pool, chosen, objective, g_after,
                            out["single"], rep, info)


@hookimpl
def register_drivers(register):
    register(Greedy)
