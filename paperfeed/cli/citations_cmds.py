"""``paperfeed citations``: fetch citation counts and links from OpenAlex (see paperfeed.ingest.citations)."""

from __future__ import annotations

from typing import Annotated

import typer

from paperfeed.cli import app
from paperfeed.cli.common import DbOption, JsonOption, console, fail, get_engine, get_settings, print_json
from paperfeed.ingest.citations import PaperOutcome, fetch_citations, openalex_client

_COLOURS = {"resolved": "green", "not_found": "yellow", "failed": "red"}


def _line(result: PaperOutcome) -> None:
    colour = _COLOURS[result.outcome]
    what = f" {result.openalex_id}, cited by {result.cited_by_count}" if result.outcome == "resolved" else ""
    console.print(f"[{colour}]{result.outcome.replace('_', ' ')}[/{colour}] {result.id}{what}", highlight=False)


def _say_wait(reason: str, seconds: float) -> None:
    console.print(f"[yellow]OpenAlex:[/yellow] {reason}; retrying in {seconds:.1f} s", highlight=False)


@app.command("citations")
def citations_cmd(
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            help="Look up at most N papers (unfinished, then never fetched, then the oldest).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch citation counts, venues, references and citing works of every paper with an arXiv id from
    OpenAlex (PAPERFEED_OPENALEX_URL; CC0 data). Reruns refresh counts; a stopped run goes on next time."""
    settings = get_settings(db)
    engine = get_engine(settings)
    with openalex_client(settings, on_wait=_say_wait) as client:
        try:
            report = fetch_citations(
                engine=engine, settings=settings, limit=limit, client=client, on_paper=None if as_json else _line
            )
        except KeyboardInterrupt:
            fail("interrupted: what was fetched so far is kept; run the same command again to go on", 130)
    counts = report.as_dict()
    if as_json:
        print_json(counts)
    elif report.papers:
        summary = ", ".join(f"{k.replace('_', ' ')} {counts[k]}" for k in ("resolved", "not_found", "failed"))
        typer.echo(f"{summary}; {report.edges} citation edges stored ({report.requests} OpenAlex requests)")
    elif not report.error:
        typer.echo("no paper with an arXiv id to look up")
    if report.error:
        fail(f"{report.error}; what was fetched before it stopped is kept, run again to go on")
