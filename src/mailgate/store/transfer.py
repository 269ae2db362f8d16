"""What a session changes in folders: STORE, EXPUNGE, COPY, MOVE and APPEND.

Set-based: each operation issues a fixed number of statements whatever the number of
messages (one SELECT of the rows, executemany for the changes). The caller owns the
transaction (`svc.engine.begin()`), except `append`, which writes the message files first
and then commits in its own transaction. Nothing is destroyed: EXPUNGE and MOVE leave the
UIDs in `expunged_uids` for QRESYNC and the other sessions' polls, and expunged messages
wait in Recoverable Items (SPEC §8).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select, update

from mailgate.db.schema import folders, message_structure, messages
from mailgate.service import Service
from mailgate.store import flags as flagset
from mailgate.store.flags import FlagOperation, has_flag
from mailgate.store.folders import RECOVERABLE, folder_id
from mailgate.store.mailboxes import find_mailbox
from mailgate.store.messages import (
    Incoming,
    NewMessage,
    blob_store,
    insert_messages,
    lock_folders,
    move_where,
    store_into,
    write_message,
)
from mailgate.store.selected import MessageState
from mailgate.store.uidsets import UidSet


@dataclass(frozen=True)
class StoreResult:
    """STORE: the state of every matched message that passed UNCHANGEDSINCE (changed or
    not), and the UIDs that failed it (RFC 7162 [MODIFIED])."""

    stored: list[MessageState]
    modified: list[int]
    highestmodseq: int


@dataclass(frozen=True)
class CopyResult:
    """COPYUID / APPENDUID (RFC 4315): source and destination UIDs, pairwise."""

    uidvalidity: int
    source_uids: list[int]
    destination_uids: list[int]


def store_flags(conn: Connection, folder: int, uids: UidSet, operation: FlagOperation,
                flags: list[str], unchanged_since: int | None = None) -> StoreResult:
    """STORE / UID STORE [FLAGS|+FLAGS|-FLAGS] (UNCHANGEDSINCE n).

    Every message whose flags change gets one new MODSEQ, the folder's HIGHESTMODSEQ moves
    once; a message the STORE leaves as it was keeps its MODSEQ.
    """
    wanted = flagset.canonical(flags)
    lock_folders(conn, [folder])
    rows = conn.execute(select(messages.c.id, messages.c.uid, messages.c.flags,
                               messages.c.modseq)
                        .where(messages.c.folder_id == folder, uids.condition(messages.c.uid))
                        .order_by(messages.c.uid)).all()
    modified = [int(r.uid) for r in rows
                if unchanged_since is not None and r.modseq > unchanged_since]
    passed = [r for r in rows if unchanged_since is None or r.modseq <= unchanged_since]
    outcome: dict[str, str | None] = {}  # stored flags -> new flags, None if unchanged
    for stored in {r.flags for r in passed}:
        new = flagset.apply(stored, operation, wanted)
        outcome[stored] = None if flagset.same(stored, new) else new
    changing = [(r.id, new) for r in passed if (new := outcome[r.flags]) is not None]
    if not changing:
        highest = int(conn.execute(select(folders.c.highestmodseq)
                                   .where(folders.c.id == folder)).scalar_one())
    else:
        highest = int(conn.execute(update(folders).where(folders.c.id == folder).values(
            highestmodseq=folders.c.highestmodseq + 1).returning(folders.c.highestmodseq))
            .scalar_one())
        conn.execute(update(messages).where(messages.c.id == bindparam("mid")).values(
            flags=bindparam("new_flags"), modseq=highest),
            [{"mid": mid, "new_flags": new} for mid, new in changing])
    return StoreResult([MessageState(int(r.uid), r.flags, int(r.modseq))
                        if (new := outcome[r.flags]) is None
                        else MessageState(int(r.uid), new, highest)
                        for r in passed], modified, highest)


def expunge(conn: Connection, account_id: int, folder: int, uids: UidSet | None,
            now: float) -> list[int]:
    """EXPUNGE (every \\Deleted message) or UID EXPUNGE (those also in `uids`): the
    messages go to Recoverable Items; returns their UIDs, ascending."""
    condition = (messages.c.folder_id == folder) & has_flag("\\Deleted")
    if uids is not None:
        condition = condition & uids.condition(messages.c.uid)
    moved = move_where(conn, condition, folder_id(conn, account_id, RECOVERABLE), now,
                       to_recoverable=True, sources=[folder])
    return [old for old, _ in moved]


def copy(conn: Connection, account_id: int, folder: int, uids: UidSet, destination: str
         ) -> CopyResult:
    """COPY / UID COPY to a folder by name (MailboxNotFound: the door says [TRYCREATE]).
    Flags, internal date and the message file are shared; blob references counted; the
    copies get their own `message_structure` rows."""
    target = find_mailbox(conn, account_id, destination)
    structure = [c for c in message_structure.c if c.name != "message_id"]
    rows = conn.execute(select(messages.c.uid, messages.c.digest, messages.c.size,
                               messages.c.internal_date, messages.c.flags, *structure)
                        .join(message_structure, message_structure.c.message_id == messages.c.id)
                        .where(messages.c.folder_id == folder, uids.condition(messages.c.uid))
                        .order_by(messages.c.uid)).all()
    if not rows:
        return CopyResult(target.uidvalidity, [], [])
    first, _, uidvalidity = insert_messages(conn, target.id, [
        NewMessage(r.digest, int(r.size), float(r.internal_date), r.flags,
                   {c.name: r._mapping[c.name] for c in structure}) for r in rows])
    return CopyResult(uidvalidity, [int(r.uid) for r in rows],
                      list(range(first, first + len(rows))))


def move(conn: Connection, account_id: int, folder: int, uids: UidSet, destination: str,
         now: float) -> CopyResult:
    """MOVE / UID MOVE (RFC 6851): atomic, the source remembers the UIDs as expunged."""
    target = find_mailbox(conn, account_id, destination)
    moved = move_where(conn, (messages.c.folder_id == folder) & uids.condition(messages.c.uid),
                       target.id, now, to_recoverable=False, sources=[folder])
    return CopyResult(target.uidvalidity, [old for old, _ in moved],
                      [new for _, new in moved])


def append(svc: Service, account_id: int, destination: str, items: list[Incoming]
           ) -> CopyResult:
    """APPEND / MULTIAPPEND (RFC 3502): all messages or none, durable before it returns.

    The files are written and made durable before the one transaction that
    makes them visible; a refusal (too large, no such folder, bad flag) stores nothing
    visible. Returns APPENDUID's UIDVALIDITY and UIDs.
    """
    checked = [Incoming(i.raw, flagset.canonical(i.flags), i.internal_date) for i in items]
    with svc.reader.connect() as conn:
        find_mailbox(conn, account_id, destination)
    store = blob_store(svc)
    limit = int(svc.settings.get("storage", "max_message_bytes"))
    one = len(checked) == 1  # one file: fsync it; several: one sync of the filesystem
    written = [write_message(store, limit, item.raw, durable=one) for item in checked]
    if not one:
        store.sync()
    now = svc.clock()
    with svc.engine.begin() as conn:
        target = find_mailbox(conn, account_id, destination)
        stored = store_into(conn, target.id, target.name, [
            (digest, parsed, item)
            for (digest, _, parsed), item in zip(written, checked, strict=True)], now)
    uidvalidity = stored[0].uidvalidity if stored else target.uidvalidity
    return CopyResult(uidvalidity, [], [s.uid for s in stored])
