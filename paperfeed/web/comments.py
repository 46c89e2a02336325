"""Discussion pages: comment forms on the paper page, the moderators' reports queue, the discussion feed.

- ``POST /papers/{id}/comments`` (``body``, ``parent``): comment or reply;
- ``POST /comments/{id}/edit|delete|vote|report``: the member's own actions;
- ``POST /comments/{id}/hide|restore|dismiss``: moderators;
- ``GET /moderation``: the reports queue (moderators; 403 for everyone else);
- ``GET /papers/{id}/comments.atom``: an Atom feed of a paper's visible comments, newest first.

Every form carries the CSRF token (router dependency) and answers with a 303 back to the comment. A refused
comment (empty, too long, rate limit) is shown again in a form with the reason, so no text is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from paperfeed.community import comments as svc
from paperfeed.links import paper_url
from paperfeed.store.comments import get_comment
from paperfeed.store.papers import get_paper, get_papers
from paperfeed.store.users import User
from paperfeed.web.api_comments import MAX_ID
from paperfeed.web.comment_feed import discussion_atom
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalUser, StoreDep, VerifiedUser
from paperfeed.web.pages import safe_next
from paperfeed.web.templating import render
from paperfeed.web.urls import SiteSettingsDep

router = APIRouter(dependencies=[CsrfProtected], include_in_schema=False)
CommentId = Annotated[int, Path(ge=1, le=MAX_ID)]
BodyField = Annotated[str, Form(max_length=20_000)]


def _anchor(paper_id: str, comment_id: int | None = None, **flags: int) -> str:
    query = "&".join(f"{k}={v}" for k, v in flags.items())
    return (
        paper_url(paper_id)
        + (f"?{query}" if query else "")
        + (f"#comment-{comment_id}" if comment_id else "#discussion")
    )


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _refused(
    request: Request, exc: svc.CommentError, paper_id: str, body: str, parent: int | None = None, action: str = ""
) -> Response:
    """The form again, with the member's text and why it was not accepted."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    context = {
        "error": _sentence(str(exc)),
        "paper_url": paper_url(paper_id),
        "action": action or paper_url(paper_id) + "/comments",
        "body": body,
        "parent": parent,
    }
    page = render(
        request, "comment_refused.html", context, status_code=exc.status if exc.status in (403, 404, 429) else 400
    )
    if headers:
        page.headers.update(headers)
    return page


