"""Putting messages in and moving them: delivery, POP deletes, Recoverable Items (SPEC §8).

Durable before acknowledged: the blob is on disk (fsynced) before the row that makes it
visible is committed, so a crash at any point leaves either nothing visible or the whole
message; an orphaned blob file is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mailgate import mime
from mailgate.db.schema import blobs, folders, messages
from mailgate.directory.errors import DirectoryError, NotFound
from mailgate.directory.views import account_row, effective_state
from mailgate.service import Service
from mailgate.store.blobs import BlobStore
from mailgate.store.folders import RECOVERABLE, folder_id

FLAG_ORDER = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")


class MessageRejected(DirectoryError):
    """Delivery refused (unknown or deactivated account, too large): nothing was stored."""

    def __init__(self, message: str, permanent: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Incoming:
    """One message to store, with the metadata an import keeps."""

    raw: bytes
    flags: tuple[str, ...] = ()
    internal_date: float | None = None


@dataclass(frozen=True)
class Stored:
    folder: str
    uid: int
    digest: str
    size: int


def blob_store(svc: Service) -> BlobStore:
    return BlobStore(svc.settings.blob_dir)


def _insert_ignore(conn: Connection, table, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT DO NOTHING, as one executemany (one compiled statement)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def write_message(store: BlobStore, limit: int, raw: bytes, durable: bool = True
                  ) -> tuple[str, bytes, mime.ParsedMessage]:
    """Normalise, parse and write one message; returns (digest, crlf bytes, parsed).

    With durable=False the caller must `store.sync()` before committing rows.
    """
    if len(raw) > limit:
        raise MessageRejected(f"message is {len(raw)} bytes; the limit is {limit}")
    data = mime.to_crlf(raw)
    parsed = mime.parse(data)
    return store.write(data, durable=durable), data, parsed


def prepare(svc: Service, raw: bytes) -> tuple[str, bytes, mime.ParsedMessage]:
    """`write_message` durably, into this data directory's store."""
    return write_message(blob_store(svc), int(svc.settings.get("storage", "max_message_bytes")),
                         raw)


def _blob_row(digest: str, parsed: mime.ParsedMessage) -> dict:  # type: ignore[type-arg]
    return {"digest": digest, "size": parsed.size, "header_size": parsed.header_size,
            "envelope": parsed.envelope, "bodystructure": parsed.bodystructure,
            "body": parsed.body, "parts": json.dumps(parsed.parts, separators=(",", ":")),
            "subject": parsed.subject[:1000], "refs": 0}


def _allocate(conn: Connection, folder: int, count: int) -> tuple[int, int, int]:
    """Reserve `count` UIDs and one MODSEQ: (first uid, modseq, uidvalidity)."""
    row = conn.execute(update(folders).where(folders.c.id == folder).values(
        uidnext=folders.c.uidnext + count, highestmodseq=folders.c.highestmodseq + 1,
    ).returning(folders.c.uidnext, folders.c.highestmodseq, folders.c.uidvalidity)).one()
    return int(row.uidnext) - count, int(row.highestmodseq), int(row.uidvalidity)


def store_prepared(conn: Connection, account_id: int, folder_name: str,
                   items: list[tuple[str, mime.ParsedMessage, Incoming]], now: float,
                   create_folder: bool = False) -> list[Stored]:
    """Make already-written blobs visible in one folder, in one transaction."""
    if not items:
        return []
    folder = folder_id(conn, account_id, folder_name, create=create_folder, now=now)
    _insert_ignore(conn, blobs, [_blob_row(d, p) for d, p, _ in items])
    first, modseq, uidvalidity = _allocate(conn, folder, len(items))
    rows, stored = [], []
    for offset, (digest, parsed, incoming) in enumerate(items):
        uid = first + offset
        rows.append({"folder_id": folder, "uid": uid, "modseq": modseq, "digest": digest,
                     "size": parsed.size, "internal_date": incoming.internal_date or now,
                     "flags": " ".join(incoming.flags),
                     "pop_uidl": f"{uidvalidity:08x}{uid:08x}{digest[:8]}",
                     "deleted_at": None, "origin_folder_id": None})
        stored.append(Stored(folder_name, uid, digest, parsed.size))
    conn.execute(messages.insert(), rows)
    counts: dict[str, int] = {}
    for digest, _, _ in items:
        counts[digest] = counts.get(digest, 0) + 1
    conn.execute(update(blobs).where(blobs.c.digest == bindparam("d")).values(
        refs=blobs.c.refs + bindparam("n")), [{"d": d, "n": n} for d, n in counts.items()])
    return stored


