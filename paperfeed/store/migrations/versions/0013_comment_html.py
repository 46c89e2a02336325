"""Comments keep their sanitised HTML: ``comments.body_html``, rendered once when a comment is written or
edited (:func:`paperfeed.community.comments.render_comment`) instead of on every view; filled here for
existing comments."""

from typing import Any

import sqlalchemy as sa
from alembic import op

from paperfeed.community.comments import render_comment

revision = "0013_comment_html"
down_revision = "0012_rate_events"


def upgrade() -> None:
    op.add_column("comments", sa.Column("body_html", sa.Text, nullable=True))
    conn = op.get_bind()
    comments = sa.table(
        "comments", sa.column("id", sa.Integer), sa.column("body", sa.Text), sa.column("body_html", sa.Text)
    )
    last = 0
    while True:  # in batches, so a large discussion table is never held in memory at once
        rows = conn.execute(
            sa.select(comments.c.id, comments.c.body).where(comments.c.id > last).order_by(comments.c.id).limit(1000)
        ).fetchall()
        if not rows:
            return
        updates: list[dict[str, Any]] = [{"cid": r.id, "html": render_comment(r.body or "")} for r in rows]
        conn.execute(
            comments.update().where(comments.c.id == sa.bindparam("cid")).values(body_html=sa.bindparam("html")),
            updates,
        )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("body_html")
