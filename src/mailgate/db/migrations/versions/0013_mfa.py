"""Multi-factor authentication: which plans and departments require it
(`mfa_requirements`), each account's TOTP authenticator (`totp_factors`, the secret sealed
with DIR/mfa.key), recovery codes (`recovery_codes`, keyed hashes), WebAuthn authenticators
(`webauthn_credentials`) and the open WebAuthn challenges (`webauthn_challenges`). Only new
tables.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _account() -> sa.Column:
    return sa.Column("account_id", sa.Integer(),
                     sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "mfa_requirements",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("scope_id", sa.Integer(), primary_key=True),
    )
    op.create_table(
        "totp_factors",
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("confirmed_at", sa.Float(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_failure_at", sa.Float(), nullable=True),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        _account(),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_recovery_codes_account_hash", "recovery_codes",
                    ["account_id", "code_hash"])
    op.create_table(
        "webauthn_credentials",
        sa.Column("id", sa.Integer(), primary_key=True),
        _account(),
        sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_webauthn_credentials_account", "webauthn_credentials", ["account_id"])
    op.create_table(
        "webauthn_challenges",
        sa.Column("account_id", sa.Integer(),
                  sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("ceremony", sa.String(16), primary_key=True),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webauthn_challenges")
    op.drop_index("ix_webauthn_credentials_account", table_name="webauthn_credentials")
    op.drop_table("webauthn_credentials")
    op.drop_index("ix_recovery_codes_account_hash", table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("totp_factors")
    op.drop_table("mfa_requirements")
