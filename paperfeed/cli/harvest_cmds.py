"""Network ingestion commands: ``harvest arxiv`` (OAI-PMH), ``fetch-arxiv`` (API), ``enrich`` (give papers
without an arXiv id their arXiv record, see paperfeed.ingest.enrich) and ``citations`` (citation counts and
links from OpenAlex, see paperfeed.ingest.citations).

The commands that call arXiv share one client (:func:`arxiv_client`): paced and retried requests whose
waits are reported on stderr, and Ctrl-C answered with what was kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
from paperfeed.config import Settings
from paperfeed.ingest.citations import PaperOutcome, fetch_citations, openalex_client
from paperfeed.ingest.enrich import EnrichResult, enrich_pending
from paperfeed.ingest.harvest import (
    METADATA_PREFIXES,
    HarvestError,
    PageProgress,
    check_date,
    fetch_arxiv,
    harvest_oai,
    last_harvest,
)
from paperfeed.ingest.http import PoliteClient
from paperfeed.ingest.run import IngestReport


def _say_arxiv_wait(reason: str, seconds: float) -> None:
    console.print(f"[yellow]arXiv:[/yellow] {reason}; retrying in {seconds:.1f} s", highlight=False)


@contextmanager
def arxiv_client(settings: Settings, *, interrupted: str) -> Iterator[PoliteClient]:
    """A paced arXiv client for the block; Ctrl-C in it exits 130 with ``interrupted`` (what is kept, what
    to run to go on)."""
    with PoliteClient.from_settings(settings, on_wait=_say_arxiv_wait) as client:
        try:
            yield client
        except KeyboardInterrupt:
            fail(interrupted, 130)


harvest_app = typer.Typer(help="Harvest papers from remote archives.", no_args_is_help=True)
app.add_typer(harvest_app, name="harvest")


def _progress() -> Progress:
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def _summary(report: IngestReport, extra: str = "") -> None:
    """Human summary on stdout; a run that changed nothing says so (and still exits 0)."""
    print_rejections(report)
    counts = (
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {report.rejected_count}"
    ) + print_notes(report.notes, report.notes_count)
    if report.deleted:
        counts += f", deleted upstream {report.deleted} ({report.withdrawn} stored papers marked withdrawn)"
    if report.added == 0 and report.updated == 0:
        typer.echo(f"nothing new ({counts}{extra})")
    else:
        typer.echo(counts + extra)


def _stopped(exc: HarvestError, as_json: bool, resume_hint: str) -> NoReturn:
    """Report what was stored before a failure, then exit non-zero with a one-line reason."""
    if as_json and exc.report is not None:
        print_json({**exc.report.as_dict(), "error": str(exc)})
    kept = ""
    report = exc.report
    if report is not None and (report.added or report.updated or report.unchanged or report.deleted):
        kept = f"; {report.added} added, {report.updated} updated before it stopped{resume_hint}"
    fail(f"{exc}{kept}")


@harvest_app.command("arxiv")
def harvest_arxiv(
    set_spec: Annotated[str, typer.Option("--set", help="OAI-PMH set: cs, math, physics, physics:hep-th, ...")],
    from_date: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First datestamp to harvest, YYYY-MM-DD (default: the end of the last finished harvest of this set).",
            show_default=False,
        ),
    ] = None,
    until_date: Annotated[
        str | None,
        typer.Option("--until", help="Last datestamp to harvest, YYYY-MM-DD (default: up to now).", show_default=False),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="OAI metadata format: arXiv or arXivRaw (arXivRaw carries every version's date)."
        ),
    ] = "arXiv",
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore a saved position and start the window from its first page.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Harvest arXiv metadata over OAI-PMH (paced, retried, resumable after an interruption)."""
    if fmt not in METADATA_PREFIXES:
        fail(f"--format {fmt!r} is not supported (choose {' or '.join(METADATA_PREFIXES)})")
    settings = get_settings(db)
    engine = get_engine(settings)
    if from_date is None:
        last = last_harvest(engine=engine, set_spec=set_spec, metadata_prefix=fmt)
        if last is None:
            fail(f"give --from YYYY-MM-DD: no finished harvest of set {set_spec!r} to continue from")
        from_date = last.get("until") or str(last.get("finished_at", ""))[:10]
    try:
        check_date(from_date, "--from")
    except HarvestError as exc:
        fail(str(exc))
    interrupted = "interrupted: pages stored so far are kept; run the same command again to resume"
    with _progress() as bar, arxiv_client(settings, interrupted=interrupted) as client:
        task = bar.add_task(f"harvest {set_spec}", total=None)

        def on_page(p: PageProgress) -> None:
            bar.update(task, completed=p.records, total=p.total, description=f"harvest {set_spec} page {p.page}")

        try:
            report = harvest_oai(
                engine=engine,
                settings=settings,
                set_spec=set_spec,
                from_date=from_date,
                until_date=until_date,
                metadata_prefix=fmt,
                client=client,
                restart=restart,
                on_page=on_page,
            )
        except HarvestError as exc:
            _stopped(exc, as_json, "; run the same command again to resume")
    if as_json:
        print_json(report.as_dict())
        return
    resumed = ", resumed from the saved position" if report.resumed else ""
    _summary(report, f"; {report.pages} pages, {report.records} records{resumed}")


