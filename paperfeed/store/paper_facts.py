"""What a paper's card, API answer or feed entry shows beyond its row, for a page of papers at once.

:func:`paper_facts` reads, in one query per 500 papers, each paper's counted upvotes, visible comments,
keyphrases, OpenAlex ``cited_by_count``, member submission and (for a signed-in viewer) whether the viewer
upvoted or saved it; approved authorship claims take a second query, only for papers that have some. The
search page, the daily list, the library, ``/api/v1``, the Hugging Face API and the feeds read them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, Select, and_, bindparam, exists, false, func, select

from paperfeed.store.citations import citation_works
from paperfeed.store.claims import author_claims, verified_names
from paperfeed.store.comments import comments
from paperfeed.store.keywords import paper_keywords
from paperfeed.store.library import collection_items, collections
from paperfeed.store.schema import papers
from paperfeed.store.submissions import Submission, submissions
from paperfeed.store.users import UserPublic, users
from paperfeed.store.votes import counted, votes

_CHUNK = 500  # ids per IN (...) clause, below every backend's parameter limit


@dataclass
class PaperFacts:
    """One paper's counts and marks. ``voted``/``saved`` are the viewer's (False without a viewer)."""

    upvotes: int = 0
    comments: int = 0  # visible comments and replies
    keywords: list[str] = field(default_factory=list)
    cited_by: int | None = None  # OpenAlex cited_by_count; None when OpenAlex does not know the paper
    submission: Submission | None = None
    submitted_by: UserPublic | None = None
    verified: dict[str, str] = field(default_factory=dict)  # author name -> member whose claim was approved
    voted: bool = False
    saved: bool = False

    @property
    def submitted_at(self) -> datetime | None:
        return self.submission.submitted_at if self.submission else None

    @property
    def daily_date(self) -> date | None:
        return self.submission.daily_date if self.submission else None


def _visible_comment() -> ColumnElement[bool]:
    """A comment that is shown: neither deleted nor hidden by a moderator (as ``store.comments`` counts)."""
    return and_(comments.c.deleted_at.is_(None), comments.c.hidden_at.is_(None))


@cache
def _facts_query(viewer: bool) -> Select[Any]:
    """The facts of the papers ``:ids`` (an expanding parameter), and with ``viewer`` the marks of member
    ``:viewer``; built once, so each page pays only for running it."""
    p = papers.c.id
    upvotes = select(func.count()).where(votes.c.paper_id == p, counted()).scalar_subquery()
    discussed = select(func.count()).where(comments.c.paper_id == p, _visible_comment()).scalar_subquery()
    phrases = select(paper_keywords.c.keywords).where(paper_keywords.c.paper_id == p).scalar_subquery()
    cited = select(citation_works.c.cited_by_count).where(citation_works.c.paper_id == p).scalar_subquery()
    claimed = exists().where(author_claims.c.paper_id == p, author_claims.c.status == "approved")
    voted: ColumnElement[bool] = false()
    saved: ColumnElement[bool] = false()
    if viewer:
        member = bindparam("viewer", type_=Integer)
        voted = exists().where(votes.c.paper_id == p, votes.c.user_id == member)
        saved = exists().where(
            collection_items.c.paper_id == p,
            collection_items.c.collection_id == collections.c.id,
            collections.c.user_id == member,
        )
    return (
        select(
            p.label("id"),
            upvotes.label("upvotes"),
            discussed.label("comments"),
            phrases.label("keywords"),
            cited.label("cited_by"),
            claimed.label("claimed"),
            voted.label("voted"),
            saved.label("saved"),
            submissions.c.submitted_at,
            submissions.c.daily_date,
            users.c.username,
            users.c.display_name,
        )
        .select_from(
            papers.outerjoin(submissions, submissions.c.paper_id == p).outerjoin(
                users, users.c.id == submissions.c.submitted_by
            )
        )
        .where(p.in_(bindparam("ids", expanding=True)))
    )


def paper_facts(conn: Connection, ids: Sequence[str], viewer: int | None = None) -> dict[str, PaperFacts]:
    """The facts of each of ``ids`` (current paper ids; unknown ids get empty facts), ``viewer`` being the
    signed-in member's id (None: nobody, so nothing is voted or saved)."""
    unique = list(dict.fromkeys(ids))
    out = {i: PaperFacts() for i in unique}
    claimed: list[str] = []
    query = _facts_query(viewer is not None)
    for start in range(0, len(unique), _CHUNK):
        params: dict[str, Any] = {"ids": unique[start : start + _CHUNK], "viewer": viewer}
        for r in conn.execute(query, params):
            out[r.id] = PaperFacts(
                upvotes=r.upvotes or 0,
                comments=r.comments or 0,
                keywords=list(r.keywords or ()),
                cited_by=r.cited_by,
                submission=Submission(r.id, r.submitted_at, r.daily_date) if r.submitted_at is not None else None,
                submitted_by=UserPublic(r.username, r.display_name or r.username) if r.username else None,
                voted=bool(r.voted),
                saved=bool(r.saved),
            )
            if r.claimed:
                claimed.append(r.id)
    if claimed:  # approved authorship claims are rare: a second query only for the papers that have some
        for pid, names in verified_names(conn=conn, paper_ids=claimed).items():
            out[pid].verified = names
    return out