@router.post("/papers/{paper_id:path}/comments")
def post_comment(
    request: Request,
    paper_id: str,
    engine: StoreDep,
    user: VerifiedUser,
    body: BodyField,
    parent: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    """Post a comment (or, with ``parent``, a reply) and go to it."""
    try:
        with engine.begin() as conn:
            paper = get_paper(conn=conn, paper_id=paper_id) if len(paper_id) <= 200 else None
            if paper is None:
                raise HTTPException(404, f"There is no paper {paper_id[:100]!r} here.")
            made = svc.post_comment(conn=conn, user=user, paper_id=paper.id, body=body, parent_id=parent)
    except svc.CommentError as exc:
        return _refused(request, exc, paper_id, body, parent)
    return RedirectResponse(_anchor(made.row.paper_id, made.id), status_code=303)


def _act(engine: Any, comment_id: int, action: Callable[[Connection], object]) -> str:
    """Run a comment action; returns the comment's paper id. Refusals become HTTP errors."""
    try:
        with engine.begin() as conn:
            row = get_comment(conn=conn, comment_id=comment_id)
            if row is None:
                raise HTTPException(404, "That comment does not exist (any more).")
            action(conn)
    except svc.CommentError as exc:
        raise HTTPException(exc.status if exc.status != 422 else 400, _sentence(str(exc))) from exc
    return row.paper_id


@router.post("/comments/{comment_id}/edit")
def edit_comment(
    request: Request, comment_id: CommentId, engine: StoreDep, user: CurrentUser, body: BodyField
) -> Response:
    """Replace the text of one's own comment."""
    try:
        with engine.begin() as conn:
            made = svc.edit_comment(conn=conn, user=user, comment_id=comment_id, body=body)
    except svc.CommentError as exc:
        if exc.status != 422:
            raise HTTPException(exc.status, _sentence(str(exc))) from exc
        with engine.connect() as conn:
            row = get_comment(conn=conn, comment_id=comment_id)
        assert row is not None  # edit_comment found it
        return _refused(request, exc, row.paper_id, body, action=f"/comments/{comment_id}/edit")
    return RedirectResponse(_anchor(made.row.paper_id, comment_id), status_code=303)


@router.post("/comments/{comment_id}/delete")
def delete_comment(comment_id: CommentId, engine: StoreDep, user: CurrentUser) -> Response:
    pid = _act(engine, comment_id, lambda c: svc.delete_comment(conn=c, user=user, comment_id=comment_id))
    return RedirectResponse(_anchor(pid, deleted=1), status_code=303)


@router.post("/comments/{comment_id}/vote")
def vote_comment(
    comment_id: CommentId,
    engine: StoreDep,
    user: VerifiedUser,
    action: Annotated[Literal["up", "down"], Form()] = "up",
) -> Response:
    up = action == "up"
    pid = _act(engine, comment_id, lambda c: svc.vote_comment(conn=c, user=user, comment_id=comment_id, up=up))
    return RedirectResponse(_anchor(pid, comment_id), status_code=303)


@router.post("/comments/{comment_id}/report")
def report_comment(
    comment_id: CommentId,
    engine: StoreDep,
    user: CurrentUser,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    act = lambda c: svc.report_comment(conn=c, user=user, comment_id=comment_id, reason=reason)  # noqa: E731
    pid = _act(engine, comment_id, act)
    return RedirectResponse(_anchor(pid, comment_id, reported=comment_id), status_code=303)


def _moderate(
    comment_id: int, engine: Any, user: User, action: Literal["hide", "restore", "dismiss"], next_url: str | None
) -> Response:
    def act(conn: Connection) -> object:
        if action == "dismiss":
            return svc.dismiss_reports(conn=conn, user=user, comment_id=comment_id)
        return svc.set_hidden(conn=conn, user=user, comment_id=comment_id, hidden=action == "hide")

    pid = _act(engine, comment_id, act)
    return RedirectResponse(safe_next(next_url, _anchor(pid, comment_id)), status_code=303)


@router.post("/comments/{comment_id}/{action}")
def moderate(
    comment_id: CommentId,
    action: Literal["hide", "restore", "dismiss"],
    engine: StoreDep,
    user: CurrentUser,
    next: Annotated[str | None, Form(max_length=2000)] = None,  # noqa: A002 - the form field's name
) -> Response:
    """Hide, restore, or dismiss the reports of a comment (moderators; 403 for everyone else)."""
    return _moderate(comment_id, engine, user, action, next)


@router.get("/moderation")
def moderation(request: Request, engine: StoreDep, user: OptionalUser) -> Response:
    """The reports queue: reported comments with their reasons, oldest report first."""
    if not svc.is_moderator(user):
        raise HTTPException(403, "Only moderators can see the reports queue. Sign in with a moderator account.")
    assert user is not None
    with engine.connect() as conn:
        items = svc.report_queue(conn=conn, user=user)
        found = get_papers(conn=conn, ids=[i.comment.row.paper_id for i in items])
        titles = {paper_id: p.title for paper_id, p in found.items()}
    return render(request, "moderation.html", {"items": items, "titles": titles, "tab": "moderation"})


@router.get("/papers/{paper_id:path}/comments.atom")
def discussion_feed(request: Request, paper_id: str, engine: StoreDep, settings: SiteSettingsDep) -> Response:
    """The paper's visible comments and replies as Atom, newest first."""
    with engine.connect() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id) if len(paper_id) <= 200 else None
        if paper is None:
            raise HTTPException(404, f"There is no paper {paper_id[:100]!r} here.")
        found = svc.discussion(conn=conn, paper_id=paper.id, viewer=None)
    body = discussion_atom(paper=paper, discussion=found, settings=settings)
    return Response(
        body, media_type="application/atom+xml; charset=utf-8", headers={"Cache-Control": "public, max-age=60"}
    )
