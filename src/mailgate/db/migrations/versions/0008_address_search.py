"""SEARCH FROM/TO/CC/BCC on the normalised address lists: their rows for the mail already here.

The full-text index (`search_text`) gains, per message, one row per From, To, Cc and Bcc
field present, named ``address:from`` ..., holding the field's addresses written back in
the normalised form the address keys match (`mailgate.mime.addresstext`). New mail gets
them at delivery; this fills them in for the messages indexed before, which are those with
such a field row but no address row. Their files are read in batches of BATCH (bounded
memory) with a progress line on stderr (`indexing addresses 200/604 messages`, one per
tenth); the folder of the message files comes from `migrate(engine, blob_dir)`. No table
changes shape; downgrading drops the address rows.

Revision ID: 0008
Revises: 0007
"""

import logging
import sys

import sqlalchemy as sa
from alembic import context, op

from mailgate.mime.searchtext import ADDRESS_FIELDS, extract
from mailgate.store import fulltext
from mailgate.store.blobs import BlobStore

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 200
log = logging.getLogger("mailgate.migrations")

_rows = sa.table("search_text", sa.column("digest", sa.String), sa.column("field", sa.Text))


def upgrade() -> None:
    bind = op.get_bind()
    total = int(bind.execute(sa.select(sa.func.count()).select_from(
        _waiting("").subquery())).scalar_one())
    if not total:
        return
    blob_dir = context.config.attributes.get("blob_dir")
    if blob_dir is None:
        raise RuntimeError("migration 0008 indexes the addresses of the messages already "
                           "stored and needs their folder: migrate(engine, blob_dir)")
    store = BlobStore(blob_dir)
    done, missing, last, shown = 0, 0, "", -1
    while digests := list(bind.execute(_waiting(last).order_by("digest").limit(BATCH))
                          .scalars()):
        last = digests[-1]
        found = []
        for digest in digests:
            try:
                found.append((digest, extract(store.read(digest))))
            except OSError:
                missing += 1
        fulltext.index(bind, found)  # the rows there already are kept
        done += len(digests)
        if done * 10 // total != shown:  # one line per tenth
            shown = done * 10 // total
            print(f"indexing addresses {done}/{total} messages", file=sys.stderr, flush=True)
    if missing:
        log.warning("address search: %d message files could not be read; SEARCH "
                    "FROM/TO/CC/BCC does not find those messages", missing)


def _waiting(after: str) -> sa.Select[tuple[str]]:
    """Digests after `after` with a From/To/Cc/Bcc row but no address row."""
    other = _rows.alias("address_rows")
    indexed = sa.exists().where(other.c.digest == _rows.c.digest,
                                other.c.field.startswith(fulltext.ADDRESSES))
    return (sa.select(_rows.c.digest.label("digest")).distinct()
            .where(_rows.c.field.in_(ADDRESS_FIELDS), _rows.c.digest > after, ~indexed))


def downgrade() -> None:
    op.execute(sa.delete(_rows).where(_rows.c.field.startswith(fulltext.ADDRESSES)))
