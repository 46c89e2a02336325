"""Generate ``docs/cli-reference.md`` from the commands' own ``--help`` (``python -m paperfeed.cli.reference``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import typer
from typer.testing import CliRunner

from paperfeed.cli import app


def command_paths() -> Iterator[list[str]]:
    """Every command and sub-command path, depth first: [], ['ingest'], ['db'], ['db', 'upgrade'], ..."""
    root: Any = typer.main.get_command(app)

    def walk(cmd: click.Command, path: list[str]) -> Iterator[list[str]]:
        yield path
        # typer >= 0.26 builds its groups on its own copy of click: look for sub-commands, not a class
        children = getattr(cmd, "commands", None)
        if isinstance(children, dict):
            for name in sorted(children):
                yield from walk(children[name], [*path, name])

    yield from walk(root, [])


def render() -> str:
    runner = CliRunner()
    env = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    parts = [
        "# CLI reference",
        "",
        "Generated from `--help` by `python -m paperfeed.cli.reference`; do not edit by hand.",
        "",
    ]
    for path in command_paths():
        title = " ".join(["paperfeed", *path])
        result = runner.invoke(app, [*path, "--help"], env=env, prog_name="paperfeed")
        parts += [f"## `{title}`", "", "```text", result.output.rstrip(), "```", ""]
    return "\n".join(parts)


def main() -> None:
    os.environ.setdefault("COLUMNS", "100")
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/cli-reference.md")
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
