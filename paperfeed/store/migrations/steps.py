"""Migration steps the revisions share (imported as ``paperfeed.store.migrations.steps``).

Beside ``env.py``, not in ``versions/``, so Alembic never takes it for a revision. As with
:mod:`paperfeed.store.migrations.columns`, what a step here does must not change once a migration uses it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from alembic import op

from paperfeed.store.migrations.columns import created_at, owned_by, paper_ref


def drop_tables(*names: str) -> None:
    """Drop ``names`` in the order given (dependent tables first)."""
    for name in names:
        op.drop_table(name)


def create_member_paper_table(name: str) -> None:
    """``name``: the papers a member marked (voted for, dismissed), one row a pair with when, indexed by paper."""
    op.create_table(
        name,
        owned_by("user_id", "users.id", primary_key=True),
        paper_ref(primary_key=True),
        created_at(),
    )
    op.create_index(f"ix_{name}_paper_id", name, ["paper_id"])


def postgresql_only(step: Callable[[], None]) -> Callable[[], None]:
    """Run ``step`` (an ``upgrade`` or ``downgrade``) on PostgreSQL only; on SQLite it changes nothing."""

    @functools.wraps(step)
    def run() -> None:
        if op.get_bind().dialect.name == "postgresql":
            step()

    return run
