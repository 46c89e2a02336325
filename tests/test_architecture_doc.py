"""docs/architecture.md stays true: its module map lists every module of ``paperfeed/`` (and no module that is
gone), and every ``paperfeed.…`` name it mentions (the search request traced hop by hop) exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"
PACKAGE = REPO / "paperfeed"
MAP_ROW = re.compile(r"^\| `([\w/]+\.py)` \|", re.MULTILINE)
DOTTED = re.compile(r"`(paperfeed(?:\.\w+)+)(?:\(\))?`")


def _modules() -> set[str]:
    """Every module file of the package, relative to ``paperfeed/``: migrations and bare ``__init__.py`` aside."""
    out = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if "/migrations/" in f"/{rel}" or (path.name == "__init__.py" and rel != "cli/__init__.py"):
            continue
        out.add(rel)
    return out


def _resolve(dotted: str) -> object:
    """The object a dotted name means: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            found = getattr(found, attr)  # AttributeError: the doc names something that does not exist
        return found
    raise ModuleNotFoundError(dotted)


def test_the_module_map_lists_every_module_and_only_modules_that_exist() -> None:
    listed = MAP_ROW.findall(DOC.read_text(encoding="utf-8"))
    assert len(listed) == len(set(listed)), "a module is listed twice"
    modules = _modules()
    assert sorted(modules - set(listed)) == [], "modules missing from the map in docs/architecture.md"
    assert sorted(set(listed) - modules - {"cli/__init__.py"}) == [], "the map lists modules that are gone"


def _named() -> list[str]:
    return sorted(set(DOTTED.findall(DOC.read_text(encoding="utf-8"))))


def test_the_search_trace_names_real_functions() -> None:
    trace = DOC.read_text(encoding="utf-8").split("### A search request, hop by hop")[1].split("\n## ")[0]
    assert len(DOTTED.findall(trace)) >= 20  # the trace is written with full names, so this test can check it


@pytest.mark.parametrize("dotted", _named())
def test_every_name_in_the_doc_exists(dotted: str) -> None:
    assert _resolve(dotted) is not None
