"""Search commands: ``paperfeed index``, ``search``, ``similar`` and ``eval``, thin wrappers over the
searcher (:func:`paperfeed.search.factory.make_searcher`) and :mod:`paperfeed.evaluation.retrieval`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy import Engine

from paperfeed.cli import app
from paperfeed.cli.common import DbOption, JsonOption, console, fail, get_engine, get_settings, print_json
from paperfeed.cli.progress import progress_reporter
from paperfeed.config import Settings
from paperfeed.links import safe_url
from paperfeed.models import SearchHit
from paperfeed.rank.related import papers_like_text, similar_papers
from paperfeed.search import spelling
from paperfeed.search.dense import DenseIndexError
from paperfeed.search.embed import EMBEDDER_NAMES, EmbedderError, get_embedder
from paperfeed.search.factory import make_searcher
from paperfeed.search.hybrid import MODES
from paperfeed.search.lexical import LexicalIndexError
from paperfeed.search.minilm import DEVICES
from paperfeed.search.query import SORTS, QueryError
from paperfeed.search.reader import GenerationSearcher
from paperfeed.search.vectors import VectorStoreError

# Model loading must not print load reports and progress bars of its own into the command's output.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# A query-time refresh embeds at most this many pending papers; beyond, `paperfeed index` is the place.
CLI_EMBED_LIMIT = 5_000

ModelOption = Annotated[
    str | None, typer.Option("--model", help="Embedding model: minilm, static or none (default: PAPERFEED_EMBEDDER).")
]


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        fail(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _searcher(engine: Engine, settings: Settings, model: str | None, *, explicit: bool) -> GenerationSearcher:
    """A Searcher for ``model``; an explicitly asked model that cannot load is an error, not a fallback."""
    name = model or settings.embedder
    _choice("--model", name, (*EMBEDDER_NAMES, "none"))
    embedder = None
    if name != "none" and explicit:
        try:
            embedder = get_embedder(name, settings)  # distils the static model on first use
        except EmbedderError as exc:
            fail(str(exc))
    try:
        return make_searcher(engine=engine, settings=settings, model=name, embedder=embedder)
    except (LexicalIndexError, OSError, ValueError) as exc:
        fail(f"cannot open the search index in {settings.index_dir}: {exc}")


CheckOption = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Only check the index files against their checksums and report; exit 1 when any is damaged.",
    ),
]


DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="Where MiniLM embeds: auto, cpu or cuda (default: PAPERFEED_EMBED_DEVICE, auto).",
    ),
]


def _check(settings: Settings, engine: Engine, as_json: bool) -> None:
    """``paperfeed index --check``: every index folder verified (every file's checksum), then the figures."""
    from paperfeed.search.status import check_folders, index_status

    folders = check_folders(settings, full=True)
    damaged = [f for f in folders if f["status"] == "damaged"]
    report = {**index_status(settings, engine), "folders": folders}
    if damaged:
        report["state"] = "damaged"
    if as_json:
        print_json(report)
    else:
        for f in folders:
            typer.echo(f"{f['status']:<10} {f['path']}" + (f": {f['problem']}" if f["problem"] else ""))
        typer.echo(
            f"state: {report['state']}; {report['lexical_docs']} of {report['papers']} papers in the keyword index, "
            f"{report['vectors']} with vectors ({report['model']})"
        )
    if damaged:
        console.print(
            "[red]error:[/red] damaged index files; `paperfeed index` (or a running server) rebuilds them",
            highlight=False,
        )
        raise typer.Exit(1)


@app.command()
def index(
    model: ModelOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    check: CheckOption = False,
    device: DeviceOption = None,
) -> None:
    """Build or refresh the search indexes (BM25 and embeddings) for papers added or changed since the
    last run, newest papers first, with progress (rate and time left) on stderr. Resumable: an interrupted or
    killed run continues where it stopped. Damaged index files are rebuilt."""
    settings = get_settings(db)
    if device is not None:
        settings = settings.model_copy(update={"embed_device": _choice("--device", device, DEVICES)})
    engine = get_engine(settings, seed=not check)  # --check only reads
    if check:
        _check(settings, engine, as_json)
        return
    searcher = _searcher(engine, settings, model, explicit=model is not None or device is not None)
    try:
        with progress_reporter(console) as progress:
            report = searcher.refresh(progress=progress)
    except (LexicalIndexError, EmbedderError, DenseIndexError, VectorStoreError, OSError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted: the work committed so far is kept; run `paperfeed index` again to finish", 130)
    if report.get("warning"):
        console.print(f"[yellow]warning:[/yellow] {escape(report['warning'])}", highlight=False)
    path = _embedding_line(settings, report)
    if as_json:
        print_json(report)
        return
    if path:
        console.print(path, highlight=False)
    typer.echo(
        f"indexed {report['indexed']} papers, removed {report['deleted']}, "
        f"embedded {report['embedded']} ({report['model']}); {report['lexical_docs']} searchable, "
        f"{report['vectors']} with vectors, keyphrases for {report.get('keywords', 0)}, in {report['seconds']:.1f}s"
    )


def _embedding_line(settings: Settings, report: dict[str, Any]) -> str | None:
    """Which MiniLM path embedded, at what measured rate (``report["embedding"]`` too), on stderr."""
    if report.get("model") != "minilm":
        return None
    from paperfeed.search.calibration import embedding_path

    path = embedding_path(settings)
    report["embedding"] = path
    if path is None:
        return None
    return (
        f"embedding path: {path['path']} (batch {path['batch']}), measured {path['papers_per_s']} papers/s "
        f"and {path['query_ms']} ms a query on {path['cpu']} ({', '.join(path['cpu_flags'] or []) or 'no AVX'})"
    )


def _ready_searcher(settings: Settings, db: str | None) -> tuple[Engine, GenerationSearcher]:
    """A Searcher over a refreshed index; large embedding backlogs are left to `paperfeed index`."""
    from paperfeed.search.status import index_status

    engine = get_engine(settings, seed=True)
    searcher = _searcher(engine, settings, None, explicit=False)
    try:
        pending = index_status(settings, engine)["pending"]
        if searcher.model is None or pending <= CLI_EMBED_LIMIT:
            with progress_reporter(console, lines=False) as progress:
                searcher.catch_up(progress, blocking=False)  # a running writer publishes by itself
        else:
            searcher.catch_up(dense=False, blocking=False)
            console.print(
                f"[yellow]note:[/yellow] {pending} papers are not embedded yet; semantic results "
                "skip them until `paperfeed index` has run",
                highlight=False,
            )
    except (LexicalIndexError, DenseIndexError, VectorStoreError, EmbedderError, OSError) as exc:
        console.print(f"[yellow]warning:[/yellow] {escape(str(exc))}; searching the index as it is", highlight=False)
    return engine, searcher


def hit_json(hit: SearchHit, settings: Settings) -> dict[str, Any]:
    """One result as JSON: ``id``, ``title``, ``score``, ``reason`` first, then the details."""
    p = hit.paper
    return {
        "id": p.id,
        "title": p.title,
        "score": hit.score,
        "reason": hit.reason,
        "authors": p.author_names,
        "published": p.published.date().isoformat() if p.published else None,
        "categories": p.categories,
        "snippet": hit.snippet.text,  # plain text: the CLI is not HTML
        "url": safe_url(p.abs_url) or f"{settings.base_url.rstrip('/')}/papers/{p.id}",
    }


def _print_hits(hits: list[SearchHit], start: int = 1) -> None:
    for n, h in enumerate(hits, start):
        p = h.paper
        when = p.published.date().isoformat() if p.published else "undated"
        authors = ", ".join(p.author_names[:4]) + (" et al." if len(p.author_names) > 4 else "")
        typer.echo(f"{n:>3}. {p.title}")
        typer.echo(f"     {p.id} | {when} | {authors or 'unknown authors'} | {h.reason} {h.score:.4g}")
        if h.snippet:
            typer.echo(f"     {h.snippet.text}")


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Query: words, "phrases", -excluded, author:, cat:, year:, from:/to:, sort: (see docs/search.md).',
            show_default=False,
        ),
    ],
    mode: Annotated[str, typer.Option("--mode", help="bm25, dense or hybrid.")] = "hybrid",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Results to show.")] = 10,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Results to skip (pagination).")] = 0,
    sort: Annotated[str, typer.Option("--sort", help="relevance, date, trending or citations.")] = "relevance",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search papers; with --json, a JSON array of results, best first."""
    _choice("--mode", mode, MODES)
    _choice("--sort", sort, SORTS)
    settings = get_settings(db)
    engine, searcher = _ready_searcher(settings, db)
    spelling.wait_for_vocabulary(None)  # a one-shot command waits for the spelling vocabulary, however long
    try:
        results = searcher.search(query, limit=limit, offset=offset, mode=mode, sort=sort, spell=True)
    except (QueryError, ValueError) as exc:
        fail(str(exc))
    if results.error:
        fail(results.error)
    if results.suggestion:  # on stderr: stdout (--json) stays the results only
        shown_for = f"; showing results for it (few or no papers contain the words of {query!r})"
        console.print(
            f"did you mean: {escape(results.suggestion)}{escape(shown_for) if results.corrected else ''}",
            highlight=False,
            soft_wrap=True,
        )
    if results.warning:  # never silently degraded: vectors being built, no model, damaged index files
        console.print(f"[yellow]warning:[/yellow] {escape(results.warning)}", highlight=False, soft_wrap=True)
    if results.hint:  # nothing found in this mode: what another mode finds
        console.print(f"note: {escape(results.hint)}", highlight=False, soft_wrap=True)
    if as_json:
        print_json([hit_json(h, settings) for h in results.hits])
        return
    if not results.hits:
        typer.echo("no papers match")
        return
    _print_hits(results.hits, offset + 1)
    shown = offset + len(results.hits)
    typer.echo(
        f"{offset + 1}-{shown} of {results.total}" + (f" (next: --offset {shown})" if shown < results.total else "")
    )


def _text_of(source: str) -> str:
    """The text of ``--text FILE`` (``-``: standard input): plain UTF-8 text, or a PDF's text."""
    from paperfeed.pdf_text import MAX_PDF_BYTES, PdfTextError, is_pdf, pdf_text

    try:
        data = sys.stdin.buffer.read(MAX_PDF_BYTES + 1) if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}")
    where = "standard input" if source == "-" else source
    if is_pdf(data):
        try:
            return pdf_text(data)
        except PdfTextError as exc:
            fail(f"{where}: {exc}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{where}: not UTF-8 text or a PDF (byte {exc.start} cannot be read as UTF-8)")


