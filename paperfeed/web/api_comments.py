"""The discussion API under ``/api/v1``: a paper's comments, posting, editing, deleting, voting, reporting,
and moderation (hide, restore, the reports queue), with its JSON shapes and the schema of every error answer
it documents.

Reading is open (a moderator's token also shows the text of hidden comments); everything else takes a
personal API token (``Authorization: Bearer pf_...``). The rules live in :mod:`paperfeed.community.comments`;
a refusal there becomes its HTTP status here (403 not yours / not a moderator, 404, 422 naming the field,
429 with ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from paperfeed.community import comments as svc
from paperfeed.links import paper_url
from paperfeed.store.papers import get_paper
from paperfeed.store.users import User
from paperfeed.web.deps import ApiUser, SettingsDep, StoreDep, VerifiedApiUser, api_user
from paperfeed.web.error_schemas import ErrorOut, ValidationErrorOut
from paperfeed.web.listing import field_error
from paperfeed.web.urls import SiteSettingsDep

MAX_ID = 2_147_483_647  # comment ids are 32-bit integers on PostgreSQL


_TEXT = {
    401: "no or an unknown personal API token (Authorization: Bearer pf_...)",
    403: "signed in, but not allowed (not the author, or not a moderator)",
    404: "no such paper or comment",
    422: "invalid input; detail names the field",
    429: "rate limit reached; Retry-After says when to try again",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses, each with the schema of its body."""
    return {
        code: {"model": ValidationErrorOut if code == 422 else ErrorOut, "description": _TEXT[code]} for code in codes
    }


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=10_000, description="Markdown")
    parent: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="id of the top-level comment this replies to; null: new thread"
    )


class CommentEditIn(BaseModel):
    body: str = Field(min_length=1, max_length=10_000, description="the new Markdown text")


class ReportIn(BaseModel):
    reason: str = Field(default="", max_length=500, description="why the moderators should look at it")


class CommentAuthorOut(BaseModel):
    username: str
    display_name: str


class ReplyOut(BaseModel):
    id: int
    paper_id: str
    parent: int | None = Field(description="the comment this replies to; null for a top-level comment")
    author: CommentAuthorOut
    body: str | None = Field(description="the Markdown as written; null when hidden (for others) or deleted")
    html: str | None = Field(description="the body rendered and sanitised; null when body is")
    created_at: datetime
    edited_at: datetime | None = None
    edited: bool
    hidden: bool = Field(description="hidden by a moderator (not counted, text shown only to moderators and author)")
    deleted: bool = Field(description="deleted by its author but kept because it has replies")
    upvotes: int
    voted: bool = Field(description="whether the member asking has upvoted it (false without a token)")
    url: str = Field(description="the comment on the paper's page")


class CommentOut(ReplyOut):
    replies: list[ReplyOut] = Field(default_factory=list, description="replies, oldest first (one level deep)")


class CommentsOut(BaseModel):
    paper_id: str
    count: int = Field(description="visible comments and replies (not hidden, not deleted): numComments")
    data: list[CommentOut] = Field(description="top-level comments, oldest first, each with its replies")


class CommentDeletedOut(BaseModel):
    id: int
    deleted: bool = True
    removed: bool = Field(description="false when a tombstone stays because the comment has replies")


class CommentVoteOut(BaseModel):
    id: int
    upvotes: int
    voted: bool


class ReportOut(BaseModel):
    id: int = Field(description="the comment reported")
    reported: bool = True
    queued: bool = Field(description="false when this member's report of it was already open")


class ReportedCommentOut(BaseModel):
    comment: CommentOut
    reasons: list[str]
    reporters: list[str]
    first_reported: datetime


class ReportsOut(BaseModel):
    count: int
    data: list[ReportedCommentOut]


router = APIRouter(prefix="/api/v1", tags=["Discussion"])
CommentId = Annotated[int, Path(ge=1, le=MAX_ID, description="a comment's id")]
T = TypeVar("T")


