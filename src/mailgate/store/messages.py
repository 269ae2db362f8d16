"""Putting messages in and moving them: delivery, POP deletes, Recoverable Items (SPEC §8).

Durable before acknowledged: the blob is on disk (fsynced) before the row that makes it
visible is committed, so a crash at any point leaves either nothing visible or the whole
message; an orphaned blob file is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, func, select, update

from mailgate import mime
from mailgate.db.schema import blobs, expunged_uids, folders, message_structure, messages
from mailgate.directory.errors import DirectoryError, NotFound
from mailgate.directory.views import account_row, effective_state
from mailgate.mime.dates import sent_date
from mailgate.service import Service
from mailgate.store import fulltext
from mailgate.store.blobs import BlobStore
from mailgate.store.folders import RECOVERABLE, folder_id
from mailgate.store.ordering import key_columns
from mailgate.store.sql import insert_ignore, literal_in


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
    uidvalidity: int


@dataclass(frozen=True)
class NewMessage:
    """A message row to add to a folder (its blob row exists already), with its
    `message_structure` columns (`structure_of`, or a copied message's)."""

    digest: str
    size: int
    internal_date: float
    flags: str  # stored form, space-separated
    structure: dict[str, object]


def blob_store(svc: Service) -> BlobStore:
    return BlobStore(svc.settings.blob_dir)


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
    sent = sent_date(parsed.date)
    return {"digest": digest, "size": parsed.size, "subject": parsed.subject[:1000], "refs": 0,
            "sent_date": sent[0] if sent else None, "sent_tz": sent[1] if sent else None,
            **key_columns(parsed.sort_keys)}


def structure_of(parsed: mime.ParsedMessage) -> dict[str, object]:
    """A new message's `message_structure` columns (all but its id)."""
    return {"header_size": parsed.header_size, "envelope": parsed.envelope,
            "bodystructure": parsed.bodystructure, "body": parsed.body,
            "parts": json.dumps(parsed.parts, separators=(",", ":"))}


# The statements of every delivery, built once: a statement object remembers its cache key,
# so running it again skips building the expression and its key (most of the Python time
# of a small insert).
_ALLOCATE = update(folders).where(folders.c.id == bindparam("folder")).values(
    uidnext=folders.c.uidnext + bindparam("count"),
    highestmodseq=folders.c.highestmodseq + 1,
).returning(folders.c.uidnext, folders.c.highestmodseq, folders.c.uidvalidity)
_NEW_IDS = select(messages.c.id).where(
    messages.c.folder_id == bindparam("folder"),
    messages.c.uid.between(bindparam("first"), bindparam("last"))).order_by(messages.c.uid)
_INSERT_MESSAGES = messages.insert()
_INSERT_STRUCTURE = message_structure.insert()
_COUNT_REFS = update(blobs).where(blobs.c.digest == bindparam("d")).values(
    refs=blobs.c.refs + bindparam("n"))


def _allocate(conn: Connection, folder: int, count: int) -> tuple[int, int, int]:
    """Reserve `count` UIDs and one MODSEQ: (first uid, modseq, uidvalidity)."""
    row = conn.execute(_ALLOCATE, {"folder": folder, "count": count}).one()
    return int(row.uidnext) - count, int(row.highestmodseq), int(row.uidvalidity)


def insert_messages(conn: Connection, folder: int, new: list[NewMessage]
                    ) -> tuple[int, int, int]:
    """Add message rows to a folder with consecutive new UIDs in the order given, one
    blob reference and one `message_structure` row each; returns (first uid, modseq,
    uidvalidity). Five statements whatever the count."""
    first, modseq, uidvalidity = _allocate(conn, folder, len(new))
    conn.execute(_INSERT_MESSAGES, [
        {"folder_id": folder, "uid": first + i, "modseq": modseq, "digest": m.digest,
         "size": m.size, "internal_date": m.internal_date, "flags": m.flags,
         "pop_uidl": f"{uidvalidity:08x}{first + i:08x}{m.digest[:8]}",
         "deleted_at": None, "origin_folder_id": None}
        for i, m in enumerate(new)])
    ids = conn.execute(_NEW_IDS, {"folder": folder, "first": first,
                                  "last": first + len(new) - 1}).scalars().all()
    conn.execute(_INSERT_STRUCTURE, [
        {"message_id": message_id, **m.structure}
        for message_id, m in zip(ids, new, strict=True)])
    _count_refs(conn, [m.digest for m in new], +1)
    return first, modseq, uidvalidity


def _count_refs(conn: Connection, digests: list[str], sign: int) -> None:
    """Add (sign=+1) or drop (-1) one blob reference per message row, one executemany."""
    counts: dict[str, int] = {}
    for digest in digests:
        counts[digest] = counts.get(digest, 0) + 1
    conn.execute(_COUNT_REFS, [{"d": d, "n": sign * n} for d, n in counts.items()])


def store_into(conn: Connection, folder: int, folder_name: str,
               items: list[tuple[str, mime.ParsedMessage, Incoming]], now: float
               ) -> list[Stored]:
    """Make already-written (and synced) blobs visible in one folder (see `store_placed`)."""
    if not items:
        return []
    first, uidvalidity = store_placed(conn, [(folder, *item) for item in items], now)[folder]
    return [Stored(folder_name, first + i, digest, parsed.size, uidvalidity)
            for i, (digest, parsed, _) in enumerate(items)]


Placed = tuple[int, str, mime.ParsedMessage, Incoming]  # folder id, digest, parsed, incoming


def store_placed(conn: Connection, placed: list[Placed], now: float
                 ) -> dict[int, tuple[int, int]]:
    """Make already-written (and synced) blobs visible, each in its folder, in the order
    given, in a fixed number of statements per folder (the deliveries of a group commit
    together); returns each folder's (first new UID, UIDVALIDITY). Inside a savepoint the
    full-text index is left for the savepoint's owner to catch up (`fulltext.catch_up`, as
    the group commit does once for all its deliveries)."""
    insert_ignore(conn, blobs, list({d: _blob_row(d, p) for _, d, p, _ in placed}.values()))
    fulltext.index(conn, [(d, p.search) for _, d, p, _ in placed])
    by_folder: dict[int, list[NewMessage]] = {}
    for folder, digest, parsed, incoming in placed:
        by_folder.setdefault(folder, []).append(NewMessage(
            digest, parsed.size, incoming.internal_date or now, " ".join(incoming.flags),
            structure_of(parsed)))
    marks = {}
    for folder, new in sorted(by_folder.items()):  # folder id order, as `lock_folders`
        first, _, uidvalidity = insert_messages(conn, folder, new)
        marks[folder] = (first, uidvalidity)
    if not conn.in_nested_transaction():
        # last: FTS5's segment merges free pages, which the message rows would otherwise
        # take (in falling order), scattering the rows a FETCH reads in sequence
        fulltext.catch_up(conn)
    return marks


def store_prepared(conn: Connection, account_id: int, folder_name: str,
                   items: list[tuple[str, mime.ParsedMessage, Incoming]], now: float,
                   create_folder: bool = False) -> list[Stored]:
    """Make already-written blobs visible in one folder, in one transaction."""
    if not items:
        return []
    folder = folder_id(conn, account_id, folder_name, create=create_folder, now=now)
    return store_into(conn, folder, folder_name, items, now)


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


def lock_folders(conn: Connection, ids: Iterable[int]) -> None:
    """Hold these folders' rows until commit, always in id order, so that concurrent
    changes to one folder queue instead of deadlocking. (SQLite's writers already hold
    the database's one write lock: nothing to do.)"""
    if conn.dialect.name == "postgresql":
        conn.execute(select(folders.c.id).where(folders.c.id.in_(sorted(set(ids))))
                     .order_by(folders.c.id).with_for_update())


def move_where(conn: Connection, condition: ColumnElement[bool], target: int, now: float, *,
               to_recoverable: bool, sources: list[int] | None = None) -> list[tuple[int, int]]:
    """Move the messages matching `condition` to `target` with fresh UIDs (in source UID
    order), keeping flags and POP UIDL; returns (old uid, new uid) pairs.

    Each source folder gets one new MODSEQ and remembers the UIDs that left it
    (`expunged_uids`) for QRESYNC and the selected-folder poll. A bounded number of
    statements: one UPDATE per source folder, executemany for the rows.
    """
    if sources is None:
        sources = [int(f) for f in conn.execute(
            select(messages.c.folder_id).where(condition).distinct()).scalars()]
    if not sources:
        return []
    lock_folders(conn, [*sources, target])
    rows = conn.execute(select(messages.c.id, messages.c.folder_id, messages.c.uid)
                        .where(condition, messages.c.folder_id.in_(sources))
                        .order_by(messages.c.folder_id, messages.c.uid)).all()
    if not rows:
        return []
    first, modseq, _ = _allocate(conn, target, len(rows))
    conn.execute(update(messages).where(messages.c.id == bindparam("mid")).values(
        folder_id=target, uid=bindparam("new_uid"), modseq=modseq,
        deleted_at=now if to_recoverable else None,
        origin_folder_id=bindparam("origin")), [
        {"mid": r.id, "new_uid": first + i, "origin": r.folder_id if to_recoverable else None}
        for i, r in enumerate(rows)])
    left_at = {source: int(conn.execute(
        update(folders).where(folders.c.id == source)
        .values(highestmodseq=folders.c.highestmodseq + 1)
        .returning(folders.c.highestmodseq)).scalar_one())
        for source in sorted({r.folder_id for r in rows})}
    conn.execute(expunged_uids.insert(), [
        {"folder_id": r.folder_id, "uid": r.uid, "modseq": left_at[r.folder_id]} for r in rows])
    return [(int(r.uid), first + i) for i, r in enumerate(rows)]


def to_recoverable(conn: Connection, account_id: int, message_ids: list[int],
                   now: float) -> int:
    """POP DELE / IMAP expunge: never destroy, keep in Recoverable Items for the retention."""
    bin_ = folder_id(conn, account_id, RECOVERABLE)
    owned = select(folders.c.id).where(folders.c.account_id == account_id,
                                       folders.c.id != bin_)
    return len(move_where(conn, and_(messages.c.id.in_(literal_in(message_ids)),
                                     messages.c.folder_id.in_(owned)),
                          bin_, now, to_recoverable=True))


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
                   func.coalesce(origin.c.name, "INBOX").label("folder"),
                   origin.c.id.label("origin_id"))
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


