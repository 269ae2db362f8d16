"""SORT and THREAD keys kept per blob (RFC 5256, RFC 5957).

Adds `blobs.sort_from`, `sort_to`, `sort_cc`, `sort_display_from`, `sort_display_to`,
`sort_subject`, `subject_is_reply`, `message_id` and `thread_refs`, and fills them for the
mail already stored by parsing each message's header from its file (References is in no
stored column), in batches of `BATCH` rows: memory stays bounded whatever the store's size.
New mail gets them at delivery (`store.messages`). The blob directory comes from
`migrate(engine, blob_dir)`; without it a database that holds mail is refused.

Revision ID: 0006
Revises: 0005
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from mailgate.mime import SortKeys, parse
from mailgate.store.blobs import BlobStore
from mailgate.store.ordering import key_columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 500
STRINGS = ("sort_from", "sort_to", "sort_cc", "sort_display_from", "sort_display_to",
           "sort_subject")


def upgrade() -> None:
    for name in STRINGS:
        op.add_column("blobs", sa.Column(name, sa.Text(), nullable=False, server_default=""))
    op.add_column("blobs", sa.Column("subject_is_reply", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("blobs", sa.Column("message_id", sa.Text(), nullable=True))
    op.add_column("blobs", sa.Column("thread_refs", sa.Text(), nullable=False,
                                     server_default=""))
    _fill_sort_keys()


def _fill_sort_keys() -> None:
    bind = op.get_bind()
    blobs = sa.table("blobs", sa.column("digest", sa.String), sa.column("header_size", sa.Integer),
                     *(sa.column(name) for name in (*STRINGS, "subject_is_reply", "message_id",
                                                    "thread_refs")))
    if bind.execute(sa.select(blobs.c.digest).limit(1)).first() is None:
        return
    blob_dir = context.config.attributes.get("blob_dir")
    if blob_dir is None:
        raise RuntimeError("migration 0006 reads the stored messages: run it through "
                           "`mailgate init` or `mailgate serve`, which know the blob directory")
    store = BlobStore(Path(blob_dir))
    names = list(key_columns(SortKeys()))
    update = sa.update(blobs).where(blobs.c.digest == sa.bindparam("d")).values(
        {name: sa.bindparam(f"k_{name}") for name in names})
    last = ""
    while rows := bind.execute(sa.select(blobs.c.digest, blobs.c.header_size)
                               .where(blobs.c.digest > last)
                               .order_by(blobs.c.digest).limit(BATCH)).all():
        last = rows[-1].digest
        bind.execute(update, [
            {"d": digest, **{f"k_{name}": value for name, value in key_columns(
                parse(_header(store, digest, size)).sort_keys).items()}}
            for digest, size in rows])


def _header(store: BlobStore, digest: str, size: int) -> bytes:
    """The header of a stored message; a lost file reads as an empty header."""
    try:
        with open(store.path(digest), "rb") as file:
            return file.read(size)
    except OSError:
        return b""


def downgrade() -> None:
    for name in ("thread_refs", "message_id", "subject_is_reply", *reversed(STRINGS)):
        op.drop_column("blobs", name)