def recipient(conn: Connection, address: str, now: float) -> int:
    """The account id for inbound mail; deactivated or unknown accounts refuse (5.1.1)."""
    try:
        row = account_row(conn, address)
    except (NotFound, DirectoryError):
        raise MessageRejected(f"5.1.1 no such mailbox: {address}") from None
    if effective_state(row, now) == "deactivated":
        raise MessageRejected(f"5.1.1 mailbox {row.address} is deactivated")
    return int(row.id)


def deliver(svc: Service, address: str, raw: bytes, folder: str = "INBOX",
            flags: Iterable[str] = ()) -> Stored:
    """Inbound delivery (not gated by client doors, SPEC §1); returns once durable."""
    with svc.reader.connect() as conn:
        recipient(conn, address, svc.clock())
    digest, _, parsed = prepare(svc, raw)
    now = svc.clock()
    with svc.engine.begin() as conn:
        account_id = recipient(conn, address, now)
        return store_prepared(conn, account_id, folder,
                              [(digest, parsed, Incoming(raw, tuple(flags)))], now)[0]


@dataclass(frozen=True)
class MaildropItem:
    message_id: int
    uidl: str
    size: int
    digest: str


def maildrop(conn: Connection, account_id: int) -> list[MaildropItem]:
    """INBOX in UID order, as POP3 sees it at sign-in."""
    inbox = folder_id(conn, account_id, "INBOX")
    return [MaildropItem(r.id, r.pop_uidl, r.size, r.digest) for r in conn.execute(
        select(messages.c.id, messages.c.pop_uidl, messages.c.size, messages.c.digest)
        .where(messages.c.folder_id == inbox).order_by(messages.c.uid))]


def message_digest(conn: Connection, account_id: int, message_id: int) -> str:
    digest = conn.execute(select(messages.c.digest).join(
        folders, folders.c.id == messages.c.folder_id).where(
        messages.c.id == message_id, folders.c.account_id == account_id)).scalar()
    if digest is None:
        raise NotFound(f"no message {message_id}")
    return str(digest)


def _move(conn: Connection, ids: list[int], target: int, now: float, *,
          to_recoverable: bool) -> int:
    """Move messages to another folder with fresh UIDs, keeping their POP UIDL."""
    rows = conn.execute(select(messages.c.id, messages.c.folder_id, messages.c.origin_folder_id)
                        .where(messages.c.id.in_(ids)).order_by(messages.c.id)).all()
    if not rows:
        return 0
    first, modseq, _ = _allocate(conn, target, len(rows))
    for offset, row in enumerate(rows):
        values: dict[str, object] = {"folder_id": target, "uid": first + offset,
                                     "modseq": modseq}
        if to_recoverable:
            values.update(deleted_at=now, origin_folder_id=row.folder_id)
        else:
            values.update(deleted_at=None, origin_folder_id=None)
        conn.execute(update(messages).where(messages.c.id == row.id).values(**values))
    for source in {r.folder_id for r in rows}:
        conn.execute(update(folders).where(folders.c.id == source).values(
            highestmodseq=folders.c.highestmodseq + 1))
    return len(rows)


