"""This machine's resources, to refuse work that cannot fit before it starts (light imports)."""

from __future__ import annotations

import os


def memory_limit() -> int:
    """This machine's physical memory in bytes (16 GiB when the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def gib(n: float) -> str:
    """A byte count in GiB for messages (``3.2 GiB``)."""
    return f"{n / 2**30:,.1f} GiB"
