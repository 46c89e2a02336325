"""``paperfeed db copy SRC DST``: move a whole instance between SQLite and PostgreSQL, verified."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from paperfeed.cli.common import JsonOption, console, fail, get_settings, print_json
from paperfeed.cli.store_cmds import db_app
from paperfeed.store.db import StoreError, open_store
from paperfeed.store.transfer import BATCH, CopyError, copy_database


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
