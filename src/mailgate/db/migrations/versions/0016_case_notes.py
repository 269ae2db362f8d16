"""Notes added to a case after it was opened (the console's and `cases.add_note`'s), and an
index on the cases of one account (the console's account page lists them).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_case_notes_case", "case_notes", ["case_id", "id"])
    op.create_index("ix_cases_account", "cases", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_cases_account", table_name="cases")
    op.drop_index("ix_case_notes_case", table_name="case_notes")
    op.drop_table("case_notes")
