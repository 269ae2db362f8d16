"""What a session with a folder selected reads: the SELECT snapshot, FETCH rows, message
bytes and sections, and what changed since a point (UIDNEXT, HIGHESTMODSEQ).

Change visibility across sessions and processes: every change to a folder's messages
(delivery, APPEND, COPY/MOVE in or out, STORE, EXPUNGE, POP delete) raises the folder's
HIGHESTMODSEQ in the same transaction; a delivery also raises UIDNEXT; a message leaving
the folder leaves its UID in `expunged_uids`. So a poll of the selected folders' rows
(`folder_marks`, one query for all of them) tells which changed, and `changes_since`
returns what changed in one (new UIDs, flag changes, vanished UIDs) in three queries.

Reads are robust at READ COMMITTED: the folder row is read before its messages and the
messages are bounded by the UIDNEXT read, so a change committed in between is reported
again by the next poll (harmless), never lost.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from itertools import starmap
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, null, select, update

from mailgate.db.schema import expunged_uids, folders, message_structure, messages
from mailgate.mime import parts_range
from mailgate.store import flags as flagset
from mailgate.store.blobs import BlobStore
from mailgate.store.errors import MailboxNotFound
from mailgate.store.sql import in_ids
from mailgate.store.uidsets import UidSet

FETCH_BATCH = 500  # rows per round trip while streaming
#: The `message_structure` columns FETCH may need, in FetchRow's order after the message
#: columns.
STRUCTURE_COLUMNS = ("envelope", "bodystructure", "body", "header_size", "parts")


@dataclass(frozen=True)
class FolderMark:
    """Where a folder stands: a change anywhere in it moves HIGHESTMODSEQ."""

    uidvalidity: int
    uidnext: int
    highestmodseq: int


@dataclass(frozen=True)
class Snapshot:
    """A folder at SELECT: UIDs ascending, with flags and MODSEQ at the same index."""

    mark: FolderMark
    uids: array[int]
    flags: list[str]  # stored form, see store.flags.split
    modseqs: array[int]

    def __len__(self) -> int:
        return len(self.uids)

    def first_unseen(self) -> int | None:
        """Message sequence number of the first message without \\Seen (SELECT's UNSEEN)."""
        for seq, stored in enumerate(self.flags, 1):
            if "\\Seen" not in flagset.split(stored):
                return seq
        return None


class FetchRow(NamedTuple):
    """One message for FETCH; the structure fields are None unless asked for. (A named
    tuple: a FETCH of a whole mailbox makes one per message, and a tuple is made in a
    fraction of a frozen dataclass's time.)"""

    uid: int
    flags: str
    modseq: int
    internal_date: float
    size: int
    digest: str
    envelope: str | None = None
    bodystructure: str | None = None
    body: str | None = None
    header_size: int | None = None
    parts: str | None = None  # JSON: section -> [header_start, body_start, end]


@dataclass(frozen=True, slots=True)
class MessageState:
    uid: int
    flags: str
    modseq: int


@dataclass(frozen=True)
class FolderChanges:
    """What happened in a folder since a (UIDNEXT, HIGHESTMODSEQ) point."""

    mark: FolderMark
    new: list[MessageState]  # UID at or above the old UIDNEXT (EXISTS)
    changed: list[MessageState]  # known UIDs whose flags changed (FETCH FLAGS MODSEQ)
    vanished: list[int]  # UIDs that left (EXPUNGE / VANISHED); may include unknown ones

    def __bool__(self) -> bool:
        return bool(self.new or self.changed or self.vanished)


def _mark(conn: Connection, folder_id: int) -> FolderMark:
    row = conn.execute(select(folders.c.uidvalidity, folders.c.uidnext,
                              folders.c.highestmodseq).where(folders.c.id == folder_id)).first()
    if row is None:
        raise MailboxNotFound("the selected mailbox was deleted")
    return FolderMark(int(row.uidvalidity), int(row.uidnext), int(row.highestmodseq))


def folder_marks(conn: Connection, folder_ids: Iterable[int]) -> dict[int, FolderMark]:
    """For a poll of every folder selected on this node: one query. A folder that was
    deleted is missing from the result."""
    wanted = sorted(set(folder_ids))
    if not wanted:
        return {}
    return {int(r.id): FolderMark(int(r.uidvalidity), int(r.uidnext), int(r.highestmodseq))
            for r in conn.execute(select(folders.c.id, folders.c.uidvalidity, folders.c.uidnext,
                                         folders.c.highestmodseq)
                                  .where(in_ids(conn, folders.c.id, wanted)))}


def snapshot(conn: Connection, folder_id: int) -> Snapshot:
    """SELECT / EXAMINE: two queries, the messages streamed into compact arrays."""
    mark = _mark(conn, folder_id)
    uids, modseqs, stored = array("Q"), array("Q"), []
    rows = conn.execute(select(messages.c.uid, messages.c.flags, messages.c.modseq)
                        .where(messages.c.folder_id == folder_id,
                               messages.c.uid < mark.uidnext)
                        .order_by(messages.c.uid)
                        .execution_options(yield_per=5000))
    for uid, flags, modseq in rows:
        uids.append(uid)
        stored.append(flagset.join(flags.split()) if flags else "")
        modseqs.append(modseq)
    return Snapshot(mark, uids, stored, modseqs)


def fetch(conn: Connection, folder_id: int, uids: UidSet, *,
          structure: bool | Collection[str] = False, changed_since: int | None = None
          ) -> Iterator[FetchRow]:
    """FETCH rows in UID order: one SELECT, streamed (iterate while the connection is
    open). `structure` adds ENVELOPE, BODYSTRUCTURE, BODY and the part offsets (True), or
    the ones of `STRUCTURE_COLUMNS` it names (the others None); `changed_since` is
    CONDSTORE's CHANGEDSINCE."""
    wanted = STRUCTURE_COLUMNS if structure is True else tuple(structure or ())
    columns: list[ColumnElement[Any]] = [
        messages.c.uid, messages.c.flags, messages.c.modseq, messages.c.internal_date,
        messages.c.size, messages.c.digest]
    query = select(*columns)
    if wanted:
        query = select(*columns, *(message_structure.c[name] if name in wanted else null()
                                   for name in STRUCTURE_COLUMNS)).join(
            message_structure, message_structure.c.message_id == messages.c.id)
    query = query.where(messages.c.folder_id == folder_id, uids.condition(messages.c.uid))
    if changed_since is not None:
        query = query.where(messages.c.modseq > changed_since)
    result = conn.execute(query.order_by(messages.c.uid)
                          .execution_options(yield_per=FETCH_BATCH))
    for rows in result.partitions():
        yield from starmap(FetchRow, rows)


def section_range(row: FetchRow, section: str, partial: tuple[int, int] | None = None
                  ) -> tuple[int, int] | None:
    """Byte range of BODY[section]<start.length> in the message file, from the stored part
    offsets (fetch with structure=True): no parsing. None when there is no such part."""
    found = parts_range(json.loads(row.parts or "{}"), row.size, section)
    if found is None or partial is None:
        return found
    start, end = found
    first = min(start + partial[0], end)
    return first, min(first + partial[1], end)


def read_section(store: BlobStore, row: FetchRow, section: str,
                 partial: tuple[int, int] | None = None) -> bytes | None:
    """The bytes of BODY[section]<partial>: one seek and read of the message file.
    HEADER.FIELDS gives the whole header block; picking the fields is the door's job."""
    found = section_range(row, section, partial)
    return None if found is None else store.read_range(row.digest, *found)


def changes_since(conn: Connection, folder_id: int, uidnext: int, modseq: int
                  ) -> FolderChanges:
    """New messages (UID >= uidnext), flag changes (MODSEQ > modseq) and vanished UIDs, up
    to the returned mark exactly: the next call starts from it. (A folder's changes commit
    in MODSEQ order, since each holds the folder row, so everything up to the mark read is
    there to see.) MailboxNotFound when the folder was deleted."""
    mark = _mark(conn, folder_id)
    new: list[MessageState] = []
    changed: list[MessageState] = []
    if (mark.uidnext, mark.highestmodseq) == (uidnext, modseq):
        return FolderChanges(mark, new, changed, [])
    for uid, flags, row_modseq in conn.execute(
            select(messages.c.uid, messages.c.flags, messages.c.modseq)
            .where(messages.c.folder_id == folder_id, messages.c.uid < mark.uidnext,
                   (messages.c.uid >= uidnext)
                   | messages.c.modseq.between(modseq + 1, mark.highestmodseq))
            .order_by(messages.c.uid)):
        (new if uid >= uidnext else changed).append(MessageState(uid, flags, row_modseq))
    vanished = vanished_since(conn, folder_id, modseq, upto=mark.highestmodseq)
    return FolderChanges(mark, new, changed, vanished)


def vanished_since(conn: Connection, folder_id: int, modseq: int, uids: UidSet | None = None,
                   upto: int | None = None) -> list[int]:
    """UIDs that left the folder after `modseq` (QRESYNC VANISHED (EARLIER)), ascending."""
    query = select(expunged_uids.c.uid).where(expunged_uids.c.folder_id == folder_id,
                                              expunged_uids.c.modseq > modseq)
    if upto is not None:
        query = query.where(expunged_uids.c.modseq <= upto)
    if uids is not None:
        query = query.where(uids.condition(expunged_uids.c.uid))
    return [int(u) for u in conn.execute(query.order_by(expunged_uids.c.uid)).scalars()]


def claim_recent(conn: Connection, folder_id: int, below: int, claim: bool = True) -> int:
    """\\Recent (RFC 3501 §2.3.2): the first UID under `below` that no read-write session
    has seen; with `claim` (a read-write session) the UIDs up to `below` become its own
    recent messages, and no other session's. Run it in a write transaction to claim."""
    first = conn.execute(select(folders.c.recent_uid).where(folders.c.id == folder_id)
                         ).scalar()
    if first is None:
        raise MailboxNotFound("the selected mailbox was deleted")
    if claim and first < below:
        conn.execute(update(folders).where(folders.c.id == folder_id,
                                           folders.c.recent_uid < below)
                     .values(recent_uid=below))
    return min(int(first), below)
