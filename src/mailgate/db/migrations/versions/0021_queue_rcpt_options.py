"""`outbound_queue.rcpt_options`: what the sender asked with each recipient (DSN's NOTIFY
and ORCPT, RFC 3461), repeated to a next hop that offers DSN and read when the runner
decides whether to report a delivery or a failure.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbound_queue", sa.Column("rcpt_options", sa.Text(), nullable=False,
                                              server_default=""))


def downgrade() -> None:
    op.execute("ALTER TABLE outbound_queue DROP COLUMN rcpt_options")
