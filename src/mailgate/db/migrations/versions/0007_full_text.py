"""Full-text index for IMAP SEARCH (store/fulltext.py), and the text of the mail already here.

- `search_text`: per blob, one row per header field name and one for the body (field "");
- SQLite: `search_fts`, an FTS5 table (trigram tokenizer, no positions: it only says which
  rows hold every trigram; the text is then checked) with `search_text` as external
  content, kept in step by triggers (also on the ON DELETE CASCADE from `blobs`);
- PostgreSQL: the pg_trgm extension and a GIN index on `search_text.text`; without the
  extension a log line says that searches scan the table instead.

Existing messages are read from their files in batches of BATCH (bounded memory), with a
progress line on stderr (`indexing 4 000/10 000 messages`). The folder of the message files
comes from `migrate(engine, blob_dir)`.

Revision ID: 0007
Revises: 0006
"""

import logging
import sqlite3
import sys

import sqlalchemy as sa
from alembic import context, op

from mailgate.mime.searchtext import extract
from mailgate.store import fulltext
from mailgate.store.blobs import BlobStore

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 200
log = logging.getLogger("mailgate.migrations")

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(text, content='search_text', "
    "content_rowid='id', tokenize='trigram case_sensitive 1', detail='none')",
    "CREATE TRIGGER search_text_indexed AFTER INSERT ON search_text BEGIN "
    "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER search_text_dropped AFTER DELETE ON search_text BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite and sqlite3.sqlite_version_info < (3, 34):
        raise ValueError(f"full-text search needs SQLite 3.34 or newer (the trigram "
                           f"tokenizer); this Python has SQLite {sqlite3.sqlite_version}")
    op.create_table(
        "search_text",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["digest"], ["blobs.digest"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest", "field", name="uq_search_text_digest_field"),
    )
    _index_existing(bind)  # before the trigram index: building it once is faster
    if sqlite:
        for statement in _SQLITE_FTS:
            op.execute(statement)
    elif _has_pg_trgm(bind):
        op.execute("CREATE INDEX ix_search_text_trigrams ON search_text "
                   "USING gin (text gin_trgm_ops)")
    else:
        log.warning("full-text search: the PostgreSQL extension pg_trgm is not available, "
                    "so SEARCH TEXT/BODY/HEADER scan the search_text table (ILIKE) instead "
                    "of using a trigram index; install it (postgresql-contrib) and run "
                    "CREATE EXTENSION pg_trgm; CREATE INDEX ix_search_text_trigrams ON "
                    "search_text USING gin (text gin_trgm_ops)")


def _has_pg_trgm(bind: sa.Connection) -> bool:
    """CREATE EXTENSION in a savepoint: a refusal (not installed, no right) must not abort
    the migration's transaction."""
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        return False
    return True


def _index_existing(bind: sa.Connection) -> None:
    blobs = sa.table("blobs", sa.column("digest", sa.String))
    total = int(bind.execute(sa.select(sa.func.count()).select_from(blobs)).scalar_one())
    if not total:
        return
    blob_dir = context.config.attributes.get("blob_dir")
    if blob_dir is None:
        raise RuntimeError("migration 0007 indexes the messages already stored and needs "
                           "their folder: migrate(engine, blob_dir)")
    store = BlobStore(blob_dir)
    progress = _Progress(total)
    done, missing, last = 0, 0, ""
    while digests := list(bind.execute(sa.select(blobs.c.digest).where(blobs.c.digest > last)
                                       .order_by(blobs.c.digest).limit(BATCH)).scalars()):
        last = digests[-1]
        found = []
        for digest in digests:
            try:
                found.append((digest, extract(store.read(digest))))
            except OSError:
                missing += 1
        fulltext.index(bind, found)
        done += len(digests)
        progress.show(done)
    progress.close()
    if missing:
        log.warning("full-text search: %d message files could not be read; those messages "
                    "are not found by SEARCH TEXT/BODY/HEADER", missing)


class _Progress:
    """`indexing 4 000/10 000 messages [#####.....]` on stderr: redrawn in place on a
    terminal, one line per tenth otherwise."""

    WIDTH = 30

    def __init__(self, total: int) -> None:
        self.total = total
        self.tty = sys.stderr.isatty()
        self.shown_tenth = -1

    def show(self, done: int) -> None:
        tenth = done * 10 // self.total
        if not self.tty and tenth == self.shown_tenth:
            return
        self.shown_tenth = tenth
        filled = done * self.WIDTH // self.total
        line = (f"indexing {_spaced(done)}/{_spaced(self.total)} messages "
                f"[{'#' * filled}{'.' * (self.WIDTH - filled)}]")
        sys.stderr.write(f"\r{line}" if self.tty else f"{line}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _spaced(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER search_text_dropped")
        op.execute("DROP TRIGGER search_text_indexed")
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_text")
