"""Email verification of accounts: ``users.email_verified_at`` and ``users.verification_sent_at``.

Existing accounts start unverified: nobody has yet proved they read the address they signed up with, so
their digest subscription stays out of reach until they follow a mailed link (docs/security.md).

Revision ID: 0009_email_verification
Revises: 0008_not_interested
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.store.schema import UTCDateTime

revision: str = "0009_email_verification"
down_revision: str | Sequence[str] | None = "0008_not_interested"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified_at", UTCDateTime, nullable=True))
    op.add_column("users", sa.Column("verification_sent_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("verification_sent_at")
        batch.drop_column("email_verified_at")
