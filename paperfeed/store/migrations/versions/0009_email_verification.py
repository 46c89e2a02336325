"""Email verification of accounts: ``users.email_verified_at`` and ``users.verification_sent_at``.

Existing accounts start unverified: nobody has yet proved they read the address they signed up with, so
their digest subscription stays out of reach until they follow a mailed link (docs/security.md).
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.schema import UTCDateTime

revision = "0009_email_verification"
down_revision = "0008_not_interested"


def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified_at", UTCDateTime, nullable=True))
    op.add_column("users", sa.Column("verification_sent_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("verification_sent_at")
        batch.drop_column("email_verified_at")