def optional_api_user(request: Request) -> User | None:
    """The token's member when an ``Authorization`` header is sent (401 if it is not valid), else None."""
    if not request.headers.get("authorization"):
        return None
    return api_user(request)


MaybeApiUser = Annotated[User | None, Depends(optional_api_user)]


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the rules' :class:`CommentError` into an HTTP answer."""
    try:
        yield
    except svc.CommentError as exc:
        if exc.status == 422:
            raise field_error(exc.field or "body", str(exc), where="body") from exc
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        raise HTTPException(exc.status, str(exc), headers=headers) from exc


def reply_out(v: svc.CommentView, base_url: str) -> ReplyOut:
    r = v.row
    return ReplyOut(
        id=r.id,
        paper_id=r.paper_id,
        parent=r.parent_id,
        author=CommentAuthorOut(username=r.username, display_name=r.display_name),
        body=v.body,
        html=v.html,
        created_at=r.created_at,
        edited_at=r.edited_at,
        edited=v.edited,
        hidden=v.hidden,
        deleted=v.deleted,
        upvotes=r.upvotes,
        voted=r.voted,
        url=f"{base_url.rstrip('/')}{paper_url(r.paper_id)}#comment-{r.id}",
    )


def comment_out(v: svc.CommentView, base_url: str) -> CommentOut:
    return CommentOut(**reply_out(v, base_url).model_dump(), replies=[reply_out(x, base_url) for x in v.replies])


def _paper_id(conn: Connection, paper_id: str) -> str:
    paper = get_paper(conn=conn, paper_id=paper_id) if len(paper_id) <= 200 else None
    if paper is None:
        raise HTTPException(404, f"no paper with this id: {paper_id[:100]!r}")
    return paper.id


def _write(engine: StoreDep, action: Callable[[Connection], T]) -> T:
    with refusals(), engine.begin() as conn:
        return action(conn)


@router.get(
    "/papers/{paper_id:path}/comments", response_model=CommentsOut, responses=error_responses(401, 403, 404, 422)
)
def list_comments(paper_id: str, engine: StoreDep, settings: SiteSettingsDep, viewer: MaybeApiUser) -> CommentsOut:
    """A paper's discussion: top-level comments oldest first, each with its replies."""
    with engine.connect() as conn:
        found = svc.discussion(conn=conn, paper_id=_paper_id(conn, paper_id), viewer=viewer)
    data = [comment_out(t, settings.base_url) for t in found.threads]
    return CommentsOut(paper_id=found.paper_id, count=found.count, data=data)


@router.post(
    "/papers/{paper_id:path}/comments",
    response_model=CommentOut,
    status_code=201,
    responses=error_responses(401, 403, 404, 422, 429),
)
def post_comment(
    paper_id: str,
    engine: StoreDep,
    settings: SiteSettingsDep,
    user: VerifiedApiUser,
    body: Annotated[CommentIn, Body()],
) -> CommentOut:
    """Comment on a paper in Markdown, or reply to a top-level comment (``parent``)."""

    def act(conn: Connection) -> svc.CommentView:
        pid = _paper_id(conn, paper_id)
        return svc.post_comment(conn=conn, user=user, paper_id=pid, body=body.body, parent_id=body.parent)

    return comment_out(_write(engine, act), settings.base_url)


@router.patch("/comments/{comment_id}", response_model=CommentOut, responses=error_responses(401, 403, 404, 422))
def edit_comment(
    comment_id: CommentId,
    engine: StoreDep,
    settings: SiteSettingsDep,
    user: ApiUser,
    body: Annotated[CommentEditIn, Body()],
) -> CommentOut:
    """Change the text of your own comment; it then shows as edited."""
    view = _write(engine, lambda c: svc.edit_comment(conn=c, user=user, comment_id=comment_id, body=body.body))
    return comment_out(view, settings.base_url)


