"""The tutorials in docs/ and the README's quick start run as tests: every ```python block of a page runs
in order, in one namespace."""

import pathlib
import re

import pytest

BLOCK = re.compile(r"```python\n(.*?)```", re.S)
ROOT = pathlib.Path(__file__).parent.parent
DOCS = [
    p
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    if BLOCK.search(p.read_text())
]


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_doc_code_blocks_run(page):
    blocks = BLOCK.findall(page.read_text())
    namespace = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as e:  # name the page and block, then fail
            raise AssertionError(f"{page.name} code block {i} failed: {e!r}") from e


def test_docs_exist():
    names = {p.name for p in DOCS}
    assert {"README.md", "extending.md", "troubleshooting.md"} <= names
