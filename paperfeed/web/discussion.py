"""The discussion section of the paper page: what ``_discussion.html`` needs, built in one call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from paperfeed.community import comments as svc
from paperfeed.store.users import User


def discussion_context(*, conn: Connection, paper_id: str, user: User | None) -> dict[str, Any]:
    """Threads as ``user`` may see them, whether they can moderate, and the length limit of a comment."""
    return {
        "discussion": svc.discussion(conn=conn, paper_id=paper_id, viewer=user),
        "can_moderate": svc.is_moderator(user),
        "comment_limit": svc.MAX_BODY,
    }
