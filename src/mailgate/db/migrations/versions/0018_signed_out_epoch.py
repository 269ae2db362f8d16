"""`accounts.signed_out_epoch`: the credential epoch at which the owner last signed out
everywhere (`directory/sign_out.py`); live sessions signed in before it end, with a reason
of their own, whatever the credential they used.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


# Native ADD / DROP COLUMN (SQLite >= 3.35, PostgreSQL), never a batch copy of `accounts`:
# on SQLite a copy drops the old table, and with foreign keys on that deletes every row that
# refers to an account with ON DELETE CASCADE (folders, messages, ...).


def upgrade() -> None:
    op.add_column("accounts", sa.Column("signed_out_epoch", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE accounts DROP COLUMN signed_out_epoch")
