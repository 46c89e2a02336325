"""Join the accounts, subscriptions and PostgreSQL branches into one history with a single head.

Revisions 0002 (accounts), 0003 (subscriptions) and 0004-0005 (PostgreSQL) were written side by side on
top of 0001. This merge point changes no schema; it gives ``paperfeed db upgrade`` one target and every
later migration one parent.

Revision ID: 0006
Revises: 0002, 0003, 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | Sequence[str] | None = ("0002", "0003", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the three branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
