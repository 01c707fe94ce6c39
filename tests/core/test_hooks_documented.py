"""Meta-tests: every hook is documented with its exact signature in docs/hooks.md and tested."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from causalfolio import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(n for n, f in vars(hookspecs).items()
               if inspect.isfunction(f) and n.startswith("register_"))


def test_every_hook_maps_to_a_stage_or_a_kind():
    assert sorted({**hookspecs.HOOK_STAGES, **hookspecs.HOOK_OTHER}) == HOOKS
    assert len(hookspecs.HOOK_STAGES) == 5
    assert not set(hookspecs.HOOK_STAGES) & set(hookspecs.HOOK_OTHER)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_signature(hook):
    doc = (ROOT / "docs" / "hooks.md").read_text()
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert re.search(rf"^## {hook}\({re.escape(params)}\)$", doc, re.M), (
        f"docs/hooks.md needs a heading '## {hook}({params})'")


def code_identifiers(source: str) -> set[str]:
    """Names used as code in a module: variables, attributes, keyword arguments, definitions.

    Comments, docstrings and other strings do not count, so a hook only mentioned in prose is
    not "tested".
    """
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            out.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
    return out


def test_code_identifiers_ignore_comments_and_strings():
    src = ('# register_x\n"register_y"\ndef t():\n    """register_z"""\n'
           '    p(register_w=1)\n')
    ids = code_identifiers(src)
    assert "register_w" in ids
    assert not {"register_x", "register_y", "register_z"} & ids


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_tests(hook):
    used: set[str] = set()
    for p in (ROOT / "tests").rglob("test_*.py"):
        if p.name != "test_hooks_documented.py":
            used |= code_identifiers(p.read_text())
    assert hook in used, f"no test uses the hook {hook} in code (comments and strings do not count)"
