"""Folders with special uses (SPEC §8), created for every new account."""

from __future__ import annotations

from sqlalchemy import Connection, select

from mailgate.db.schema import folders

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


def uidvalidity_for(now: float, salt: int) -> int:
    return (int(now) + salt) & 0xFFFFFFFF or 1


def create_default_folders(conn: Connection, account_id: int, now: float) -> None:
    conn.execute(folders.insert(), [
        {"account_id": account_id, "name": name, "special_use": use,
         "uidvalidity": uidvalidity_for(now, i), "uidnext": 1, "highestmodseq": 1,
         "subscribed": use != "recoverable"}
        for i, (name, use) in enumerate(DEFAULT_FOLDERS)
    ])


def folder_id(conn: Connection, account_id: int, name: str, create: bool = False,
              now: float = 0.0) -> int:
    found = conn.execute(select(folders.c.id).where(
        folders.c.account_id == account_id, folders.c.name == name)).scalar()
    if found is not None:
        return int(found)
    if not create:
        raise LookupError(f"no folder '{name}'")
    return int(conn.execute(folders.insert().values(
        account_id=account_id, name=name, special_use=None,
        uidvalidity=uidvalidity_for(now, account_id), uidnext=1, highestmodseq=1,
        subscribed=True)).inserted_primary_key[0])
