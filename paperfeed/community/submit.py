"""Member submissions: put a paper on today's daily list, by arXiv id or with pasted metadata.

Shared by the Submit page and the JSON API. Both paths validate through ``ingest.validate.clean_paper``,
store the paper (merging with what is known), record the submission (the first submitter of a paper wins)
and refresh the search index so the paper is findable at once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import FieldError
from paperfeed.ids import abs_url, derived_id, pdf_url, split_arxiv_id
from paperfeed.ingest.harvest import fetch_arxiv
from paperfeed.ingest.validate import clean_paper
from paperfeed.models import Author, Paper, Version
from paperfeed.search.protocols import Searcher
from paperfeed.store.papers import get_paper, now_utc, upsert_papers
from paperfeed.store.submissions import add_submission, get_submission

log = logging.getLogger("paperfeed.web")
_URL_RE = re.compile(r"^https?://[^\s<>\"']{1,2000}$")


class SubmitError(FieldError):
    """A submission that cannot be accepted; ``field`` names the form/JSON field at fault."""


@dataclass
class SubmitResult:
    paper_id: str
    created: bool  # False: the paper had already been submitted (by someone, maybe this member)
    submitted_at: datetime
    submitted_by: str | None


def _record(
    engine: Engine, paper_id: str, user_id: int, searcher: Searcher | None, when: datetime | None
) -> SubmitResult:
    with engine.begin() as conn:
        created = add_submission(conn=conn, paper_id=paper_id, user_id=user_id, when=when or now_utc())
        found = get_submission(conn=conn, paper_id=paper_id)
    assert found is not None
    sub, who = found
    if searcher is not None:
        try:
            searcher.refresh()
        except Exception:  # noqa: BLE001 - the paper is stored; the index catches up on the next refresh
            log.exception("search refresh after submission of %s failed", paper_id)
    return SubmitResult(paper_id, created, sub.submitted_at, who.username if who else None)


def parse_authors(raw: str) -> list[Author]:
    """Authors from one per line, or separated by commas / semicolons / " and "."""
    parts = re.split(r"\s*(?:\n|;|,|\band\b)\s*", raw.strip()) if raw.strip() else []
    return [Author(p.strip()) for p in parts if p.strip()]


def submit_metadata(
    *,
    engine: Engine,
    user_id: int,
    title: str,
    abstract: str,
    authors: str | list[str],
    arxiv: str = "",
    url: str = "",
    code_url: str = "",
    searcher: Searcher | None = None,
    when: datetime | None = None,
) -> SubmitResult:
    """Store a pasted paper and submit it. ``arxiv`` may be an id or an arxiv.org URL (optional)."""
    names = parse_authors(authors) if isinstance(authors, str) else [Author(a) for a in authors if a.strip()]
    if not title.strip():
        raise SubmitError("title", "a title is required")
    if len(abstract.strip()) < 20:
        raise SubmitError("abstract", "paste the abstract (at least 20 characters)")
    if not names:
        raise SubmitError("authors", "list at least one author")
    for name, value in (("url", url), ("code_url", code_url)):
        if value.strip() and not _URL_RE.match(value.strip()):
            raise SubmitError(name, "links must start with http:// or https://")
    arxiv_id = None
    if arxiv.strip():
        parsed = split_arxiv_id(arxiv)
        if parsed is None:
            raise SubmitError("arxiv", f"not an arXiv id or URL: {arxiv.strip()[:80]!r}")
        arxiv_id = parsed[0]
    pid = arxiv_id or derived_id(title, abstract)
    cleaned = clean_paper(
        Paper(
            id=pid,
            title=title,
            abstract=abstract,
            authors=names,
            abs_url=abs_url(pid) if arxiv_id else (url.strip() or None),
            pdf_url=pdf_url(pid) if arxiv_id else None,
            project_url=url.strip() or None,
            code_url=code_url.strip() or None,
            source="submission",
            first_seen=now_utc(),
            versions=[Version(1, None)] if arxiv_id else [],
        )
    )
    if isinstance(cleaned, str):
        field = "title" if "title" in cleaned else "abstract" if "abstract" in cleaned else "authors"
        raise SubmitError(field, cleaned)
    with engine.begin() as conn:
        result = upsert_papers(conn=conn, papers_in=[cleaned])
    stored = (result.added or result.updated or result.unchanged or [pid])[0]
    return _record(engine, stored, user_id, searcher, when)


def submit_arxiv(
    *,
    engine: Engine,
    settings: Settings,
    user_id: int,
    arxiv: str,
    searcher: Searcher | None = None,
    when: datetime | None = None,
) -> SubmitResult:
    """Fetch ``arxiv`` (id or URL) from the arXiv API, store and submit it.

    Raises :class:`SubmitError` on field ``arxiv`` with a clear message when the id is malformed, arXiv
    cannot be reached (e.g. offline) or does not know the paper.
    """
    parsed = split_arxiv_id(arxiv or "")
    if parsed is None:
        raise SubmitError("arxiv", f"not an arXiv id or URL: {(arxiv or '').strip()[:80]!r}")
    pid = parsed[0]
    with engine.connect() as conn:
        known = get_paper(conn=conn, paper_id=pid)
    if known is None:
        # A person is waiting for this page: one quick retry at most, not the harvester's patient backoff.
        quick = settings.model_copy(
            update={
                "arxiv_max_retries": min(settings.arxiv_max_retries, 1),
                "http_timeout": min(settings.http_timeout, 15.0),
            }
        )
        try:
            fetch_arxiv(engine=engine, settings=quick, ids=[pid])
        except Exception as exc:  # noqa: BLE001 - network/HTTP/parse errors all mean "could not fetch"
            raise SubmitError(
                "arxiv",
                f"could not reach arXiv to fetch {pid}: this server seems to be "
                f"offline, or arXiv is not answering ({str(exc)[:160]}). "
                "Paste the paper's metadata below instead.",
            ) from exc
        with engine.connect() as conn:
            known = get_paper(conn=conn, paper_id=pid)
        if known is None:
            raise SubmitError("arxiv", f"arXiv has no paper {pid}")
    return _record(engine, known.id, user_id, searcher, when)
