"""The docs cover what users can touch: every setting and every CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paperfeed.cli.reference import command_paths
from paperfeed.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert f"PAPERFEED_{field.upper()}" in text


def test_every_cli_command_is_in_the_generated_reference() -> None:
    text = (DOCS / "cli-reference.md").read_text(encoding="utf-8")
    for path in command_paths():
        title = " ".join(["paperfeed", *path])
        assert f"## `{title}`" in text, f"{title} missing: run python -m paperfeed.cli.reference"


def test_readme_gives_the_two_commands_ci_uses() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    ci = (DOCS.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "make test" in ci


def test_every_document_the_readme_links_to_exists() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\((docs/[^)]+\.md)\)", readme)
    assert len(linked) >= 10
    assert [p for p in linked if not (DOCS.parent / p).is_file()] == []


def test_the_readme_shows_two_screenshots_of_the_demo_that_exist_and_are_small() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    shots = re.findall(r"!\[[^\]]+\]\((docs/screenshots/[\w-]+\.png)\)", readme)
    assert len(shots) == 2  # `make screenshots` (scripts/screenshots.py) makes them
    for shot in shots:
        data = (DOCS.parent / shot).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) < 300_000, shot
