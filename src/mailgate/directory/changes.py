"""Every change is recorded twice in its own transaction: an audit row and an event row.

A refusal that must be audited (opening a door a department denies) is recorded too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from mailgate.audit import log as audit
from mailgate.directory.authority import Actor
from mailgate.directory.errors import RecordedRefusal
from mailgate.events import log as events


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """`engine.begin()` for a change; a RecordedRefusal commits its audit row, then is raised."""
    refused: RecordedRefusal | None = None
    with engine.begin() as conn:
        try:
            yield conn
        except RecordedRefusal as refusal:
            refused = refusal
    if refused is not None:
        raise refused


def record(conn: Connection, now: float, actor: Actor, action: str, *,
           account: str | None = None, account_id: int | None = None,
           scope: str = "account", scope_id: int | None = None,
           **details: Any) -> None:
    """Audit who did what (before -> after, case, reason) and signal the change to every node."""
    audit.append(conn, at=now, actor=actor.address, role=actor.role_name, action=action,
                 account=account, details=details)
    if scope != "none":
        events.emit(conn, now, action, account_id=account_id, scope=scope,
                    scope_id=scope_id if scope_id is not None else account_id)