def to_recoverable(conn: Connection, account_id: int, message_ids: list[int],
                   now: float) -> int:
    """POP DELE / IMAP expunge: never destroy, keep in Recoverable Items for the retention."""
    owned = [r for r in conn.execute(select(messages.c.id).join(
        folders, folders.c.id == messages.c.folder_id).where(
        messages.c.id.in_(message_ids), folders.c.account_id == account_id,
        folders.c.name != RECOVERABLE)).scalars()]
    return _move(conn, owned, folder_id(conn, account_id, RECOVERABLE), now,
                 to_recoverable=True)


@dataclass(frozen=True)
class Recoverable:
    id: int
    folder: str
    subject: str
    deleted_at: float

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "folder": self.folder, "subject": self.subject,
                "deleted_at": self.deleted_at}


def _recoverable_query(account_id: int, since: float):  # type: ignore[no-untyped-def]
    origin = folders.alias("origin")
    bin_ = folders.alias("bin")
    return (select(messages.c.id, messages.c.deleted_at, blobs.c.subject,
                   func.coalesce(origin.c.name, "INBOX").label("folder"))
            .join(bin_, bin_.c.id == messages.c.folder_id)
            .join(blobs, blobs.c.digest == messages.c.digest)
            .outerjoin(origin, origin.c.id == messages.c.origin_folder_id)
            .where(bin_.c.account_id == account_id, bin_.c.name == RECOVERABLE,
                   messages.c.deleted_at >= since)
            .order_by(messages.c.deleted_at, messages.c.id))


def list_recoverable(svc: Service, address: str) -> list[Recoverable]:
    now = svc.clock()
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
        return [Recoverable(r.id, r.folder, r.subject, r.deleted_at) for r in conn.execute(
            _recoverable_query(row.id, now - svc.retention))]


def restore_recoverable(svc: Service, address: str, ids: list[int] | None = None) -> int:
    """Bring messages back to the folder they were deleted from (INBOX if it is gone)."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        items = conn.execute(_recoverable_query(row.id, now - svc.retention)).all()
        wanted = [i for i in items if ids is None or i.id in ids]
        if ids is not None and len(wanted) != len(set(ids)):
            missing = sorted(set(ids) - {i.id for i in wanted})
            raise NotFound(f"no recoverable message {missing[0]} for {row.address}")
        by_origin: dict[int, list[int]] = {}
        for item in wanted:
            origin = conn.execute(select(messages.c.origin_folder_id).where(
                messages.c.id == item.id)).scalar()
            exists = origin is not None and conn.execute(select(folders.c.id).where(
                folders.c.id == origin)).first() is not None
            target = origin if exists else folder_id(conn, row.id, "INBOX")
            by_origin.setdefault(int(target), []).append(item.id)
        for target, moved in by_origin.items():
            _move(conn, moved, target, now, to_recoverable=False)
        return len(wanted)


def purge_expired(svc: Service) -> int:
    """Destroy what stayed in Recoverable Items past the retention; drop unreferenced blobs."""
    cutoff = svc.clock() - svc.retention
    store = blob_store(svc)
    with svc.engine.begin() as conn:
        doomed = conn.execute(select(messages.c.id, messages.c.digest).where(
            messages.c.deleted_at.is_not(None), messages.c.deleted_at < cutoff)).all()
        if not doomed:
            return 0
        conn.execute(delete(messages).where(messages.c.id.in_([d.id for d in doomed])))
        for d in doomed:
            conn.execute(update(blobs).where(blobs.c.digest == d.digest).values(
                refs=blobs.c.refs - 1))
        gone = [r for r in conn.execute(select(blobs.c.digest).where(and_(
            blobs.c.digest.in_({d.digest for d in doomed}), blobs.c.refs <= 0))).scalars()]
        conn.execute(delete(blobs).where(blobs.c.digest.in_(gone)))
    for digest in gone:
        store.remove(digest)
    return len(doomed)

