"""Fetch citations from OpenAlex (``paperfeed citations``; in the background under ``serve --follow``).

For papers with an arXiv id, 50 at a time, ``GET {PAPERFEED_OPENALEX_URL}/works?filter=doi:10.48550/arxiv.<id>|...``
finds their works (arXiv DOIs). Each work found gives its OpenAlex id, ``cited_by_count``, ``counts_by_year``,
venue (``primary_location.source.display_name``) and ``referenced_works``. References known only by id get
their title, year and DOI from ``filter=openalex:W1|W2|...`` (50 a request); the works citing each paper come
from ``filter=cites:<W id>&per-page=200&cursor=*``, following ``meta.next_cursor`` to the end. A work whose DOI
is the arXiv DOI of a paper of this store is linked to that paper. Everything goes through
:class:`~paperfeed.ingest.http.PoliteClient`: one call at a time, at least ``PAPERFEED_OPENALEX_REQUEST_INTERVAL``
apart (10 a second at most), retried with backoff on 429/5xx. ``PAPERFEED_OPENALEX_MAILTO`` is sent as ``mailto``
(OpenAlex's polite pool).

Each batch is stored as it comes (upserts; edges never twice). A network failure stops the run: papers whose
citing list was not finished are ``failed`` and come first next run, which goes on from there. The data is
OpenAlex's, under CC0.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ingest.http import ArxivUnavailable, PoliteClient, user_agent
from paperfeed.store.citations import (
    WorkRecord,
    add_edges,
    citing_incomplete,
    count_edges,
    mark_citing_complete,
    papers_by_doi,
    papers_due,
    remember_not_found,
    store_works,
    untitled_works,
)
from paperfeed.store.papers import now_utc

log = logging.getLogger("paperfeed.citations")
Outcome = Literal["resolved", "not_found", "failed"]
BATCH = 50  # DOIs or OpenAlex ids per lookup (OpenAlex accepts up to 50 values in one filter)
CITING_PAGE = 200  # citing works per page (OpenAlex's largest page)
ARXIV_DOI = "10.48550/arxiv."
WORK_FIELDS = "id,doi,display_name,publication_year,cited_by_count,counts_by_year,primary_location,referenced_works"
BRIEF_FIELDS = "id,doi,display_name,publication_year,cited_by_count"
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
BACKGROUND_LIMIT = 2000  # papers per background round (about 40 lookups plus their citing lists)


class OpenAlexError(RuntimeError):
    """OpenAlex could not be reached, kept failing, or answered something unusable; the message says which."""


@dataclass
class PaperOutcome:
    id: str
    outcome: Outcome
    openalex_id: str | None = None
    cited_by_count: int | None = None


@dataclass
class CitationsReport:
    papers: list[PaperOutcome] = field(default_factory=list)
    edges: int = 0  # citation edges stored in all, after the run
    requests: int = 0
    error: str | None = None  # why the run stopped early, if it did

    def ids(self, outcome: Outcome) -> list[str]:
        return [p.id for p in self.papers if p.outcome == outcome]

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {k: len(self.ids(k)) for k in ("resolved", "not_found", "failed")}
        out["edges"] = self.edges
        out["requests"] = self.requests
        out["papers"] = [p.__dict__ for p in self.papers]
        out["error"] = self.error
        return out


def short_id(url: object) -> str | None:
    """``'https://openalex.org/W2741809807'`` -> ``'W2741809807'`` (None when not a work id)."""
    if not isinstance(url, str) or not url:
        return None
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return tail.upper() if tail[:1] in ("W", "w") and tail[1:].isdigit() else None


def bare_doi(value: object) -> str | None:
    """``'https://doi.org/10.48550/arXiv.2205.13147'`` -> ``'10.48550/arxiv.2205.13147'`` (lower case)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "doi:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    return text.lower() or None


