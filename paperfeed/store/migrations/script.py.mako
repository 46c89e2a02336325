"""${message}"""

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
# Shared builders: paperfeed.store.migrations.columns (columns) and .steps (drop_tables, postgresql_only, ...).

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
% if branch_labels:
branch_labels = ${repr(branch_labels)}
% endif
% if depends_on:
depends_on = ${repr(depends_on)}
% endif


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
