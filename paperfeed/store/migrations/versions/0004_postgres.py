"""PostgreSQL: the pgvector extension (used by dense search). Nothing to do on SQLite."""

from alembic import op

from paperfeed.store.migrations.steps import postgresql_only

revision = "0004"
down_revision = "0001"


@postgresql_only
def upgrade() -> None:
    # Needs a role allowed to create extensions (superuser, or e.g. rds_superuser on RDS) the first time.
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")


@postgresql_only
def downgrade() -> None:
    op.execute("DROP EXTENSION IF EXISTS vector")
