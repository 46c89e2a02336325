"""Discussion rules: who may post, edit, delete, vote, report, hide and restore, how often, and how a comment's
Markdown becomes safe HTML.

Web pages and the API call these functions and turn :class:`CommentError` into their own answer (a form
error or an HTTP status); no SQL here (see :mod:`paperfeed.store.comments`).

Rate limits, per member, counted from the store (exact across processes and restarts):

- comments and replies: :data:`COMMENT_LIMITS` (5 a minute, 50 a day);
- reports: :data:`REPORT_LIMITS` (20 a day).

Rendering (:func:`render_comment`): markdown-it-py renders, nh3 (ammonia) sanitises.

- Raw HTML in a comment is shown as text (markdown-it ``html=False``); nh3 then keeps only the tags below,
  so nothing executable survives even if the renderer let something through.
- Bare ``http(s)://`` URLs become links (linkify-it-py), like written ``[text](url)`` links.
- Links keep only absolute ``http``, ``https`` and ``mailto`` targets (no ``javascript:`` or ``data:``, and no
  relative or protocol-relative ``//host`` ones, which would point wherever the page is served from) and get
  ``rel="nofollow ugc"``; a link whose target is dropped stays as its text.
- The HTML is rendered once, when a comment is written or edited, and stored (``comments.body_html``).
- Headings and images are not rendered: ``# x`` stays a paragraph (a page has one ``<h1>``), and
  ``![alt](url)`` becomes a link, so a comment cannot load third-party images.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import Connection

from paperfeed.store import comments as store
from paperfeed.store import rate_limits
from paperfeed.store.comments import CommentRow
from paperfeed.store.rate_limits import Limit
from paperfeed.store.users import User
from paperfeed.text import invisible_problem

MAX_BODY = 10_000
MAX_REASON = 500
MODERATOR_ROLES = ("moderator", "admin")
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


COMMENT_LIMITS = (Limit(5, 60, "a minute"), Limit(50, 24 * 3600, "a day"))
REPORT_LIMITS = (Limit(20, 24 * 3600, "a day"),)


class CommentError(ValueError):
    """A request the rules refuse. ``status``: the HTTP status it maps to; ``field``: the input at fault."""

    def __init__(self, status: int, message: str, *, field: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.field, self.retry_after = status, field, retry_after


@dataclass
class CommentView:
    """A comment as a given viewer sees it: ``body``/``html`` are None when hidden or deleted for them."""

    row: CommentRow
    body: str | None
    html: str | None
    can_edit: bool
    can_moderate: bool
    replies: list[CommentView] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def edited(self) -> bool:
        return self.row.edited_at is not None

    @property
    def hidden(self) -> bool:
        return self.row.hidden_at is not None

    @property
    def deleted(self) -> bool:
        return self.row.deleted_at is not None


@dataclass
class Discussion:
    paper_id: str
    count: int  # visible comments and replies
    threads: list[CommentView]


@dataclass
class QueueItem:
    """A reported comment in the moderators' queue, with its open reports."""

    comment: CommentView
    reports: list[store.ReportRow]


def is_moderator(user: User | None) -> bool:
    return user is not None and user.role in MODERATOR_ROLES


def view(row: CommentRow, viewer: User | None) -> CommentView:
    """What ``viewer`` may see of ``row``: moderators and the author still see a hidden comment's text."""
    mine = viewer is not None and viewer.id == row.user_id
    readable = row.deleted_at is None and (row.hidden_at is None or mine or is_moderator(viewer))
    return CommentView(
        row=row,
        body=row.body if readable else None,
        html=(row.body_html if row.body_html is not None else render_comment(row.body)) if readable else None,
        can_edit=mine and row.deleted_at is None,
        can_moderate=is_moderator(viewer) and row.deleted_at is None,
    )


