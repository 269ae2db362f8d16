"""Nodes and their heartbeat (rows of a node that stopped or died stop counting); the
sign-in method of each live session (a password change ends the password ones).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Live-session rows are a mirror of running nodes, rebuilt as sessions sign in.
    op.execute("DELETE FROM live_sessions")
    with op.batch_alter_table("live_sessions") as batch:
        batch.add_column(sa.Column("method", sa.String(length=16), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("live_sessions") as batch:
        batch.drop_column("method")
    op.drop_table("nodes")
