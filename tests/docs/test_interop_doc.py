"""docs/interop.md: its code blocks run, in order, and print exactly the outputs shown."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

pytest.importorskip("skfolio", reason="docs/interop.md needs skfolio (pip install '.[skfolio]')")
pytest.importorskip("arch", reason="docs/interop.md needs arch (pip install '.[data]')")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

DOC = Path(__file__).resolve().parents[2] / "docs" / "interop.md"
BLOCK = re.compile(r"```python\n(.*?)```\n\nOutput:\n\n```text\n(.*?)```", re.S)


def test_interop_doc_blocks_print_their_outputs():
    text = DOC.read_text()
    blocks = BLOCK.findall(text)
    assert len(blocks) == text.count("```python") == 8
    namespace: dict = {"__name__": "interop_doc"}
    for k, (code, shown) in enumerate(blocks, 1):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"docs/interop.md block {k}", "exec"), namespace)  # noqa: S102
        assert out.getvalue().rstrip("\n") == shown.rstrip("\n"), f"block {k}"


def test_index_links_the_interop_page():
    index = (DOC.parent / "index.md").read_text()
    assert "(interop.md)" in index
