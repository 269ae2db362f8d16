"""The outbound queue's DSN state (RFC 3461): `rcpt_options`, what the sender asked with
each recipient (NOTIFY and ORCPT), repeated to a next hop that offers DSN and read when the
runner decides what to report; `delay_warned`, whether the sender was told the recipient's
delivery is delayed (`server.queue_delay_warning`: once).

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
    op.add_column("outbound_queue", sa.Column("delay_warned", sa.Boolean(), nullable=False,
                                              server_default=sa.false()))


def downgrade() -> None:
    op.execute("ALTER TABLE outbound_queue DROP COLUMN delay_warned")
    op.execute("ALTER TABLE outbound_queue DROP COLUMN rcpt_options")
