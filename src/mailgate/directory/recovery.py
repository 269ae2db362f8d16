"""Recoverable Items as the owner or staff reach them (`recover list|restore`): who may is
checked here, the store moves the messages, and a restore is audited."""

from __future__ import annotations

from sqlalchemy import Connection

from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError
from mailgate.directory.views import account_row
from mailgate.service import Service
from mailgate.store import messages


def _require_owner_or_staff(svc: Service, actor: Actor, address: str) -> None:
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
    authority.require_view(actor, row.id, "recover this account's mail")


def list_items(svc: Service, actor: Actor, address: str) -> list[messages.Recoverable]:
    _require_owner_or_staff(svc, actor, address)
    return messages.list_recoverable(svc, address)


def restore(svc: Service, actor: Actor, address: str, all_: bool, ids: list[int]) -> int:
    """Bring back every recoverable message (`all_`) or those named; returns how many."""
    if all_ == bool(ids):
        raise DirectoryError("say what to restore: --all, or --id ID (repeatable)")
    _require_owner_or_staff(svc, actor, address)

    def recorded(conn: Connection, account: str, count: int) -> None:
        record(conn, svc.clock(), actor, "recover.restore", account=account, scope="none",
               messages=count, ids="all" if all_ else sorted(ids))

    return messages.restore_recoverable(svc, address, None if all_ else ids, recorded)
