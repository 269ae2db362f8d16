"""Append and read change events; written in the same transaction as the change itself."""

from __future__ import annotations

from sqlalchemy import Connection, func, select, text

from mailgate.db.schema import events

#: Kinds whose effect reaches every account in a scope rather than one account.
SCOPES = ("account", "department", "plan", "all")
NOTIFY_CHANNEL = "mailgate_events"


def emit(conn: Connection, at: float, kind: str, *, account_id: int | None = None,
         scope: str = "account", scope_id: int | None = None) -> None:
    """Record that policy data changed (account/department/plan/all)."""
    conn.execute(events.insert().values(at=at, kind=kind, account_id=account_id, scope=scope,
                                        scope_id=scope_id if scope_id is not None else account_id))
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


def latest_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)


def since(conn: Connection, after_id: int, limit: int = 10_000):  # type: ignore[no-untyped-def]
    return conn.execute(
        select(events).where(events.c.id > after_id).order_by(events.c.id).limit(limit)
    ).all()
