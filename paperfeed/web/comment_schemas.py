"""JSON shapes of the discussion API (``/api/v1/papers/{id}/comments``, ``/api/v1/comments/{id}``) and of
its error answers, so every documented status has a schema that matches what the app sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from paperfeed.web.error_schemas import ErrorOut, FieldErrorOut, ValidationErrorOut  # noqa: F401 - one shape for all

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
