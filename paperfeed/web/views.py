"""View data for the HTML pages: paper cards with votes and saved state, built once per page.

Each page handler calls one service (daily list, trending, search, library...) and turns its papers into
``Card`` objects here; their counts and the signed-in member's marks come from one loader
(:func:`paperfeed.store.paper_facts.paper_facts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from urllib.parse import urlencode

from sqlalchemy import Connection

from paperfeed.ids import is_arxiv_id
from paperfeed.links import doi_url, safe_url
from paperfeed.models import Paper, Snippet
from paperfeed.store.paper_facts import paper_facts
from paperfeed.store.users import User, UserPublic
from paperfeed.web.urls import author_url, paper_url, phrase_search_url

__all__ = ["Card", "arxiv_links", "decorate", "page_links"]


@dataclass
class Card:
    """A paper as a list item: what the card template shows."""

    paper: Paper
    upvotes: int = 0
    voted: bool = False
    saved: bool = False
    daily_date: date | None = None
    submitted_by: UserPublic | None = None
    snippet: Snippet | None = None  # search snippet: rendered escaped, matches in <mark> (Snippet.__html__)
    reason: str = ""
    score: float | None = None
    comments: int = 0  # visible comments and replies (store.comments.visible_counts)
    # On the daily list: "member" (a member submitted it) or "arrived" (import, demo, followed arXiv); None: unknown.
    origin: str | None = None
    keywords: list[str] = field(default_factory=list)  # store.keywords: chips linking to a search
    verified: dict[str, str] = field(default_factory=dict)  # author name -> member who claimed it (approved)

    @cached_property
    def url(self) -> str:
        return paper_url(self.paper.id)

    @property
    def keyword_links(self) -> list[tuple[str, str]]:
        """``(phrase, URL of a search for it)`` for each keyphrase chip."""
        return [(k, phrase_search_url(k)) for k in self.keywords]

    def author_links(self, limit: int | None = None) -> list[tuple[str, str, str | None]]:
        """``(name, author page URL, member who verified it or None)`` for the first ``limit`` authors."""
        names = self.paper.author_names if limit is None else self.paper.author_names[:limit]
        return [(n, author_url(n), self.verified.get(n)) for n in names]

    @property
    def when(self) -> date | None:
        if self.daily_date:
            return self.daily_date
        stamp = self.paper.published or self.paper.first_seen
        return stamp.date() if isinstance(stamp, datetime) else None

    @property
    def when_label(self) -> str:
        """What :attr:`when` is, shown before it: a publication date only when the paper's is known.

        ``published`` (its publication date, for a paper that arrived on its own), else ``added``: the day a
        member submitted it, or the day this instance added it (demo papers and others with no known date)."""
        submitted = self.submitted_by is not None or self.origin == "member"
        return "published" if self.paper.published is not None and not submitted else "added"


def arxiv_links(paper: Paper) -> dict[str, str]:
    """External links worth showing: arXiv abstract and PDF, DOI, code, project page."""
    links: dict[str, str] = {}
    if paper.abs_url:
        links["arXiv" if is_arxiv_id(paper.id) else "Abstract"] = paper.abs_url
    if paper.pdf_url:
        links["PDF"] = paper.pdf_url
    if paper.doi:
        links["DOI"] = doi_url(paper.doi)
    if paper.code_url:
        links["Code"] = paper.code_url
    if paper.project_url and paper.project_url != paper.abs_url:
        links["Project page"] = paper.project_url
    return {k: v for k, v in links.items() if safe_url(v)}


def decorate(conn: Connection, cards: Sequence[Card], user: User | None, counts: bool = True) -> list[Card]:
    """Fill in upvotes (unless ``counts`` is False: already known), visible comment counts, keyphrases,
    verified authors and the member's voted/saved flags, from one :func:`paper_facts` read."""
    facts = paper_facts(conn, [c.paper.id for c in cards], user.id if user is not None else None)
    for c in cards:
        f = facts[c.paper.id]
        if counts:
            c.upvotes = f.upvotes
        c.comments, c.keywords, c.verified = f.comments, f.keywords, f.verified
        c.voted, c.saved = f.voted, f.saved
    return list(cards)


def page_links(base: str, params: Mapping[str, object], page: int, per_page: int, total: int) -> dict[str, str]:
    """``prev``/``next`` URLs for ``p`` (1-based) that keep every other query parameter. A page past the end
    of a non-empty list gets ``past_end`` (the URL of the last page, also its ``prev``), ``last_page`` and
    ``first`` (the first page's URL)."""
    out: dict[str, str] = {}
    keep = {k: v for k, v in params.items() if v not in (None, "", [])}
    last = max(1, -(-total // per_page))
    if total > 0 and page > last:
        out["prev"] = out["past_end"] = base + "?" + urlencode({**keep, "p": last}, doseq=True)
        out["last_page"] = str(last)
        out["first"] = base + ("?" + urlencode(keep, doseq=True) if keep else "")
    elif page > 1:
        out["prev"] = base + "?" + urlencode({**keep, "p": page - 1}, doseq=True)
    if page * per_page < total:
        out["next"] = base + "?" + urlencode({**keep, "p": page + 1}, doseq=True)
    return out
