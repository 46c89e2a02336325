"""What every command shares: the ``--db`` option, settings, opening the store, one-line failures."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # settings, the store and sqlalchemy are imported when a command uses them: `--help` is quick
    from sqlalchemy import Engine

    from paperfeed.config import Settings
    from paperfeed.ingest.run import IngestReport

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
    from paperfeed.secret_key import SecretKeyError, ensure_secret_key
    from paperfeed.settings_errors import SettingsError, load_settings

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
    from paperfeed.store.db import StoreError, open_store

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


def _json_hint(kept: int, total: int) -> str:
    return "use --json for all" if kept >= total else f"--json lists the first {kept} of them"


def print_notes(notes: list[dict[str, str]], total: int | None = None) -> str:
    """Print an ingest's notes (``note ID: code_url dropped: ...``, the first 50) on stderr; returns the
    summary's suffix (``, 2 unsafe links dropped``, or nothing). ``total``: how many there were, when the
    report kept only the first ones (``IngestReport.notes_count``)."""
    total = len(notes) if total is None else total
    for n in notes[:50]:
        console.print(f"[yellow]note[/yellow] {escape(n['id'])}: {escape(n['note'])}", highlight=False, soft_wrap=True)
    if total > 50:
        console.print(f"... and {total - 50} more notes ({_json_hint(len(notes), total)})")
    return f", {total} unsafe links dropped" if total else ""


def print_rejections(report: IngestReport) -> None:
    """Print an ingest's rejections (``rejected FILE:LINE: reason``, the first 50) and how many more."""
    for r in report.rejected[:50]:
        console.print(
            f"[yellow]rejected[/yellow] {escape(r.location)}: {escape(r.reason)}", highlight=False, soft_wrap=True
        )
    more = report.rejected_count - min(len(report.rejected), 50)
    if more > 0:
        hint = _json_hint(len(report.rejected), report.rejected_count)
        console.print(f"... and {more} more rejected records ({hint})")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