@router.delete(
    "/comments/{comment_id}", response_model=CommentDeletedOut, responses=error_responses(401, 403, 404, 422)
)
def delete_comment(comment_id: CommentId, engine: StoreDep, user: ApiUser) -> CommentDeletedOut:
    """Delete your own comment (with replies, a "deleted" placeholder keeps them in place)."""
    removed = _write(engine, lambda c: svc.delete_comment(conn=c, user=user, comment_id=comment_id))
    return CommentDeletedOut(id=comment_id, deleted=True, removed=removed)


def _moderate(engine: StoreDep, settings: SettingsDep, user: User, comment_id: int, hidden: bool) -> CommentOut:
    view = _write(engine, lambda c: svc.set_hidden(conn=c, user=user, comment_id=comment_id, hidden=hidden))
    return comment_out(view, settings.base_url)


@router.post("/comments/{comment_id}/hide", response_model=CommentOut, responses=error_responses(401, 403, 404, 422))
def hide_comment(comment_id: CommentId, engine: StoreDep, settings: SiteSettingsDep, user: ApiUser) -> CommentOut:
    """Hide a comment (moderators): others then see a placeholder; it no longer counts."""
    return _moderate(engine, settings, user, comment_id, True)


@router.post("/comments/{comment_id}/restore", response_model=CommentOut, responses=error_responses(401, 403, 404, 422))
def restore_comment(comment_id: CommentId, engine: StoreDep, settings: SiteSettingsDep, user: ApiUser) -> CommentOut:
    """Show a hidden comment again (moderators)."""
    return _moderate(engine, settings, user, comment_id, False)


def _vote(engine: StoreDep, user: User, comment_id: int, up: bool) -> CommentVoteOut:
    view = _write(engine, lambda c: svc.vote_comment(conn=c, user=user, comment_id=comment_id, up=up))
    return CommentVoteOut(id=view.id, upvotes=view.row.upvotes, voted=view.row.voted)


@router.post(
    "/comments/{comment_id}/vote", response_model=CommentVoteOut, responses=error_responses(401, 403, 404, 422)
)
def upvote_comment(comment_id: CommentId, engine: StoreDep, user: VerifiedApiUser) -> CommentVoteOut:
    """Upvote a comment (one vote per member: repeating it changes nothing)."""
    return _vote(engine, user, comment_id, True)


@router.delete(
    "/comments/{comment_id}/vote", response_model=CommentVoteOut, responses=error_responses(401, 403, 404, 422)
)
def unvote_comment(comment_id: CommentId, engine: StoreDep, user: ApiUser) -> CommentVoteOut:
    """Take your upvote of a comment back."""
    return _vote(engine, user, comment_id, False)


@router.post(
    "/comments/{comment_id}/report", response_model=ReportOut, responses=error_responses(401, 403, 404, 422, 429)
)
def report_comment(
    comment_id: CommentId, engine: StoreDep, user: ApiUser, body: Annotated[ReportIn, Body()]
) -> ReportOut:
    """Ask the moderators to look at a comment."""
    queued = _write(engine, lambda c: svc.report_comment(conn=c, user=user, comment_id=comment_id, reason=body.reason))
    return ReportOut(id=comment_id, reported=True, queued=queued)


@router.get("/moderation/reports", response_model=ReportsOut, responses=error_responses(401, 403))
def reports_queue(engine: StoreDep, settings: SiteSettingsDep, user: ApiUser) -> ReportsOut:
    """Reported comments with open reports, the longest-waiting first (moderators)."""
    with refusals(), engine.connect() as conn:
        items = svc.report_queue(conn=conn, user=user)
    data = [
        ReportedCommentOut(
            comment=comment_out(item.comment, settings.base_url),
            reasons=[r.reason for r in item.reports],
            reporters=[r.reporter for r in item.reports],
            first_reported=item.reports[0].created_at,
        )
        for item in items
    ]
    return ReportsOut(count=len(data), data=data)
