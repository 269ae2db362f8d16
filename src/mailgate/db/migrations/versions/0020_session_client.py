"""`live_sessions.client`: the mail app a session says it is (IMAP ID's name and version,
RFC 2971), shown beside the session on the sessions pages, `mailgate sessions` and the
admin API.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("live_sessions", sa.Column("client", sa.String(128), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE live_sessions DROP COLUMN client")
