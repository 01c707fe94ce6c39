"""docs/components/mapping-hierarchical.md documents every component and parameter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from causalfolio.registry import get_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "components" / "mapping-hierarchical.md"
NAMES = ["hsp", "hrp", "herc", "schur", "equal", "inverse_vol"]


def _sections() -> dict[str, str]:
    text = DOC.read_text()
    parts = re.split(r"^### `(\w+)`\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_section_with_every_parameter(name):
    sections = _sections()
    assert name in sections, f"no '### `{name}`' heading in {DOC.name}"
    cls = get_registry().get("mapping", name)
    for p in cls.parameters():
        assert f"| `{p.name}` |" in sections[name], f"{name}: parameter {p.name} undocumented"
    assert "Example" in sections[name] or "example" in sections[name]
