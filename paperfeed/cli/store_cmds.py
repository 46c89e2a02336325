"""Store commands: ingest, export (every paper or one collection's, as Paperfeed JSONL or BibTeX), stats,
show, ``db upgrade`` and ``db copy SRC DST`` (move a whole instance between SQLite and PostgreSQL, verified).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from paperfeed.cite import bibtex_entries
from paperfeed.cli import app
from paperfeed.cli.common import (
    DbOption,
    JsonOption,
    console,
    fail,
    get_engine,
    get_settings,
    print_json,
    print_notes,
    print_rejections,
)
from paperfeed.ingest.formats import FORMATS
from paperfeed.ingest.paperfeed_jsonl import paper_to_json, write_jsonl
from paperfeed.ingest.run import IngestError, ingest_paths
from paperfeed.links import safe_url
from paperfeed.models import Paper
from paperfeed.store.db import StoreError, open_store, upgrade
from paperfeed.store.papers import get_paper, get_papers, iter_papers, paper_stats
from paperfeed.store.public_collections import find_by_name, items
from paperfeed.store.transfer import BATCH, CopyError, copy_database

EXPORT_FORMATS = ("jsonl", "bibtex")


def export_papers(*, conn: Connection, collection: str | None, username: str | None) -> Iterator[Paper] | str:
    """The papers to export (a lazy stream for the whole store), or why the collection cannot be used."""
    if collection is None:
        if username is not None:
            return "--user only goes with --collection"
        return (p for batch in iter_papers(conn=conn) for p in batch)
    found = find_by_name(conn=conn, name=collection, username=username)
    if not found:
        who = f" of member {username!r}" if username else ""
        return f"no collection named {collection!r}{who}"
    if len(found) > 1:
        owners = ", ".join(sorted(c.owner for c in found))
        return f"{len(found)} members have a collection named {collection!r} ({owners}): say whose with --user"
    ids = [i.paper_id for i in items(conn=conn, collection_id=found[0].id, limit=1_000_000)]
    return iter(get_papers(conn=conn, ids=ids).values())


def write_bibtex(papers: Iterable[Paper], out: IO[str]) -> int:
    """Write BibTeX entries (keys made unique, blank line between), streaming; returns how many."""
    n = 0
    for entry in bibtex_entries(papers):
        out.write(("\n" if n else "") + entry)
        n += 1
    return n


db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH...", show_default=False, help="Files to ingest (.gz and single-file .zip too)."),
    ],
    fmt: Annotated[
        str,
        typer.Option("--format", help=f"Input format of every file: auto (detect each file), {', '.join(FORMATS)}."),
    ] = "auto",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest papers from files (arXiv Atom/OAI-PMH/RSS, Kaggle snapshot, HF JSON or pages, BibTeX, JSONL)."""
    engine = get_engine(get_settings(db))
    total = sum(p.stat().st_size for p in paths if p.is_file())
    columns = [TextColumn("ingest"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("ingest", total=total or None)
        try:
            report = ingest_paths(engine=engine, paths=paths, fmt=fmt, on_bytes=lambda n: bar.advance(task, n))
        except IngestError as exc:
            fail(str(exc))
        except OSError as exc:  # unreadable file, disk full: one line, not a traceback
            fail(f"{exc.filename or 'ingest'}: {exc.strerror or exc}")
        except KeyboardInterrupt:
            fail("interrupted: batches stored so far are kept; run the same command again to finish", 130)
    if as_json:
        print_json(report.as_dict())
        return
    print_rejections(report)
    dropped = print_notes(report.notes, report.notes_count)
    deleted = (
        f", deleted upstream {report.deleted} ({report.withdrawn} stored papers marked withdrawn)"
        if report.deleted
        else ""
    )
    typer.echo(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {report.rejected_count}{dropped}{deleted}"
    )


@app.command()
def export(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default: stdout).")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl (Paperfeed JSONL, re-ingestible) or bibtex (BibTeX entries).")
    ] = "jsonl",
    collection: Annotated[
        str | None, typer.Option("--collection", help="Only the papers of this library collection (by name).")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="The member whose --collection it is (needed when names clash).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export papers (every paper, or one collection's) as Paperfeed JSONL or BibTeX."""
    if fmt not in EXPORT_FORMATS:
        fail(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}", 2)
    engine = get_engine(get_settings(db))
    with engine.connect() as conn:
        papers = export_papers(conn=conn, collection=collection, username=user)
        if isinstance(papers, str):
            fail(papers)
        write = write_jsonl if fmt == "jsonl" else write_bibtex
        if out is None:
            n = write(papers, sys.stdout)
        else:
            tmp = out.with_name(out.name + ".tmp")
            try:  # written beside the target, then renamed: a failed export never leaves half a file
                with tmp.open("w", encoding="utf-8") as f:
                    n = write(papers, f)
                tmp.replace(out)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                fail(f"{exc.filename or out}: {exc.strerror or exc}")
    console.print(f"exported {n} papers" + (f" from collection {collection!r}" if collection else ""), highlight=False)


@app.command()
def stats(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Papers in the store: total, by source, by month, and the state of the search index."""
    settings = get_settings(db)
    engine = get_engine(settings)
    with engine.connect() as conn:
        data = paper_stats(conn=conn)
    from paperfeed.search.status import index_status  # imported here: `paperfeed ingest` needs no search

    data["index"] = index_status(engine=engine, settings=settings)
    if as_json:
        print_json(data)
        return
    typer.echo(f"papers: {data['papers']}")
    for source, n in data["by_source"].items():
        typer.echo(f"  from {source}: {n}")
    typer.echo("by month of publication (papers without a date: the month this instance added them):")
    for month, n in list(data["by_month"].items())[-24:]:
        typer.echo(f"  {month}: {n}")
    if data.get("index"):
        typer.echo("index: " + ", ".join(f"{k}={v}" for k, v in data["index"].items()))


@app.command()
def show(
    paper_id: Annotated[str, typer.Argument(metavar="ID")], db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Show one paper by arXiv id (with or without version) or Paperfeed id."""
    engine = get_engine(get_settings(db))
    with engine.connect() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id)
    if paper is None:
        fail(f"no paper with id {paper_id!r}")
    if as_json:
        print_json(paper_to_json(paper))
        return
    typer.echo(paper.title)
    typer.echo(", ".join(paper.author_names))
    day = paper.published.date().isoformat() if paper.published else ""
    meta = [paper.id, paper.primary_category or "", day]
    typer.echo(" · ".join(m for m in meta if m))
    if paper.versions:
        typer.echo(
            "versions: "
            + ", ".join(f"v{v.version}" + (f" ({v.created.date()})" if v.created else "") for v in paper.versions)
        )
    typer.echo("")
    typer.echo(paper.abstract)
    for label, url in (
        ("abs", safe_url(paper.abs_url)),
        ("pdf", safe_url(paper.pdf_url)),
        ("doi", paper.doi),
        ("code", safe_url(paper.code_url)),
        ("project", safe_url(paper.project_url)),
    ):
        if url:
            typer.echo(f"{label}: {url}")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply pending schema migrations."""
    settings = get_settings(db)
    try:
        engine = open_store(settings, migrate=False)
        upgrade(engine)
    except (StoreError, Exception) as exc:  # noqa: BLE001
        fail(f"upgrade failed: {exc}")
    typer.echo("database is up to date")


__all__ = ["paper_to_json"]


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@db_app.command("copy")
def db_copy(
    src: Annotated[str, typer.Argument(metavar="SRC_URL", help="Source: SQLite file path or postgresql:// URL.")],
    dst: Annotated[str, typer.Argument(metavar="DST_URL", help="Destination (created and migrated if needed).")],
    force: Annotated[bool, typer.Option("--force", help="Replace the contents of a non-empty destination.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per read/write batch.")] = BATCH,
    as_json: JsonOption = False,
) -> None:
    """Copy every table from SRC_URL to DST_URL in one transaction, verified by counts and checksums.

    Stop the site and workers first (or make the source read-only): rows written during the copy are not
    carried over. Search indexes are not copied; run `paperfeed index --db DST_URL` afterwards.
    """
    src_url = get_settings(src).resolved_database_url
    dst_url = get_settings(dst).resolved_database_url
    if make_url(src_url) == make_url(dst_url):
        fail("SRC_URL and DST_URL are the same database")
    engines = []
    try:
        for db in (src, dst):
            try:
                engines.append(open_store(get_settings(db)))
            except StoreError as exc:
                fail(str(exc))
        say = (lambda m: None) if as_json else (lambda m: console.print(m, highlight=False))
        try:
            report = copy_database(src=engines[0], dst=engines[1], force=force, batch_size=batch_size, log=say)
        except CopyError as exc:
            fail(str(exc))
    finally:
        for engine in engines:
            engine.dispose()
    if as_json:
        print_json({"source": _safe(src_url), "destination": _safe(dst_url), **report.as_dict()})
        return
    for name in report.skipped:
        console.print(
            f"[yellow]not copied[/yellow] {name}: a table this version of Paperfeed does not know", highlight=False
        )
    typer.echo(
        f"copied {report.rows} rows in {len(report.tables)} tables from {_safe(src_url)} to "
        f"{_safe(dst_url)}; counts and checksums verified"
    )
