"""Network ingestion commands: ``harvest arxiv`` (OAI-PMH) and ``fetch-arxiv`` (API)."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperfeed.cli import app
from paperfeed.cli.arxiv_client import arxiv_client
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
from paperfeed.ingest.harvest import (
    METADATA_PREFIXES,
    HarvestError,
    PageProgress,
    check_date,
    fetch_arxiv,
    harvest_oai,
    last_harvest,
)
from paperfeed.ingest.run import IngestReport

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
