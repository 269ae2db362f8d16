"""Folders with special uses (SPEC §8), created for every new account."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, case, select

from mailgate.db.schema import folders, subscriptions, uidvalidity_counters
from mailgate.store.sql import insert_ignore, upsert

RECOVERABLE = "Recoverable Items"

#: name -> special use; Recoverable Items is hidden from clients and served by `recover`.
DEFAULT_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Deleted Items", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
    (RECOVERABLE, "recoverable"),
)

#: Folder names other servers use, mapped to ours on import.
SPECIAL_ALIASES = {
    "sent": "Sent", "sent items": "Sent", "sent messages": "Sent", "sent mail": "Sent",
    "drafts": "Drafts", "trash": "Deleted Items", "deleted items": "Deleted Items",
    "deleted messages": "Deleted Items", "junk": "Junk", "spam": "Junk",
    "junk e-mail": "Junk", "archive": "Archive", "archives": "Archive", "inbox": "INBOX",
}


def new_uidvalidities(conn: Connection, account_id: int, count: int, now: float) -> list[int]:
    """`count` UIDVALIDITY values never given out before in this account.

    Time-based like Dovecot's, but always above the last one handed out (one upsert of the
    account's counter), so a name deleted or renamed away and created again never gets an
    old value back (RFC 3501 §2.3.1.1). 32 bits last until 2106.
    """
    floor = int(now) + count - 1
    counter = uidvalidity_counters
    last = conn.execute(
        upsert(conn, counter).values(account_id=account_id, last=floor)
        .on_conflict_do_update(index_elements=[counter.c.account_id], set_={
            "last": case((counter.c.last + count > floor, counter.c.last + count),
                         else_=floor)})
        .returning(counter.c.last)).scalar_one()
    return list(range(int(last) - count + 1, int(last) + 1))


def subscribe_names(conn: Connection, account_id: int, names: list[str]) -> None:
    """Add names to the account's subscriptions (already subscribed ones are kept)."""
    insert_ignore(conn, subscriptions, [{"account_id": account_id, "name": n} for n in names])


def insert_folders(conn: Connection, account_id: int, named: list[tuple[str, str | None]],
                   now: float) -> list[int]:
    """Create folders (name, special use) with fresh UIDVALIDITYs; returns their ids."""
    validities = new_uidvalidities(conn, account_id, len(named), now)
    return [int(r.id) for r in conn.execute(folders.insert().returning(
        folders.c.id, sort_by_parameter_order=True), [
        {"account_id": account_id, "name": name, "special_use": use, "uidvalidity": validity,
         "uidnext": 1, "highestmodseq": 1}
        for (name, use), validity in zip(named, validities, strict=True)])]


def create_default_folders(conn: Connection, account_id: int, now: float) -> None:
    insert_folders(conn, account_id, list(DEFAULT_FOLDERS), now)
    subscribe_names(conn, account_id, [n for n, use in DEFAULT_FOLDERS if use != "recoverable"])


_FOLDER_ID = select(folders.c.id).where(folders.c.account_id == bindparam("account"),
                                        folders.c.name == bindparam("name"))


def folder_id(conn: Connection, account_id: int, name: str, create: bool = False,
              now: float = 0.0) -> int:
    """The folder of that exact name; with create=True a missing one is made (and
    subscribed, as an import or `deliver --folder` expects to see it)."""
    found = conn.execute(_FOLDER_ID, {"account": account_id, "name": name}).scalar()
    if found is not None:
        return int(found)
    if not create:
        raise LookupError(f"no folder '{name}'")
    subscribe_names(conn, account_id, [name])
    return insert_folders(conn, account_id, [(name, None)], now)[0]
