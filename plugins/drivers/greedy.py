"""``greedy``: forward selection of common drivers on G(S) (SPEC §1b, monograph §5.3, §5.4.3).

Start from the empty set and add, one at a time, the candidate that lowers the remaining
conditional dependence between constituents G(S) (optionally the regularised objective
G(S) - lambda * sum R(X)) the most; every candidate is scored at each step by one rank-one
update of the residuals, not one regression per candidate.
"""

from __future__ import annotations

import attrs
import pandas as pd

from causalfolio import hookimpl
from causalfolio.plugins.drivers._common import check_inputs
from causalfolio.plugins.drivers._gsearch import GSearchBase, greedy_path
from causalfolio.stages import DriverSelection


@attrs.define(frozen=True, kw_only=True)
class Greedy(GSearchBase):
    """Common drivers by greedy minimisation of the conditional dependence G(S) (§5.4.3)."""

    name = "greedy"
    method = "greedy"

    def select(self, assets: pd.DataFrame, candidates: pd.DataFrame, *, seed: int
               ) -> DriverSelection:
        check_inputs(self.name, assets, candidates, k=self.k)
        pool, rep, penalty = self._prepare(assets, candidates)
        out = greedy_path(pool, self.k, self.measure, penalty, self.stop, self.tol)
        info = {"g_empty": out["g0"], "g_path": out["g_path"], "stop_reason": out["reason"],
                "lam": self.lam}
        return self._result(assets, candidates, pool, out["path"], out["objective"],
                            out["g_path"], out["single"], rep, info)


@hookimpl
def register_drivers(register):
    register(Greedy)
