"""Sending limits and the Sent copy per plan; the sends of the last hour they count.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("messages_per_hour", sa.Integer(), nullable=True,
                                   server_default=sa.text("200")))
        batch.add_column(sa.Column("recipients_per_hour", sa.Integer(), nullable=True,
                                   server_default=sa.text("1000")))
        batch.add_column(sa.Column("sent_copy", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    op.create_table(
        "sends",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
    )
    op.create_index("ix_sends_account_at", "sends", ["account_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_sends_account_at", table_name="sends")
    op.drop_table("sends")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("sent_copy")
        batch.drop_column("recipients_per_hour")
        batch.drop_column("messages_per_hour")
