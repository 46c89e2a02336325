"""View data for the HTML pages: paper cards with votes and saved state, built once per page.

Each page handler calls one service (daily list, trending, search, library...) and turns its papers into
``Card`` objects here, with one query for upvotes and one for what the signed-in member voted and saved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import quote, urlencode

from sqlalchemy import Connection

from paperfeed.ids import is_arxiv_id
from paperfeed.links import doi_url, safe_url
from paperfeed.models import Paper, Snippet
from paperfeed.store.claims import verified_names
from paperfeed.store.comments import visible_counts
from paperfeed.store.keywords import keywords_for
from paperfeed.store.library import saved_ids
from paperfeed.store.users import User, UserPublic
from paperfeed.store.votes import user_votes, vote_counts


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

    @property
    def url(self) -> str:
        return paper_url(self.paper.id)

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


def paper_url(paper_id: str) -> str:
    """``/papers/<id>``; old-style ids keep their slash (``/papers/hep-th/9901001``)."""
    return "/papers/" + quote(paper_id, safe="/")


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
    """Fill in upvotes (unless already known), visible comment counts and the member's voted/saved flags."""
    ids = [c.paper.id for c in cards]
    if counts:
        found = vote_counts(conn=conn, ids=ids)
        for c in cards:
            c.upvotes = found.get(c.paper.id, 0)
    discussed = visible_counts(conn=conn, paper_ids=ids) if ids else {}
    phrases = keywords_for(conn=conn, ids=ids) if ids else {}
    verified = verified_names(conn=conn, paper_ids=ids) if ids else {}
    for c in cards:
        c.comments = discussed.get(c.paper.id, 0)
        c.keywords, c.verified = phrases.get(c.paper.id, []), verified.get(c.paper.id, {})
    if user is not None and ids:
        voted = user_votes(conn=conn, user_id=user.id, ids=ids)
        saved = saved_ids(conn=conn, user_id=user.id, ids=ids)
        for c in cards:
            c.voted, c.saved = c.paper.id in voted, c.paper.id in saved
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