def restore_recoverable(svc: Service, address: str, ids: list[int] | None = None,
                        recorded: Callable[[Connection, str, int], None] | None = None) -> int:
    """Bring messages back to the folder they were deleted from (INBOX if it is gone);
    `recorded(conn, address, count)` audits it in the same transaction."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        items = conn.execute(_recoverable_query(row.id, now - svc.retention)).all()
        asked = set(ids or ())
        wanted = [i for i in items if ids is None or i.id in asked]
        if ids is not None and len(wanted) != len(set(ids)):
            missing = sorted(set(ids) - {i.id for i in wanted})
            raise NotFound(f"no recoverable message {missing[0]} for {row.address}")
        bin_ = folder_id(conn, row.id, RECOVERABLE)
        inbox = None
        by_target: dict[int, list[int]] = {}
        for item in wanted:
            if item.origin_id is None and inbox is None:
                inbox = folder_id(conn, row.id, "INBOX")
            by_target.setdefault(int(item.origin_id or inbox), []).append(item.id)
        for target, moved in by_target.items():
            move_where(conn, messages.c.id.in_(literal_in(moved)), target, now,
                       to_recoverable=False, sources=[bin_])
        if recorded is not None:
            recorded(conn, row.address, len(wanted))
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
        conn.execute(delete(messages).where(
            messages.c.id.in_(literal_in([d.id for d in doomed]))))
        _count_refs(conn, [d.digest for d in doomed], -1)
        gone = [r for r in conn.execute(select(blobs.c.digest).where(and_(
            blobs.c.digest.in_(literal_in(list({d.digest for d in doomed}))),
            blobs.c.refs <= 0))).scalars()]
        conn.execute(delete(blobs).where(blobs.c.digest.in_(literal_in(gone))))
    for digest in gone:
        store.remove(digest)
    return len(doomed)
