"""The OAuth authorization server: operator-registered clients, authorization codes, device
codes (RFC 8628) and refresh-token families with rotation.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("secret_hash", sa.String(200), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(200), primary_key=True),
        sa.Column("client_id", sa.String(64),
                  sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), nullable=False),
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("auth_time", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "oauth_device_codes",
        sa.Column("device_code_hash", sa.String(200), primary_key=True),
        sa.Column("user_code_hash", sa.String(200), nullable=False, unique=True),
        sa.Column("client_id", sa.String(64),
                  sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
        sa.Column("auth_time", sa.Float(), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", sa.Float(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "oauth_refresh_families",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("client_id", sa.String(64),
                  sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), nullable=False),
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("auth_time", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_oauth_refresh_families_account", "oauth_refresh_families",
                    ["account_id"])
    op.create_table(
        "oauth_refresh_tokens",
        sa.Column("token_hash", sa.String(200), primary_key=True),
        sa.Column("family_id", sa.String(32),
                  sa.ForeignKey("oauth_refresh_families.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("access_token_id", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("rotated_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_oauth_refresh_tokens_family", "oauth_refresh_tokens", ["family_id"])


def downgrade() -> None:
    op.drop_index("ix_oauth_refresh_tokens_family", table_name="oauth_refresh_tokens")
    op.drop_table("oauth_refresh_tokens")
    op.drop_index("ix_oauth_refresh_families_account", table_name="oauth_refresh_families")
    op.drop_table("oauth_refresh_families")
    op.drop_table("oauth_device_codes")
    op.drop_table("oauth_codes")
    op.drop_table("oauth_clients")
