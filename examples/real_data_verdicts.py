"""Which candidates does ``pcmci`` call causes on real data? Verdicts for skfolio's bundled data.

    python examples/real_data_verdicts.py [--end 2022-12-28] [--window 252] [--windows 4]

Assets: the 20 bundled S&P 500 stocks (skfolio). Candidates: the five iShares factor ETFs
(MTUM, QUAL, SIZE, USMV, VLUE), the S&P 500 index (``SP500``) and ``EW20``, the equal-weighted
daily return of the 20 stocks: an index computed from the very stocks being allocated, an
effect by construction (a collider). For each of ``--windows`` consecutive selection windows of
``--window`` trading days ending at ``--end``, every candidate's verdict, orientation, votes and
links is printed, then a count of verdicts over the windows. Nothing is downloaded (needs the
``data`` extra: skfolio).
"""

from __future__ import annotations

import argparse

import pandas as pd

from causalfolio.data.real import FACTOR_ETFS, OTHER_STOCKS, PORTFOLIO_US, load_levels
from causalfolio.plugins.drivers.pcmci import Pcmci


def returns(end: str, days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Asset and candidate returns on the last ``days`` common trading days up to ``end``."""
    levels, _ = load_levels()
    stocks = sorted([*PORTFOLIO_US, *OTHER_STOCKS])
    cols = [*stocks, "SP500", *FACTOR_ETFS]
    px = levels[cols].loc[:end].dropna(how="any")
    r = px.pct_change().iloc[1:]
    r = r.iloc[-days:]
    assets = r[stocks]
    cands = r[["SP500", *FACTOR_ETFS]].assign(EW20=assets.mean(axis=1))
    return assets, cands


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--end", default="2022-12-28")
    ap.add_argument("--window", type=int, default=252)
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--spec", default="pcmci()", help="selector spec (a pcmci(...) call)")
    args = ap.parse_args(argv)
    from causalfolio import parse_spec

    sel = parse_spec(args.spec + "|linear|beta|static|hsp").drivers
    if not isinstance(sel, Pcmci):
        raise SystemExit("--spec must be a pcmci(...) selector")
    assets, cands = returns(args.end, args.window * args.windows)
    tally: dict[str, dict[str, int]] = {c: {} for c in cands.columns}
    for w in range(args.windows):
        a = assets.iloc[w * args.window: (w + 1) * args.window]
        c = cands.iloc[w * args.window: (w + 1) * args.window]
        out = sel.select(a, c, seed=0)
        print(f"\n{a.index[0].date()} to {a.index[-1].date()} ({len(a)} days): "
              f"selected {list(out.names)}")
        cols = ["verdict", "orientation", "effect_votes", "cause_votes", "links", "parent_of",
                "p_value", "sepset"]
        print(out.scores[cols].to_string(float_format=lambda v: f"{v:.3g}"))
        for name, v in out.scores["verdict"].items():
            tally[name][v] = tally[name].get(v, 0) + 1
    print(f"\nverdicts over {args.windows} windows of {args.window} days:")
    for name, counts in tally.items():
        print(f"  {name:6s} " + ", ".join(f"{k}: {n}" for k, n in sorted(counts.items())))


if __name__ == "__main__":
    main()