@app.command("fetch-arxiv")
def fetch_arxiv_cmd(
    ids: Annotated[
        list[str],
        typer.Argument(
            metavar="ID...",
            help="arXiv ids (2401.01234, 2401.01234v2, hep-th/9901001, or abs/pdf URLs).",
            show_default=False,
        ),
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch papers by arXiv id from the arXiv API (100 ids per call, paced and retried)."""
    settings = get_settings(db)
    engine = get_engine(settings)
    interrupted = "interrupted: batches stored so far are kept; run the same command again to finish"
    with _progress() as bar, arxiv_client(settings, interrupted=interrupted) as client:
        task = bar.add_task("fetch-arxiv", total=len(ids))
        try:
            report = fetch_arxiv(
                engine=engine, settings=settings, ids=ids, client=client, on_batch=lambda n: bar.advance(task, n)
            )
        except HarvestError as exc:
            _stopped(exc, as_json, "")
    if as_json:
        print_json(report.as_dict())
        return
    for missing in report.not_found:
        console.print(
            f"[yellow]not found[/yellow] {escape(missing)}: arXiv returned no such paper",
            highlight=False,
            soft_wrap=True,
        )
    _summary(report, f"; not found {len(report.not_found)}" if report.not_found else "")


_ENRICH_COLOURS = {"resolved": "green", "ambiguous": "yellow", "not_found": "yellow", "failed": "red"}


def _enrich_line(result: EnrichResult) -> None:
    what = f" -> {result.arxiv_id}" if result.outcome == "resolved" else f": {result.reason}" if result.reason else ""
    colour = _ENRICH_COLOURS[result.outcome]
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
            on_paper=None if as_json else _enrich_line,
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


_CITATION_COLOURS = {"resolved": "green", "not_found": "yellow", "failed": "red"}


def _citation_line(result: PaperOutcome) -> None:
    colour = _CITATION_COLOURS[result.outcome]
    what = f" {result.openalex_id}, cited by {result.cited_by_count}" if result.outcome == "resolved" else ""
    console.print(f"[{colour}]{result.outcome.replace('_', ' ')}[/{colour}] {result.id}{what}", highlight=False)


def _say_openalex_wait(reason: str, seconds: float) -> None:
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
    with openalex_client(settings, on_wait=_say_openalex_wait) as client:
        try:
            on_paper = None if as_json else _citation_line
            report = fetch_citations(engine=engine, settings=settings, limit=limit, client=client, on_paper=on_paper)
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
