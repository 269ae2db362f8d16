"""An index on the audit log by account, so an account's own recent sign-ins (the
self-service page) are one index range scan however long the log grows.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_account", "audit_log", ["account", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_account", table_name="audit_log")