def clean_body(body: str, *, name: str = "body", limit: int = MAX_BODY) -> str:
    """The text to store: newlines normalised, ends trimmed; refuses empty, too long or invalid text."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if _BAD_CHARS.search(text):
        raise CommentError(422, f"{name} contains control characters or invalid Unicode", field=name)
    invisible = invisible_problem(text, name)
    if invisible:
        raise CommentError(422, invisible, field=name)
    if not text:
        raise CommentError(422, f"{name} is empty: write something", field=name)
    if len(text) > limit:
        raise CommentError(422, f"{name} is {len(text):,} characters long; the limit is {limit:,}", field=name)
    return text


def _check_rate(
    conn: Connection, key: str, limits: Sequence[Limit], since: Callable[[datetime], Sequence[datetime]], what: str
) -> None:
    """Refuse (429) when the member already fills one of ``limits``; holds the lock on ``key`` until the
    caller's transaction ends, so its insert is counted before any parallel request counts."""
    try:
        rate_limits.check_locked(conn, key, limits, since)
    except rate_limits.RateLimited as exc:
        limit, wait = exc.limit, exc.retry_after
        raise CommentError(
            429, f"you can post {limit.count} {what} {limit.label}; try again in {wait} seconds", retry_after=wait
        ) from exc


def _load(conn: Connection, comment_id: int, viewer: User | None = None) -> CommentRow:
    row = store.get_comment(conn=conn, comment_id=comment_id, viewer_id=viewer.id if viewer else None)
    if row is None or row.deleted_at is not None:
        raise CommentError(404, f"no comment {comment_id}")
    return row


def post_comment(
    *, conn: Connection, user: User, paper_id: str, body: str, parent_id: int | None = None
) -> CommentView:
    """A new comment on ``paper_id`` (an existing paper), or a reply to the top-level comment ``parent_id``."""
    text = clean_body(body)
    if parent_id is not None:
        parent = store.get_comment(conn=conn, comment_id=parent_id)
        if parent is None or parent.paper_id != paper_id:
            raise CommentError(422, f"parent: no comment {parent_id} on this paper", field="parent")
        if parent.parent_id is not None:
            raise CommentError(
                422, f"parent: replies go one level deep; reply to comment {parent.parent_id}", field="parent"
            )
        if parent.deleted_at is not None:
            raise CommentError(422, f"parent: comment {parent_id} was deleted", field="parent")
        if parent.hidden_at is not None:  # hidden by a moderator: no thread grows under it
            raise CommentError(422, f"parent: comment {parent_id} is hidden and takes no replies", field="parent")
    since = lambda s: store.comments_since(conn=conn, user_id=user.id, since=s)  # noqa: E731
    _check_rate(conn, f"comments:user:{user.id}", COMMENT_LIMITS, since, "comments")
    new_id = store.add_comment(
        conn=conn, paper_id=paper_id, user_id=user.id, body=text, body_html=render_comment(text), parent_id=parent_id
    )
    return view(_load(conn, new_id, user), user)


def edit_comment(*, conn: Connection, user: User, comment_id: int, body: str) -> CommentView:
    """Change the text of one's own comment; it then shows as edited."""
    row = _load(conn, comment_id, user)
    if row.user_id != user.id:
        raise CommentError(403, "only the author can edit a comment")
    text = clean_body(body)
    store.update_body(conn=conn, comment_id=comment_id, body=text, body_html=render_comment(text))
    return view(_load(conn, comment_id, user), user)


def delete_comment(*, conn: Connection, user: User, comment_id: int) -> bool:
    """Delete one's own comment; True when it is gone, False when a tombstone stays for its replies."""
    row = _load(conn, comment_id, user)
    if row.user_id != user.id:
        raise CommentError(403, "only the author can delete a comment")
    removed = store.delete_comment(conn=conn, comment_id=comment_id)
    if row.parent_id is not None:  # the last reply under a deleted comment takes the tombstone with it
        parent = store.get_comment(conn=conn, comment_id=row.parent_id)
        if parent is not None and parent.deleted_at is not None:
            store.delete_comment(conn=conn, comment_id=parent.id)
    return removed


def set_hidden(*, conn: Connection, user: User, comment_id: int, hidden: bool) -> CommentView:
    """Hide (or restore) a comment as a moderator; resolves the comment's open reports."""
    if not is_moderator(user):
        raise CommentError(403, "only moderators can hide or restore comments")
    _load(conn, comment_id, user)
    store.set_hidden(conn=conn, comment_id=comment_id, by=user.id if hidden else None)
    store.resolve_reports(conn=conn, comment_id=comment_id)
    return view(_load(conn, comment_id, user), user)


def dismiss_reports(*, conn: Connection, user: User, comment_id: int) -> int:
    """Close a comment's open reports without hiding it (moderators)."""
    if not is_moderator(user):
        raise CommentError(403, "only moderators can dismiss reports")
    _load(conn, comment_id, user)
    return store.resolve_reports(conn=conn, comment_id=comment_id)


