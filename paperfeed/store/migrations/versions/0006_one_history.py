"""Join the accounts, subscriptions and PostgreSQL branches into one history with a single head.

Revisions 0002 (accounts), 0003 (subscriptions) and 0004-0005 (PostgreSQL) were written side by side on
top of 0001. This merge point changes no schema; it gives ``paperfeed db upgrade`` one target and every
later migration one parent.
"""

revision = "0006"
down_revision = ("0002", "0003", "0005")


def upgrade() -> None:
    """Nothing to change: the three branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
