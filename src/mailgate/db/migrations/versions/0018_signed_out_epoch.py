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


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("signed_out_epoch", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("signed_out_epoch")