def report_comment(*, conn: Connection, user: User, comment_id: int, reason: str) -> bool:
    """Flag a comment for the moderators; True if this adds to the queue (a repeat report does not)."""
    row = _load(conn, comment_id, user)
    if row.user_id == user.id:
        raise CommentError(422, "you cannot report your own comment; edit or delete it instead")
    text = clean_body(reason or "no reason given", name="reason", limit=MAX_REASON)
    since = lambda s: store.reports_since(conn=conn, user_id=user.id, since=s)  # noqa: E731
    _check_rate(conn, f"reports:user:{user.id}", REPORT_LIMITS, since, "reports")
    return store.add_report(conn=conn, comment_id=comment_id, user_id=user.id, reason=text)


def vote_comment(*, conn: Connection, user: User, comment_id: int, up: bool) -> CommentView:
    """Upvote a visible comment (or take the vote back); one vote per member and comment."""
    row = _load(conn, comment_id, user)
    if up:
        if not row.visible:
            raise CommentError(422, "hidden or deleted comments cannot be upvoted")
        store.add_comment_vote(conn=conn, user_id=user.id, comment_id=comment_id)
    else:
        store.remove_comment_vote(conn=conn, user_id=user.id, comment_id=comment_id)
    return view(_load(conn, comment_id, user), user)


def discussion(*, conn: Connection, paper_id: str, viewer: User | None) -> Discussion:
    """A paper's comments as threads (oldest first), each with its replies (oldest first)."""
    rows = store.list_comments(conn=conn, paper_id=paper_id, viewer_id=viewer.id if viewer else None)
    threads: dict[int, CommentView] = {}
    for r in rows:
        if r.parent_id is None:
            threads[r.id] = view(r, viewer)
    for r in rows:
        if r.parent_id is not None and r.parent_id in threads:
            threads[r.parent_id].replies.append(view(r, viewer))
    return Discussion(paper_id=paper_id, count=sum(r.visible for r in rows), threads=list(threads.values()))


def discussion_context(*, conn: Connection, paper_id: str, user: User | None) -> dict[str, Any]:
    """What the paper page's discussion section (``_discussion.html``) needs, in one call: threads as ``user``
    may see them, whether they can moderate, and the length limit of a comment."""
    return {
        "discussion": discussion(conn=conn, paper_id=paper_id, viewer=user),
        "can_moderate": is_moderator(user),
        "comment_limit": MAX_BODY,
    }


def comment_view(*, conn: Connection, comment_id: int, viewer: User | None) -> CommentView:
    return view(_load(conn, comment_id, viewer), viewer)


def report_queue(*, conn: Connection, user: User) -> list[QueueItem]:
    """Reported comments with their open reports, the longest-waiting first (moderators only)."""
    if not is_moderator(user):
        raise CommentError(403, "only moderators can see the reports queue")
    items: dict[int, QueueItem] = {}
    for report in store.open_reports(conn=conn):
        if report.comment_id not in items:
            row = store.get_comment(conn=conn, comment_id=report.comment_id)
            if row is None:
                continue
            items[report.comment_id] = QueueItem(comment=view(row, user), reports=[])
        items[report.comment_id].reports.append(report)
    return list(items.values())


ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "em", "hr", "li", "ol", "p", "pre", "strong", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}

# ``linkify`` (linkify-it-py) makes bare URLs with a scheme links (``https://x.org/y``); fuzzy links stay off,
# so ``example.com``, ``www.x.org``, file names and version numbers stay text.
_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    .enable("linkify")
    .disable(["heading", "lheading", "image"])
)
if _md.linkify is None:  # markdown-it makes it only when linkify-it-py is installed (a dependency)
    raise ImportError("comments need linkify-it-py: pip install linkify-it-py")
_md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: an ``href`` stays only with one of :data:`URL_SCHEMES` and, for the web ones,
    a host (``//evil.example`` and ``/path`` are dropped)."""
    if tag != "a" or attribute != "href":
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in URL_SCHEMES:
        return None
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return None
    return value


def render_comment(markdown: str) -> str:
    """Sanitised HTML for a comment's Markdown (safe to insert into a page or a feed)."""
    html = _md.render(markdown)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow ugc",
        strip_comments=True,
        attribute_filter=_absolute_links_only,
    )
