"""What the webmail reads and changes, by message id: folder summaries, one page of a
folder (sorted, searched and paged in SQL), one message of the account, and flag, move and
delete by id.

Every function takes the account id and looks only at that account's visible folders (never
Recoverable Items), so another account's message id is simply not found. Changes go through
the same functions as IMAP (`transfer.store_flags`, `transfer.move`, `messages.move_where`),
so IMAP sessions see them as they see each other's: new MODSEQs, expunged UIDs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Row, case, func, select

from mailgate.db.schema import blobs, folders, message_structure, messages
from mailgate.directory.errors import NotFound
from mailgate.store import mailboxes
from mailgate.store.flags import FlagOperation
from mailgate.store.folders import RECOVERABLE, folder_id
from mailgate.store.messages import move_where, to_recoverable
from mailgate.store.search import Text, condition
from mailgate.store.transfer import move, store_flags
from mailgate.store.uidsets import UidSet

#: how a folder's messages may be ordered: name -> SQL key (ties broken by message id)
SORTS: dict[str, ColumnElement[object]] = {
    "received": messages.c.uid,
    "from": blobs.c.sort_display_from,
    "subject": blobs.c.sort_subject,
    "size": messages.c.size,
}
#: folders with a special use come first, in this order
_SPECIAL_ORDER = ("\\Drafts", "\\Sent", "\\Archive", "\\Junk", "\\Trash")
MAX_PAGE = 200


@dataclass(frozen=True)
class FolderSummary:
    name: str
    special_use: str | None
    messages: int
    unseen: int


@dataclass(frozen=True)
class Page:
    """One page of a folder: its rows (id, uid, flags, size, internal_date, subject, digest,
    header_size) and how many messages match in all."""

    folder: mailboxes.Folder
    total: int
    rows: list[Row]  # type: ignore[type-arg]


def folder_summaries(conn: Connection, account_id: int) -> list[FolderSummary]:
    """Every folder the account sees, with message and unread counts: INBOX, then the
    special folders, then the others by name. One query for the counts, over the account's
    messages' flags only (system flags are stored in their canonical spelling and no keyword
    holds a backslash, so `\\Seen` is matched as it is written)."""
    counts = {r.id: (int(r.messages), int(r.unseen)) for r in conn.execute(
        select(folders.c.id, func.count(messages.c.id).label("messages"),
               func.coalesce(func.sum(case((messages.c.flags.contains("\\Seen"), 0),
                                           (messages.c.id.is_not(None), 1), else_=0)),
                             0).label("unseen"))
        .select_from(folders).outerjoin(messages, messages.c.folder_id == folders.c.id)
        .where(folders.c.account_id == account_id, folders.c.name != RECOVERABLE)
        .group_by(folders.c.id))}
    ids = {r.name: int(r.id) for r in conn.execute(select(folders.c.id, folders.c.name).where(
        folders.c.account_id == account_id))}
    found = [FolderSummary(e.name, e.special_use, *counts[ids[e.name]])
             for e in mailboxes.list_mailboxes(conn, account_id)
             if e.exists and ids.get(e.name) in counts]

    def order(f: FolderSummary) -> tuple[int, str]:
        if f.name == "INBOX":
            return (0, "")
        if f.special_use in _SPECIAL_ORDER:
            return (1 + _SPECIAL_ORDER.index(f.special_use), "")
        return (1 + len(_SPECIAL_ORDER), f.name.casefold())

    return sorted(found, key=order)


def page(conn: Connection, account_id: int, folder: str, *, sort: str = "received",
         descending: bool = True, offset: int = 0, limit: int = 50,
         text: str = "") -> Page:
    """Messages of one folder, `limit` from `offset` in `sort` order; with `text`, only
    those whose headers or body contain it (the IMAP full-text index, SEARCH TEXT).
    MailboxNotFound for a folder the account does not have."""
    found = mailboxes.find_mailbox(conn, account_id, folder)
    key = SORTS[sort]
    ordering = [key.desc(), messages.c.id.desc()] if descending else [key, messages.c.id]
    offset, limit = max(0, offset), max(1, min(limit, MAX_PAGE))
    in_folder = messages.c.folder_id == found.id
    ids = select(messages.c.id).where(in_folder)
    if sort in ("from", "subject"):
        ids = ids.join(blobs, blobs.c.digest == messages.c.digest)
    if text:  # the full-text condition once: every match's id in order, then one page
        matched = list(conn.execute(ids.where(condition(Text(text))).order_by(*ordering))
                       .scalars())
        total, wanted = len(matched), matched[offset:offset + limit]
    else:  # the page's ids from `messages` alone, then only their rows joined
        total = int(conn.execute(select(func.count()).select_from(messages).where(in_folder))
                    .scalar_one())
        wanted = list(conn.execute(ids.order_by(*ordering).offset(offset).limit(limit))
                      .scalars())
    rows = conn.execute(
        select(messages.c.id, messages.c.uid, messages.c.flags, messages.c.size,
               messages.c.internal_date, blobs.c.subject, messages.c.digest,
               message_structure.c.header_size)
        .join(blobs, blobs.c.digest == messages.c.digest)
        .join(message_structure, message_structure.c.message_id == messages.c.id)
        .where(messages.c.id.in_(wanted)).order_by(*ordering)).all()
    return Page(found, total, rows)


def message(conn: Connection, account_id: int, message_id: int) -> Row:  # type: ignore[type-arg]
    """One message of the account in a visible folder: id, uid, flags, size, internal_date,
    digest, folder_id, folder (name), special_use, subject; NotFound otherwise (another
    account's message id included)."""
    row = conn.execute(
        select(messages.c.id, messages.c.uid, messages.c.flags, messages.c.size,
               messages.c.internal_date, messages.c.digest, messages.c.folder_id,
               folders.c.name.label("folder"), folders.c.special_use, blobs.c.subject)
        .join(folders, folders.c.id == messages.c.folder_id)
        .join(blobs, blobs.c.digest == messages.c.digest)
        .where(messages.c.id == message_id, folders.c.account_id == account_id,
               folders.c.name != RECOVERABLE)).first()
    if row is None:
        raise NotFound(f"no message {message_id}")
    return row


def _by_folder(conn: Connection, account_id: int, ids: Iterable[int]
               ) -> dict[int, tuple[str | None, list[int]]]:
    """The account's visible messages among `ids`: folder id -> (special use, UIDs)."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    out: dict[int, tuple[str | None, list[int]]] = {}
    for r in conn.execute(
            select(messages.c.folder_id, folders.c.special_use, messages.c.uid)
            .join(folders, folders.c.id == messages.c.folder_id)
            .where(messages.c.id.in_(wanted), folders.c.account_id == account_id,
                   folders.c.name != RECOVERABLE)):
        out.setdefault(int(r.folder_id), (r.special_use, []))[1].append(int(r.uid))
    return out


def set_flag(conn: Connection, account_id: int, ids: Iterable[int], flag: str, on: bool
             ) -> int:
    """Add or remove one flag on the account's messages among `ids`; how many matched."""
    count = 0
    operation = FlagOperation.ADD if on else FlagOperation.REMOVE
    for folder, (_, uids) in _by_folder(conn, account_id, ids).items():
        count += len(store_flags(conn, folder, UidSet.of(uids), operation, [flag]).stored)
    return count


def move_to(conn: Connection, account_id: int, ids: Iterable[int], destination: str,
            now: float) -> int:
    """Move the account's messages among `ids` to a folder by name (MailboxNotFound)."""
    mailboxes.find_mailbox(conn, account_id, destination)
    return sum(len(move(conn, account_id, folder, UidSet.of(uids), destination, now)
                   .source_uids)
               for folder, (_, uids) in _by_folder(conn, account_id, ids).items())


def trash_folder(conn: Connection, account_id: int, now: float) -> int:
    """The folder marked \\Trash, else one named Deleted Items (made if the user removed
    it)."""
    found = conn.execute(select(folders.c.id).where(
        folders.c.account_id == account_id, folders.c.special_use == "\\Trash")).scalar()
    return int(found) if found is not None else folder_id(conn, account_id, "Deleted Items",
                                                          create=True, now=now)


def drafts_folder(conn: Connection, account_id: int) -> str:
    """The name of the folder marked \\Drafts (Drafts when none is)."""
    return str(conn.execute(select(folders.c.name).where(
        folders.c.account_id == account_id, folders.c.special_use == "\\Drafts")).scalar()
        or "Drafts")


def delete(conn: Connection, account_id: int, ids: Iterable[int], now: float) -> int:
    """Delete as Outlook does: to Deleted Items, and from Deleted Items to Recoverable
    Items (kept for the retention, then purged)."""
    wanted = list(ids)
    found = _by_folder(conn, account_id, wanted)
    trash = trash_folder(conn, account_id, now)
    count = 0
    for folder, (_, uids) in found.items():
        if folder == trash:
            ids_here = [int(i) for i in conn.execute(select(messages.c.id).where(
                messages.c.folder_id == folder, UidSet.of(uids).condition(messages.c.uid)))
                .scalars()]
            count += to_recoverable(conn, account_id, ids_here, now)
        else:
            count += len(move_where(conn, (messages.c.folder_id == folder)
                                    & UidSet.of(uids).condition(messages.c.uid),
                                    trash, now, to_recoverable=False, sources=[folder]))
    return count

