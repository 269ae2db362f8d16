"""FETCH's structure columns move from `blobs` to `message_structure`, one narrow row per
message row keyed by its id (db/schema.py says why: a cold FETCH read thousands of pages
scattered among the wide `blobs` rows).

The rows of the messages already stored are copied from their blob rows in one INSERT ...
SELECT (a folder's rows end up together, in message id order), then the columns leave
`blobs`. Downgrade puts them back from any one message of each blob.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COLUMNS = ("header_size", "envelope", "bodystructure", "body", "parts")


def upgrade() -> None:
    op.create_table(
        "message_structure",
        sa.Column("message_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("header_size", sa.Integer(), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("bodystructure", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    listed = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO message_structure (message_id, {listed}) "
               f"SELECT m.id, {', '.join(f'b.{c}' for c in COLUMNS)} "
               "FROM messages m JOIN blobs b ON b.digest = m.digest ORDER BY m.id")
    for column in COLUMNS:  # SQLite >= 3.35 and PostgreSQL both drop a column in place
        op.execute(f"ALTER TABLE blobs DROP COLUMN {column}")


def downgrade() -> None:
    op.add_column("blobs", sa.Column("header_size", sa.Integer(), nullable=False,
                                     server_default="0"))
    for column in COLUMNS[1:]:
        op.add_column("blobs", sa.Column(column, sa.Text(), nullable=False, server_default=""))
    for column in COLUMNS:
        op.execute(f"UPDATE blobs SET {column} = (SELECT s.{column} FROM message_structure s "
                   "JOIN messages m ON m.id = s.message_id WHERE m.digest = blobs.digest "
                   "ORDER BY m.id LIMIT 1) WHERE EXISTS (SELECT 1 FROM messages m "
                   "WHERE m.digest = blobs.digest)")
    op.drop_table("message_structure")
