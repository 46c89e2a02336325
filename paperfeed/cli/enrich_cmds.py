"""``paperfeed enrich``: give papers without an arXiv id their arXiv record (see paperfeed.ingest.enrich)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from paperfeed.cli import app
from paperfeed.cli.arxiv_client import arxiv_client
from paperfeed.cli.common import DbOption, JsonOption, console, fail, get_engine, get_settings, print_json
from paperfeed.ingest.enrich import EnrichResult, enrich_pending

_COLOURS = {"resolved": "green", "ambiguous": "yellow", "not_found": "yellow", "failed": "red"}


def _line(result: EnrichResult) -> None:
    what = f" -> {result.arxiv_id}" if result.outcome == "resolved" else f": {result.reason}" if result.reason else ""
    colour = _COLOURS[result.outcome]
    console.print(
        f"[{colour}]{result.outcome.replace('_', ' ')}[/{colour}] {result.id} {escape(result.title[:80] + what)}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("enrich")
def enrich_cmd(
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Look up at most N papers (newest first).", show_default=False)
    ] = None,
    retry: Annotated[
        bool, typer.Option("--retry", help="Also look up papers an earlier run did not find or found ambiguous.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find papers without an arXiv id (HF pages, BibTeX, submissions) on arXiv by exact title, and fill in
    their arXiv id, authors, dates, categories and links. Papers tried before are skipped unless --retry."""
    settings = get_settings(db)
    engine = get_engine(settings, seed=True)
    interrupted = "interrupted: papers resolved so far are kept; run the same command again to finish"
    with arxiv_client(settings, interrupted=interrupted) as client:
        report = enrich_pending(
            engine=engine,
            settings=settings,
            limit=limit,
            retry=retry,
            client=client,
            on_paper=None if as_json else _line,
        )
    if as_json:
        print_json(report.as_dict())
    else:
        counts = report.as_dict()
        summary = ", ".join(
            f"{k.replace('_', ' ')} {counts[k]}" for k in ("resolved", "ambiguous", "not_found", "failed")
        )
        typer.echo(
            summary if report.results else "nothing to enrich: every paper has an arXiv id or was tried (--retry)"
        )
    if report.error:
        fail(f"{report.error}; papers resolved before it stopped are kept, run again to go on")
