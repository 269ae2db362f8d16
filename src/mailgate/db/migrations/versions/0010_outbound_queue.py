"""The outbound queue (one row per recipient of mail for other domains) and the duties one
node of the cluster does at a time (the queue's runner).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_duties",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "outbound_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.String(length=32), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("mail_options", sa.Text(), server_default="", nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("queued_at", sa.Float(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbound_queue_due", "outbound_queue", ["state", "next_attempt_at"])
    op.create_index("ix_outbound_queue_queue_id", "outbound_queue", ["queue_id"])


def downgrade() -> None:
    op.drop_index("ix_outbound_queue_queue_id", table_name="outbound_queue")
    op.drop_index("ix_outbound_queue_due", table_name="outbound_queue")
    op.drop_table("outbound_queue")
    op.drop_table("node_duties")
