"""docs/architecture.md stays true: its module map lists every module of ``paperfeed/`` (and no module that is
gone), its "Layers" section names every import-linter contract of ``pyproject.toml`` and every package in the
``layers`` contract, and every ``paperfeed.…`` name it mentions (the search request traced hop by hop) exists."""

from __future__ import annotations

import importlib
import re
import tomllib
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


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def test_the_layers_section_names_every_contract_and_every_layer() -> None:
    layers = DOC.read_text(encoding="utf-8").split("## Layers")[1].split("\n## ")[0]
    contracts = _contracts()
    assert len(contracts) >= 3 and any(c["type"] == "layers" for c in contracts)
    for contract in contracts:
        assert f"| `{contract['id']}` | {contract['type']} |" in layers, f"contract {contract['id']} is not described"
    (declared,) = [c for c in contracts if c["type"] == "layers"]
    for layer in declared["layers"]:  # type: ignore[attr-defined]
        for name in re.split(r"[|:]", layer):
            module = name.strip()
            shown = f"{module}/" if (PACKAGE / module).is_dir() else module
            assert shown in layers, f"{shown} is in the layers contract but not in the Layers section"
