"""Every built-in component is documented: a heading ``### `name` `` in docs/components/*.md and
a parameter-table row for each of its parameters; the user guides exist, link each other, and
their relative links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from causalfolio.registry import get_registry
from causalfolio.stages import STAGES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GUIDES = ("index.md", "concepts.md", "spec-strings.md", "cli.md", "python-api.md",
          "writing-plugins.md", "run-folder.md", "data.md", "examples.md", "reports.md",
          "evidence.md", "claims.md")


def _builtin():
    reg = get_registry()
    return [(stage, e.name, e.cls) for stage in STAGES for e in reg.entries(stage)
            if e.provider.startswith("causalfolio.plugins.")]


def _sections() -> dict[str, tuple[str, str]]:
    """Component name -> (its section text up to the next heading of level <= 3, its file's
    text)."""
    out: dict[str, tuple[str, str]] = {}
    for f in sorted((DOCS / "components").glob("*.md")):
        text = f.read_text()
        for m in re.finditer(r"^### `([a-z0-9_]+)`[ \t]*$", text, re.M):
            nxt = re.search(r"^#{1,3} ", text[m.end():], re.M)
            out[m.group(1)] = (text[m.end(): m.end() + nxt.start() if nxt else len(text)], text)
    return out


def _has_row(text: str, param: str) -> bool:
    return re.search(rf"^\|\s*`?{re.escape(param)}`?\s*\|", text, re.M) is not None


COMPONENTS = _builtin()


def test_there_are_builtin_components():
    stages = {s for s, _, _ in COMPONENTS}
    assert stages == set(STAGES), f"no built-in component found for {set(STAGES) - stages}"


@pytest.mark.parametrize(("stage", "name", "cls"), COMPONENTS,
                         ids=[f"{s}:{n}" for s, n, _ in COMPONENTS])
def test_component_has_a_section_with_its_parameters(stage, name, cls):
    sections = _sections()
    assert name in sections, (f"{stage} component {name!r} has no heading '### `{name}`' in "
                              "docs/components/*.md")
    body, page = sections[name]
    # a parameter's row sits in the component's section, or, for parameters shared through a
    # base class (e.g. the sensitivity extractors' aggregate/sample/metric), in a table of the
    # same page
    missing = [p.name for p in cls.parameters()
               if not _has_row(body, p.name) and not _has_row(page, p.name)]
    assert not missing, (f"the section of {name!r} has no parameter-table row for {missing} "
                         "(a row '| name | type | default | meaning |')")


@pytest.mark.parametrize("guide", GUIDES)
def test_guides_exist_and_their_links_resolve(guide):
    path = DOCS / guide
    assert path.is_file(), f"docs/{guide} is missing"
    text = path.read_text()
    assert text.startswith("# "), f"docs/{guide} must start with a title"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        assert (path.parent / target).exists(), f"docs/{guide} links to missing {target}"


def test_index_links_every_guide():
    text = (DOCS / "index.md").read_text()
    for guide in GUIDES[1:]:
        assert f"({guide})" in text, f"docs/index.md does not link {guide}"
