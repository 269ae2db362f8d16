"""SQLite: the FTS5 index takes new `search_text` rows once per transaction, not per row.

The trigger that indexed each row as it was inserted ran FTS5 inside a statement
savepoint, and FTS5 writes its pending terms out at every savepoint: one small segment per
message, and twice the cost of indexing a delivery group's messages together. Now
`store.fulltext.catch_up` indexes, before the transaction commits, every row after
`search_fts_mark.through` (the rows up to it are indexed) and moves the mark. The delete
trigger takes a row out of the index only when it was in it, and keeps the mark at or below
the highest remaining id, so an id SQLite hands out again is indexed as new.

PostgreSQL has no FTS5 table (its pg_trgm index is kept by PostgreSQL): nothing changes.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_HIGHEST = "(SELECT coalesce(max(id), 0) FROM search_text)"
_DROPPED = (
    "CREATE TRIGGER search_text_dropped AFTER DELETE ON search_text BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, text) SELECT 'delete', old.id, old.text "
    "WHERE old.id <= (SELECT through FROM search_fts_mark); "
    f"UPDATE search_fts_mark SET through = {_HIGHEST} WHERE through > {_HIGHEST}; END")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER search_text_indexed")
    op.execute("DROP TRIGGER search_text_dropped")
    op.execute("CREATE TABLE search_fts_mark (through INTEGER NOT NULL)")
    op.execute(f"INSERT INTO search_fts_mark (through) SELECT {_HIGHEST}")
    op.execute(_DROPPED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("INSERT INTO search_fts(rowid, text) SELECT id, text FROM search_text "
               "WHERE id > (SELECT through FROM search_fts_mark) ORDER BY id")
    op.execute("DROP TRIGGER search_text_dropped")
    op.execute("DROP TABLE search_fts_mark")
    op.execute("CREATE TRIGGER search_text_indexed AFTER INSERT ON search_text BEGIN "
               "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END")
    op.execute("CREATE TRIGGER search_text_dropped AFTER DELETE ON search_text BEGIN "
               "INSERT INTO search_fts(search_fts, rowid, text) "
               "VALUES ('delete', old.id, old.text); END")