def plain_title(value: object) -> str | None:
    """A title as text: OpenAlex keeps publishers' markup (``<i>in vivo</i>``, ``&amp;``); tags dropped,
    entities decoded, whitespace collapsed. None when empty."""
    if not isinstance(value, str):
        return None
    text = " ".join(html.unescape(_TAG.sub("", value)).split())
    return text or None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _venue(obj: dict[str, Any]) -> str | None:
    location = obj.get("primary_location")
    source = location.get("source") if isinstance(location, dict) else None
    name = source.get("display_name") if isinstance(source, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _counts(value: object) -> tuple[tuple[int, int], ...] | None:
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if isinstance(item, dict):
            year, n = _int(item.get("year")), _int(item.get("cited_by_count"))
            if year is not None and n is not None:
                out.append((year, n))
    return tuple(sorted(out, reverse=True))


def work_record(obj: dict[str, Any], *, paper_id: str | None, full: bool) -> WorkRecord | None:
    """A :class:`WorkRecord` from an OpenAlex work object (``full``: with counts per year and venue)."""
    wid = short_id(obj.get("id"))
    if wid is None:
        return None
    return WorkRecord(
        openalex_id=wid,
        paper_id=paper_id,
        title=plain_title(obj.get("display_name") or obj.get("title")),
        year=_int(obj.get("publication_year")),
        doi=bare_doi(obj.get("doi")),
        cited_by_count=_int(obj.get("cited_by_count")),
        counts_by_year=_counts(obj.get("counts_by_year")) if full else None,
        venue=_venue(obj) if full else None,
    )


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def openalex_client(settings: Settings, on_wait: Callable[[str, float], None] | None = None) -> PoliteClient:
    """A client paced for OpenAlex (``PAPERFEED_OPENALEX_REQUEST_INTERVAL``), retried like the arXiv one."""
    return PoliteClient(
        interval=settings.openalex_request_interval,
        max_retries=settings.arxiv_max_retries,
        timeout=settings.http_timeout,
        agent=user_agent(settings),
        on_wait=on_wait,
    )


class CitationFetcher:
    """One run: look papers up, store their works, references and citing works, report per paper."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        client: PoliteClient,
        on_paper: Callable[[PaperOutcome], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        self.on_paper = on_paper
        self.base = settings.openalex_url.strip().rstrip("/")
        self.report = CitationsReport()

    # ------------------------------------------------------------ HTTP

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.base}/works"
        if self.settings.openalex_mailto.strip():
            params = {**params, "mailto": self.settings.openalex_mailto.strip()}
        try:
            resp = self.client.get(url, params=params)
        except ArxivUnavailable as exc:
            raise OpenAlexError(f"OpenAlex: {exc}") from exc
        finally:
            self.report.requests += 1
        if resp.status_code != 200:
            raise OpenAlexError(f"OpenAlex: {url}: HTTP {resp.status_code} {resp.reason_phrase}: {resp.text[:200]}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise OpenAlexError(f"OpenAlex: {url}: the answer is not JSON ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise OpenAlexError(f"OpenAlex: {url}: the answer has no 'results' list")
        return data

    # ------------------------------------------------------------ storing

    def _store_brief(self, objs: list[Any]) -> list[str]:
        """Store outside works (title, year, DOI, count); link those that are papers here. Returns their ids."""
        dicts = [o for o in objs if isinstance(o, dict)]
        with self.engine.begin() as conn:
            mine = papers_by_doi(conn=conn, dois=[d for o in dicts if (d := bare_doi(o.get("doi")))])
            records = [
                r for o in dicts if (r := work_record(o, paper_id=mine.get(bare_doi(o.get("doi")) or ""), full=False))
            ]
            store_works(conn=conn, works=records)
        return [r.openalex_id for r in records]

    # ------------------------------------------------------------ steps

    def _lookup(self, batch: Sequence[str], now: datetime) -> dict[str, WorkRecord]:
        """Find ``batch`` in OpenAlex by arXiv DOI; store the works and their reference edges.

        Returns ``{paper_id: work}`` of those found; the others are reported ``not_found``."""
        wanted = {ARXIV_DOI + pid.lower(): pid for pid in batch}
        data = self._get({"filter": "doi:" + "|".join(wanted), "per-page": str(BATCH), "select": WORK_FIELDS})
        found: dict[str, WorkRecord] = {}
        refs: list[tuple[str, str]] = []
        for obj in data["results"]:
            pid = wanted.get(bare_doi(obj.get("doi")) or "") if isinstance(obj, dict) else None
            record = work_record(obj, paper_id=pid, full=True) if pid and pid not in found else None
            if record is None or pid is None:
                continue
            found[pid] = record
            for ref in obj.get("referenced_works") or []:
                ref_id = short_id(ref)
                if ref_id:
                    refs.append((record.openalex_id, ref_id))
        missing = [pid for pid in batch if pid not in found]
        with self.engine.begin() as conn:
            store_works(conn=conn, works=list(found.values()), fetched_at=now)
            store_works(conn=conn, works=[WorkRecord(cited) for _, cited in refs])
            add_edges(conn=conn, edges=refs)
            remember_not_found(conn=conn, paper_ids=missing, now=now)
        for pid in missing:
            self._settle(PaperOutcome(pid, "not_found"))
        self._titles([cited for _, cited in refs])
        return found

    def _titles(self, work_ids: list[str]) -> None:
        """Fetch title, year and DOI of the works known by id only (references), 50 a request."""
        with self.engine.connect() as conn:
            untitled = untitled_works(conn=conn, work_ids=work_ids)
        for chunk in _chunks(untitled, BATCH):
            data = self._get({"filter": "openalex:" + "|".join(chunk), "per-page": str(BATCH), "select": BRIEF_FIELDS})
            self._store_brief(data["results"])

    def _follow_citing(self, work_id: str) -> None:
        """Store every work citing ``work_id``, page by page, then mark its list complete."""
        cursor: str | None = "*"
        while cursor:
            params = {"filter": f"cites:{work_id}", "per-page": str(CITING_PAGE), "cursor": cursor}
            data = self._get({**params, "select": BRIEF_FIELDS})
            citing = self._store_brief(data["results"])
            with self.engine.begin() as conn:
                add_edges(conn=conn, edges=[(c, work_id) for c in citing])
            meta = data.get("meta")
            nxt = meta.get("next_cursor") if isinstance(meta, dict) else None
            cursor = nxt if isinstance(nxt, str) and nxt and nxt != cursor and data["results"] else None
        with self.engine.begin() as conn:
            mark_citing_complete(conn=conn, work_id=work_id)

    def _settle(self, outcome: PaperOutcome) -> None:
        self.report.papers.append(outcome)
        if self.on_paper is not None:
            self.on_paper(outcome)

    def _batch(self, batch: Sequence[str], now: datetime) -> None:
        found = self._lookup(batch, now)
        with self.engine.connect() as conn:
            todo = dict(citing_incomplete(conn=conn, work_ids=[w.openalex_id for w in found.values()]))
        for pid, work in found.items():
            wid = work.openalex_id
            if wid in todo and todo[wid] == 0:  # nothing cites it: no request needed
                with self.engine.begin() as conn:
                    mark_citing_complete(conn=conn, work_id=wid)
            elif wid in todo:
                self._follow_citing(wid)
            self._settle(PaperOutcome(pid, "resolved", wid, work.cited_by_count))

    # ------------------------------------------------------------ run

    def run(
        self, *, limit: int | None, refresh_after: timedelta | None, keep_going: Callable[[], None] | None = None
    ) -> CitationsReport:
        """Fetch the papers due: all (``refresh_after`` None, the CLI), or those never fetched or fetched longer
        than ``refresh_after`` ago (the background). ``keep_going`` is called between batches and may raise."""
        if not self.base.startswith(("http://", "https://")):
            self.report.error = f"PAPERFEED_OPENALEX_URL: not an http(s) URL: {self.base!r}"
            return self.report
        now = now_utc()
        since = now - refresh_after if refresh_after is not None else now
        with self.engine.connect() as conn:
            due = papers_due(conn=conn, limit=limit, fetched_before=since, tried_before=since)
        for batch in _chunks(due, BATCH):
            done = len(self.report.papers)
            try:
                self._batch(batch, now)
            except (OpenAlexError, httpx.HTTPError) as exc:
                self.report.error = " ".join(str(exc).split()) or type(exc).__name__
                settled = {p.id for p in self.report.papers[done:]}
                for pid in batch:
                    if pid not in settled:
                        self._settle(PaperOutcome(pid, "failed"))
                break
            if keep_going is not None:
                keep_going()
        with self.engine.connect() as conn:
            self.report.edges = count_edges(conn=conn)
        return self.report


def fetch_citations(
    *,
    engine: Engine,
    settings: Settings,
    limit: int | None = None,
    refresh_after: timedelta | None = None,
    client: PoliteClient | None = None,
    on_paper: Callable[[PaperOutcome], None] | None = None,
    keep_going: Callable[[], None] | None = None,
) -> CitationsReport:
    """Fetch the citations of the papers due (see :meth:`CitationFetcher.run`); stops cleanly on a failure."""
    http = client or openalex_client(settings)
    try:
        fetcher = CitationFetcher(engine=engine, settings=settings, client=http, on_paper=on_paper)
        return fetcher.run(limit=limit, refresh_after=refresh_after, keep_going=keep_going)
    finally:
        if client is None:
            http.close()


def citations_in_background(
    *, engine: Engine, settings: Settings, keep_going: Callable[[], None]
) -> CitationsReport | None:
    """One round for ``paperfeed serve --follow``: papers never fetched, then those fetched more than
    ``PAPERFEED_CITATIONS_REFRESH_DAYS`` ago (up to ``BACKGROUND_LIMIT``). ``keep_going`` raises to stop (the
    follow lease was lost). One log line for the round; None if it failed outright."""
    try:
        report = fetch_citations(
            engine=engine,
            settings=settings,
            limit=BACKGROUND_LIMIT,
            refresh_after=timedelta(days=settings.citations_refresh_days),
            keep_going=keep_going,
        )
    except Exception as exc:  # noqa: BLE001 - the lease was lost or the database failed: next round
        log.warning("OpenAlex citations stopped: %s", exc)
        return None
    if report.error:
        log.warning("OpenAlex citations stopped: %s; the rest waits for the next round", report.error)
    if report.papers:
        counts = report.as_dict()
        log.info(
            "OpenAlex citations: %s resolved, %s not found, %s failed; %s edges stored",
            counts["resolved"],
            counts["not_found"],
            counts["failed"],
            counts["edges"],
        )
    return report
