"""Member submissions: put a paper on today's daily list, by arXiv id or with pasted metadata.

Shared by the Submit page and the JSON API. Both paths validate through ``ingest.validate.clean_paper``,
store the paper, record the submission (the first submitter of a paper wins) and refresh the search index
so the paper is findable at once.

A member's pasted metadata is never authoritative: an arXiv id is accepted only when arXiv confirms it (the
paper is then stored from arXiv's record and the pasted text is dropped), a pasted title that matches a
stored paper submits that paper unchanged, and a later arXiv record replaces pasted text
(``store.papers.merge_paper``). Parallel submissions of one paper all answer with the same paper.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from paperfeed.config import Settings
from paperfeed.errors import FieldError
from paperfeed.ids import derived_id, split_arxiv_id
from paperfeed.ingest.harvest import fetch_arxiv
from paperfeed.ingest.validate import clean_paper
from paperfeed.models import Author, Paper
from paperfeed.search.protocols import Searcher
from paperfeed.store.papers import PASTED_SOURCE, get_paper, now_utc, paper_id_by_title, upsert_papers
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
    return SubmitResult(paper_id, created, sub.submitted_at, who.username if who else None)


def parse_authors(raw: str) -> list[Author]:
    """Authors from one per line, or separated by commas / semicolons / " and "."""
    parts = re.split(r"\s*(?:\n|;|,|\band\b)\s*", raw.strip()) if raw.strip() else []
    return [Author(p.strip()) for p in parts if p.strip()]


def submit_metadata(
    *,
    engine: Engine,
    settings: Settings,
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
    """Store a pasted paper and submit it. ``arxiv`` may be an id or an arxiv.org URL (optional): with one,
    the paper is fetched from arXiv (which must confirm the id) and the pasted text is not used."""
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
    if arxiv.strip():  # arXiv's record, never the pasted text, is what an arXiv id stands for
        return submit_arxiv(
            engine=engine, settings=settings, user_id=user_id, arxiv=arxiv, searcher=searcher, when=when
        )
    pid = derived_id(title, abstract)
    cleaned = clean_paper(
        Paper(
            id=pid,
            title=title,
            abstract=abstract,
            authors=names,
            abs_url=url.strip() or None,
            project_url=url.strip() or None,
            code_url=code_url.strip() or None,
            source=PASTED_SOURCE,
            first_seen=now_utc(),
        )
    )
    if isinstance(cleaned, str):
        field = "title" if "title" in cleaned else "abstract" if "abstract" in cleaned else "authors"
        raise SubmitError(field, cleaned)
    return _record(engine, _store_pasted(engine, cleaned), user_id, searcher, when)


def _store_pasted(engine: Engine, paper: Paper) -> str:
    """The id of the paper a pasted submission stands for: a stored paper with the same id or title is
    submitted unchanged (pasted text never edits or re-identifies it); otherwise ``paper`` is added.

    A parallel submission that adds the same paper first makes the insert fail: the next try finds it."""
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                known = get_paper(conn=conn, paper_id=paper.id)
                found = known.id if known else paper_id_by_title(conn=conn, title=paper.title)
                if found is not None:
                    return found
                upsert_papers(conn=conn, papers_in=[paper])
                return paper.id
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


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
    if known is None or known.source == PASTED_SOURCE:  # unknown, or only pasted: arXiv must confirm it
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
            with engine.connect() as conn:  # a parallel submission may have stored arXiv's record meanwhile
                known = get_paper(conn=conn, paper_id=pid)
            if known is None or known.source == PASTED_SOURCE:
                raise SubmitError(
                    "arxiv",
                    f"could not reach arXiv to confirm {pid}: this server seems to be "
                    f"offline, or arXiv is not answering ({str(exc)[:160]}). An arXiv id is accepted only "
                    "once arXiv confirms it: try again later, or Paste the paper's metadata below instead, "
                    "without the arXiv id.",
                ) from exc
        with engine.connect() as conn:
            known = get_paper(conn=conn, paper_id=pid)
        if known is None or known.source == PASTED_SOURCE:
            raise SubmitError("arxiv", f"arXiv has no paper {pid}")
    return _record(engine, known.id, user_id, searcher, when)