@app.command()
def similar(
    paper_id: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help="Paper id (arXiv id, pf- id or an old id).", show_default=False),
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(
            "--text",
            metavar="FILE",
            help="Instead of a paper: papers like this text (a UTF-8 file or a PDF; - reads standard input).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="Papers to show.")] = 10,
    sort: Annotated[str, typer.Option("--sort", help="relevance, date or upvotes (reorders the same papers).")] = (
        "relevance"
    ),
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Papers most similar to one paper (itself and duplicates left out), or with --text to a text, best first."""
    from paperfeed.rank.related import SIMILAR_SORTS

    _choice("--sort", sort, SIMILAR_SORTS)
    if (paper_id is None) == (text is None):
        fail("give a paper ID or --text FILE (one of them)")
    source = _text_of(text) if text is not None else ""
    settings = get_settings(db)
    engine, searcher = _ready_searcher(settings, db)
    if text is not None:
        try:
            found = papers_like_text(engine=engine, searcher=searcher, text=source, limit=limit, sort=sort)
        except ValueError as exc:
            fail(f"--text {text}: {exc}")
    else:
        try:
            found = similar_papers(engine=engine, searcher=searcher, paper_id=str(paper_id), limit=limit, sort=sort)
        except KeyError:
            fail(f"there is no paper {str(paper_id)[:100]!r} in the store")
    for note in found.notes:  # on stderr: stdout (--json) stays the results only
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    hits = found.hits
    if as_json:
        print_json([hit_json(h, settings) for h in hits])
        return
    if not hits:
        typer.echo("no similar papers found")
        return
    _print_hits(hits)


@app.command("eval")
def eval_cmd(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/SPLIT.tsv.", show_default=False
        ),
    ],
    split: Annotated[str, typer.Option("--split", help="Judgements to use: qrels/SPLIT.tsv.")] = "test",
    modes: Annotated[
        list[str] | None, typer.Option("--mode", help="bm25, dense or hybrid; repeat for several (default: all three).")
    ] = None,
    model: Annotated[str, typer.Option("--model", help="Embedding model: minilm or static.")] = "minilm",
    as_json: JsonOption = False,
) -> None:
    """Evaluate retrieval on a BEIR benchmark: nDCG@10, Recall@100 and MRR@10 per mode (with a model, also
    each mode without the relevance cut and the naive RRF of a plain BM25 and the embedding)."""
    from paperfeed.evaluation.retrieval import EvalError, evaluate

    chosen = list(dict.fromkeys(modes or list(MODES)))
    for m in chosen:
        _choice("--mode", m, MODES)
    _choice("--model", model, EMBEDDER_NAMES)
    settings = get_settings()
    try:
        result = evaluate(
            folder,
            split=split,
            modes=chosen,
            settings=settings,
            model=model,
            log=lambda msg: console.print(msg, highlight=False, markup=False),
        )
    except (EvalError, EmbedderError) as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
        return
    typer.echo(f"{'mode':<8} {'nDCG@10':>8} {'Recall@100':>11} {'MRR@10':>8}")
    for name, got in result.items():
        typer.echo(f"{name:<8} {got['ndcg@10']:>8.4f} {got['recall@100']:>11.4f} {got['mrr@10']:>8.4f}")
