"""Sending limits and the Sent copy per plan (`plan_sending`; a plan without a row has the
defaults), and the sends of the last hour that the limits count (`sends`). Only new tables:
a role that does not own the existing ones can run it.

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
    op.create_table(
        "plan_sending",
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("messages_per_hour", sa.Integer(), nullable=True),
        sa.Column("recipients_per_hour", sa.Integer(), nullable=True),
        sa.Column("sent_copy", sa.Boolean(), nullable=False),
    )
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
    op.drop_table("plan_sending")
