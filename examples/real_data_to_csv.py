"""Write the bundled real data as the two CSV files the ``causalfolio backtest`` command reads.

From there the command line takes over, exactly as with your own data::

    python examples/real_data_to_csv.py --period short --out data/us-short
    causalfolio backtest --assets data/us-short/assets.csv --drivers data/us-short/drivers.csv \\
        --spec "rccp(k=6)|linear|beta|static|hsp" --benchmark equal --benchmark hrp \\
        --min-weight 0.03 --max-weight 0.10 --start 2020-06-01 --out runs/us-short --report

``assets.csv`` holds the 14 portfolio stocks' prices, ``drivers.csv`` the candidate levels (the
command turns them into returns; the VIX, a level, needs ``--transform VIX=diff`` when present).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from causalfolio.data import write_table
from causalfolio.data.real import PERIODS, load_levels, real_market


def export(period: str, out: str | Path) -> dict:
    """Write OUT/assets.csv and OUT/drivers.csv (levels) for a period; returns the data facts."""
    market, facts = real_market(period)
    levels, _ = load_levels()
    first, last = market.dates[0], market.dates[-1]
    # the asset trading days from the one before the first return: the returns rebuild exactly
    days = levels[facts["assets"]].dropna(how="any").index
    keep = days[(days >= days[days < first][-1]) & (days <= last)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_table(levels.loc[keep, facts["assets"]], out / "assets.csv")
    write_table(levels[facts["candidates"]].ffill().reindex(keep), out / "drivers.csv")
    return facts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--period", default="short", choices=list(PERIODS))
    ap.add_argument("--out", required=True, help="folder for assets.csv and drivers.csv")
    args = ap.parse_args(argv)
    facts = export(args.period, args.out)
    transforms = " ".join(f"--transform {c}={s['transform']}" for c, s in facts["sources"].items()
                          if c in facts["candidates"] and s["transform"] != "pct")
    print(f"wrote {args.out}/assets.csv ({len(facts['assets'])} stocks) and drivers.csv "
          f"({len(facts['candidates'])} candidates: {', '.join(facts['candidates'])})")
    start = PERIODS[args.period].start
    print(f"next: causalfolio backtest --assets {args.out}/assets.csv --drivers "
          f"{args.out}/drivers.csv --spec 'rccp(k=6)|linear|beta|static|hsp' --benchmark equal "
          f"--benchmark hrp --min-weight 0.03 --max-weight 0.10 --start {start} "
          + (f"{transforms} " if transforms else "") + f"--out runs/{args.period} --report")
    return 0


if __name__ == "__main__":
    from causalfolio.errors import CausalfolioError

    try:
        sys.exit(main())
    except CausalfolioError as exc:  # one line, like the causalfolio command
        print(f"{Path(__file__).name}: error: {exc}", file=sys.stderr)
        sys.exit(2)
