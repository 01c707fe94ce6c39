"""Brace expansion and grid de-duplication scale linearly (run by hand, not collected by pytest).

    .venv/bin/python tests/benchmarks/bench_expand.py

Expands ``{a,b}`` repeated g times (2**g specs) for growing g and prints the seconds per spec;
the baseline is the smallest size, measured in the same run: linear work keeps the ratio near 1
(the former recursive expansion with list de-duplication grew about 2x per doubling: 0.19 s for
1,024 specs, 13.5 s for 8,192). Then counts 30 groups (2**30 specs) from the parse tree, which
is refused at once. Wall-clock timings are noisy on a shared machine; the ratios are the numbers
to compare.
"""

from __future__ import annotations

import time

from causalfolio.errors import ConfigError
from causalfolio.spec import count_spec, expand_spec


def main() -> None:
    base = None
    for g in (10, 12, 14, 16):
        spec = "".join(["{a,b}"] * g)
        t0 = time.perf_counter()
        out = expand_spec(spec, max_combinations=2 ** g)
        per = (time.perf_counter() - t0) / len(out)
        base = base or per
        print(f"{len(out):>7,} specs: {per * 1e6:7.2f} us per spec, ratio to 1,024 specs "
              f"{per / base:5.2f}")
    thirty = "|".join(["{a,b}"] * 30)
    t0 = time.perf_counter()
    try:
        expand_spec(thirty)
    except ConfigError as exc:
        print(f"30 groups ({count_spec(thirty):,} specs) refused in "
              f"{(time.perf_counter() - t0) * 1e3:.2f} ms: {exc}")


if __name__ == "__main__":
    main()
