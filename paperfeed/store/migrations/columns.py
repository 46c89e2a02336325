"""Column builders the migrations share (imported as ``paperfeed.store.migrations.columns``).

This module lives beside ``env.py``, not in ``versions/``, so Alembic never takes it for a revision.
Migrations replay history: once a migration uses a builder, what the builder makes must not change. A
column that needs to change gets a new migration (and a new builder, if this one no longer fits).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from paperfeed.store.schema import UTCDateTime

Column = sa.Column[Any]


def serial_id() -> Column:
    """``id``: an auto-incrementing integer primary key."""
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def paper_ref(*, primary_key: bool = False) -> Column:
    """``paper_id``, required: follows the paper's id when it changes and goes with the paper."""
    paper = sa.ForeignKey("papers.id", onupdate="CASCADE", ondelete="CASCADE")
    return sa.Column("paper_id", sa.String(64), paper, primary_key=primary_key, nullable=False)


def owned_by(name: str, target: str, *, primary_key: bool = False, nullable: bool = False) -> Column:
    """An integer reference to ``target`` (``"table.id"``): the row goes when the row it names does."""
    owner = sa.ForeignKey(target, ondelete="CASCADE")
    return sa.Column(name, sa.Integer, owner, primary_key=primary_key, nullable=nullable)


def acting_user(name: str) -> Column:
    """Who did something (submitted, hid, decided): NULL once that account is deleted."""
    return sa.Column(name, sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))


def created_at() -> Column:
    """``created_at``, required (UTC)."""
    return sa.Column("created_at", UTCDateTime, nullable=False)


def false_flag(name: str) -> Column:
    """A required boolean that starts false (existing rows too)."""
    return sa.Column(name, sa.Boolean, nullable=False, server_default=sa.false())
