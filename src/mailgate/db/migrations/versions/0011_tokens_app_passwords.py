"""Modern authentication: the token revocation list (`revoked_tokens`, one row per revoked
token id until it would have expired anyway; `token_cutoffs`, per account: every token
issued before this moment is revoked, as compromise does), app passwords' allowed networks,
and an index to find an app password by its keyed hash.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_revoked_tokens_expiry", "revoked_tokens", ["expires_at"])
    op.create_table(
        "token_cutoffs",
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("not_before", sa.Float(), nullable=False),
    )
    op.add_column("app_passwords", sa.Column("networks", sa.Text(), nullable=True))
    op.create_index("ix_app_passwords_secret", "app_passwords", ["secret_hash"])


def downgrade() -> None:
    op.drop_index("ix_app_passwords_secret", table_name="app_passwords")
    with op.batch_alter_table("app_passwords") as batch:
        batch.drop_column("networks")
    op.drop_table("token_cutoffs")
    op.drop_index("ix_revoked_tokens_expiry", table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
