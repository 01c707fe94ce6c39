"""Meta-tests: every hook is documented with its exact signature in docs/hooks.md and tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from causalfolio import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(n for n, f in vars(hookspecs).items()
               if inspect.isfunction(f) and n.startswith("register_"))


def test_every_hook_maps_to_a_stage():
    assert sorted(hookspecs.HOOK_STAGES) == HOOKS and len(HOOKS) == 5


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_signature(hook):
    doc = (ROOT / "docs" / "hooks.md").read_text()
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert re.search(rf"^## {hook}\({re.escape(params)}\)$", doc, re.M), (
        f"docs/hooks.md needs a heading '## {hook}({params})'")


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_tests(hook):
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py")
                      if p.name != "test_hooks_documented.py")
    assert re.search(rf"\b{hook}\b", tests), f"no test uses the hook {hook}"
