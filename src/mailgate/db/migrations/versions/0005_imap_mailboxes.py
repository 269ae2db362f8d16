"""IMAP mailbox state: subscriptions, UIDVALIDITY counter, expunged UIDs, sent dates.

- `subscriptions` replaces `folders.subscribed` (a subscription may name no folder);
- `uidvalidity_counters` keeps UIDVALIDITY new for a re-created folder name;
- `expunged_uids` remembers which UIDs left a folder at which MODSEQ (QRESYNC VANISHED);
- `blobs.sent_date` / `sent_tz`, filled here from each stored ENVELOPE's date;
- an index on messages (folder_id, modseq) for "changed since".

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from mailgate.mime.dates import sent_date

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "name"),
    )
    op.execute("INSERT INTO subscriptions (account_id, name) "
               "SELECT account_id, name FROM folders WHERE subscribed")
    # Native DROP COLUMN (SQLite >= 3.35): a batch copy of `folders` would drop the old
    # table, and with foreign keys on that cascades into every message.
    op.execute("ALTER TABLE folders DROP COLUMN subscribed")

    op.create_table(
        "uidvalidity_counters",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.execute("INSERT INTO uidvalidity_counters (account_id, last) "
               "SELECT account_id, MAX(uidvalidity) FROM folders GROUP BY account_id")

    op.create_table(
        "expunged_uids",
        sa.Column("folder_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["folder_id"], ["folders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("folder_id", "uid"),
    )
    op.create_index("ix_expunged_folder_modseq", "expunged_uids", ["folder_id", "modseq"])
    op.create_index("ix_messages_folder_modseq", "messages", ["folder_id", "modseq"])

    op.add_column("blobs", sa.Column("sent_date", sa.Float(), nullable=True))
    # \Recent (RFC 3501): UIDs from here on have not been seen by a read-write session yet.
    op.add_column("folders", sa.Column("recent_uid", sa.BigInteger(), nullable=False,
                                       server_default="1"))
    op.execute("UPDATE folders SET recent_uid = uidnext")
    op.add_column("blobs", sa.Column("sent_tz", sa.Integer(), nullable=True))
    _fill_sent_dates()


def _fill_sent_dates() -> None:
    bind = op.get_bind()
    blobs = sa.table("blobs", sa.column("digest", sa.String), sa.column("envelope", sa.Text),
                     sa.column("sent_date", sa.Float), sa.column("sent_tz", sa.Integer))
    update = sa.update(blobs).where(blobs.c.digest == sa.bindparam("d")).values(
        sent_date=sa.bindparam("s"), sent_tz=sa.bindparam("z"))
    last = ""
    while rows := bind.execute(sa.select(blobs.c.digest, blobs.c.envelope)
                               .where(blobs.c.digest > last)
                               .order_by(blobs.c.digest).limit(BATCH)).all():
        last = rows[-1].digest
        found = [(digest, sent_date(envelope_date(envelope))) for digest, envelope in rows]
        dated = [{"d": d, "s": f[0], "z": f[1]} for d, f in found if f is not None]
        if dated:
            bind.execute(update, dated)


def envelope_date(envelope: str) -> str | None:
    """The first item of a stored ENVELOPE: NIL, a quoted string or a literal."""
    text = envelope[1:] if envelope.startswith("(") else envelope
    if text.startswith('"'):
        out, i = [], 1
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            out.append(text[i])
            i += 1
        return "".join(out)
    if text.startswith("{"):
        size, _, rest = text[1:].partition("}\r\n")
        if size.isdigit():
            return rest.encode()[:int(size)].decode(errors="replace")
    return None


def downgrade() -> None:
    op.execute("ALTER TABLE folders DROP COLUMN recent_uid")
    op.drop_column("blobs", "sent_tz")
    op.drop_column("blobs", "sent_date")
    op.drop_index("ix_messages_folder_modseq", table_name="messages")
    op.drop_index("ix_expunged_folder_modseq", table_name="expunged_uids")
    op.drop_table("expunged_uids")
    op.drop_table("uidvalidity_counters")
    op.add_column("folders", sa.Column("subscribed", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.execute("UPDATE folders SET subscribed = TRUE WHERE EXISTS (SELECT 1 FROM subscriptions "
               "s WHERE s.account_id = folders.account_id AND s.name = folders.name)")
    op.drop_table("subscriptions")
