"""Casting an upvote, the one way the paper page's form and ``/api/v1/papers/{id}/vote`` both take.

The vote is written in its own transaction (one per member and paper: repeating it changes nothing), the
paper's counted upvotes are read back in it, and once it is committed the cached trending rankings are
dropped, so the member's next trending page counts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from paperfeed.rank.trending import forget_cached
from paperfeed.store.papers import resolve_id
from paperfeed.store.votes import add_vote, remove_vote, vote_counts

MAX_ID_LENGTH = 200  # longer ids are unknown without a lookup


@dataclass(frozen=True)
class VoteOutcome:
    """The paper voted on (its current id), its counted upvotes after the vote, and the member's vote."""

    paper_id: str
    upvotes: int
    voted: bool


def cast_vote(*, engine: Engine, user_id: int, paper_id: str, up: bool) -> VoteOutcome | None:
    """Upvote (``up``) or take the vote back for the paper known by ``paper_id`` (any alias or version
    suffix); None when there is no such paper."""
    with engine.begin() as conn:
        current = resolve_id(conn=conn, paper_id=paper_id) if len(paper_id) <= MAX_ID_LENGTH else None
        if current is None:
            return None
        if up:
            add_vote(conn=conn, user_id=user_id, paper_id=current)
        else:
            remove_vote(conn=conn, user_id=user_id, paper_id=current)
        count = vote_counts(conn=conn, ids=[current])[current]
    forget_cached()  # committed: the next trending page counts this vote
    return VoteOutcome(current, count, up)
