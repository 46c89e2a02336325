"""Author pages, authorship claims and public profiles, as data (no SQL here: :mod:`paperfeed.store.authors`,
:mod:`paperfeed.store.claims`). Name grouping rules: :mod:`paperfeed.authors`.

A member claims to be one of a paper's authors (:func:`claim`); a moderator or admin approves or rejects
(:func:`decide`). Approved claims show on the member's profile ``/u/{username}`` and as a verified mark next to
the author name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from paperfeed.authors import author_key, group_keys, is_initials, surname_key
from paperfeed.cite import plain_reference
from paperfeed.community.comments import is_moderator
from paperfeed.errors import StatusError
from paperfeed.models import Paper
from paperfeed.store import authors as author_store
from paperfeed.store import claims as claim_store
from paperfeed.store.papers import get_paper, get_papers, now_utc
from paperfeed.store.public_collections import PublicCollection, public_collections_of
from paperfeed.store.submissions import submissions_by
from paperfeed.store.users import User, get_user_by_username
from paperfeed.store.votes import vote_counts


class ClaimError(StatusError):
    """A claim or decision that cannot be made: ``status`` is the HTTP status that fits."""


@dataclass
class AuthorPage:
    name: str
    key: str
    papers: list[Paper]
    upvotes: dict[str, int]
    coauthors: list[author_store.CoAuthor]
    other_spellings: list[str] = field(default_factory=list)
    verified_members: list[str] = field(default_factory=list)

    @property
    def total_upvotes(self) -> int:
        return sum(self.upvotes.values())


@dataclass
class Profile:
    user: User
    claimed: list[Paper]
    submitted: list[Paper]
    collections: list[PublicCollection]


def author_page(*, conn: Connection, name: str) -> AuthorPage | None:
    """Everything an author page shows, or None when no stored paper has this author."""
    key = author_key(name)
    if not key:
        return None
    keys = group_keys(key, author_store.keys_with_surname(conn=conn, surname=surname_key(key)))
    ids = author_store.papers_by_keys(conn=conn, keys=keys)
    if not ids:
        return None
    full = [k for k in keys if not is_initials(k)] or keys
    written = author_store.spellings(conn=conn, keys=full) or [name]
    papers = list(get_papers(conn=conn, ids=ids).values())
    verified = claim_store.verified_names(conn=conn, paper_ids=ids)
    members = sorted({u for names in verified.values() for n, u in names.items() if author_key(n) in keys})
    return AuthorPage(
        name=written[0],
        key=full[0],
        papers=papers,
        upvotes=vote_counts(conn=conn, ids=ids),
        coauthors=author_store.coauthors(conn=conn, paper_ids=ids, exclude=keys),
        other_spellings=[s for s in author_store.spellings(conn=conn, keys=keys) if s != written[0]],
        verified_members=members,
    )


def claim(*, conn: Connection, user: User, paper_id: str, author_name: str) -> Paper:
    """File a pending claim that ``user`` is ``author_name`` on ``paper_id``."""
    paper = get_paper(conn=conn, paper_id=paper_id)
    if paper is None:
        raise ClaimError(404, f"there is no paper {paper_id[:100]!r}")
    if author_name not in paper.author_names:
        raise ClaimError(400, f"{author_name[:100]!r} is not an author of this paper")
    if not claim_store.add_claim(conn=conn, paper_id=paper.id, user_id=user.id, author_name=author_name, now=now_utc()):
        raise ClaimError(409, "you have already claimed an author of this paper")
    return paper


def decide(*, conn: Connection, moderator: User, claim_id: int, approve: bool) -> None:
    """Approve or reject a pending claim (moderators and admins only, never their own claim)."""
    if not is_moderator(moderator):
        raise ClaimError(403, "only moderators can approve or reject claims")
    found = claim_store.get_claim(conn=conn, claim_id=claim_id)
    if found is not None and found.user_id == moderator.id:
        raise ClaimError(403, "you cannot decide your own claim: another moderator has to")
    status: claim_store.ClaimStatus = "approved" if approve else "rejected"
    if not claim_store.decide_claim(
        conn=conn, claim_id=claim_id, status=status, moderator_id=moderator.id, now=now_utc()
    ):
        raise ClaimError(404, "there is no pending claim with that id")


@dataclass
class QueuedClaim:
    """A pending claim as the moderators see it: the paper's title and the papers of the claimed author that
    the claimant submitted themselves (pasted metadata can make up an author list to claim from)."""

    claim: claim_store.Claim
    title: str
    own_submissions: list[Paper]


def claims_queue(*, conn: Connection) -> list[QueuedClaim]:
    """The pending claims, oldest first, each with what a moderator needs to judge it."""
    claims = claim_store.pending_claims(conn=conn)
    titles = {pid: p.title for pid, p in get_papers(conn=conn, ids=[c.paper_id for c in claims]).items()}
    out = []
    for c in claims:
        ids = claim_store.submitted_with_author(conn=conn, user_id=c.user_id, name_key=author_key(c.author_name))
        out.append(QueuedClaim(c, titles.get(c.paper_id, c.paper_id), list(get_papers(conn=conn, ids=ids).values())))
    return out


def profile(*, conn: Connection, username: str) -> Profile | None:
    """A member's public profile: approved claims, submitted papers, public collections."""
    user = get_user_by_username(conn=conn, username=username)
    if user is None or user.disabled:
        return None
    claimed_ids = [c.paper_id for c in claim_store.claims_of_user(conn=conn, user_id=user.id)]
    submitted_ids = [s.paper_id for s in submissions_by(conn=conn, user_id=user.id)]
    return Profile(
        user=user,
        claimed=list(get_papers(conn=conn, ids=claimed_ids).values()),
        submitted=list(get_papers(conn=conn, ids=submitted_ids).values()),
        collections=public_collections_of(conn=conn, user_id=user.id),
    )


def claim_context(*, conn: Connection, paper: Paper, user: User | None) -> dict[str, object]:
    """What the paper page adds for authors and citing: the member's own claim on it, the plain reference."""
    mine = None
    if user is not None:
        mine = next(
            (c for c in claim_store.claims_for_paper(conn=conn, paper_id=paper.id) if c.user_id == user.id), None
        )
    return {"my_claim": mine, "reference": plain_reference(paper)}
