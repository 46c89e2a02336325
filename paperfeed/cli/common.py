"""What every command shares: the ``--db`` option, settings, opening the store, one-line failures."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.secret_key import SecretKeyError, ensure_secret_key
from paperfeed.settings_errors import SettingsError, load_settings
from paperfeed.store.db import StoreError, open_store

console = Console(stderr=True)
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database: a SQLite file path or a postgresql:// URL "
        "(default: PAPERFEED_DATABASE_URL, else a file in the user data dir).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

_global_db: dict[str, str | None] = {"db": None}


def set_global_db(db: str | None) -> None:
    _global_db["db"] = db


def get_settings(db: str | None = None) -> Settings:
    """Settings from the environment, with ``--db`` (command or global) taking precedence."""
    try:
        settings = load_settings()
    except SettingsError as exc:  # one line per broken rule: PAPERFEED_X: rule
        for line in exc.lines[:-1]:
            console.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
        fail(exc.lines[-1])
    chosen = db or _global_db["db"]
    if chosen:
        settings = settings.model_copy(update={"database_url": chosen})
    try:
        return ensure_secret_key(settings)
    except SecretKeyError as exc:
        fail(str(exc))


def get_engine(settings: Settings, *, seed: bool = False) -> Engine:
    """The migrated store. With ``seed`` (read commands: search, serve), an empty store is first filled
    with the demo corpus when settings allow; write commands never seed, so ingest reports are exact."""
    try:
        engine = open_store(settings)
    except StoreError as exc:
        fail(str(exc))
    if seed and settings.seed_demo:
        from paperfeed.ingest.demo import seed_demo_if_empty

        seed_demo_if_empty(engine=engine)
    return engine


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on one line of stderr and exit non-zero."""
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_notes(notes: list[dict[str, str]]) -> str:
    """Print an ingest's notes (``note ID: code_url dropped: ...``, the first 50) on stderr; returns the
    summary's suffix (``, 2 unsafe links dropped``, or nothing)."""
    for n in notes[:50]:
        console.print(f"[yellow]note[/yellow] {escape(n['id'])}: {escape(n['note'])}", highlight=False, soft_wrap=True)
    if len(notes) > 50:
        console.print(f"... and {len(notes) - 50} more notes (use --json for all)")
    return f", {len(notes)} unsafe links dropped" if notes else ""


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
