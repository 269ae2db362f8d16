"""Mailbox locks shared by every node: at most one holder per account, in `mailbox_locks`.

A lock whose node is gone (no heartbeat within the timeout, see `mailgate.nodes`) holds
nothing and is taken over, so a node that died cannot keep a mailbox.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.db.schema import mailbox_locks
from mailgate.nodes import on_live_node


def take(conn: Connection, account_id: int, holder: str, node: str, now: float,
         seen_since: float) -> bool:
    """Take the account's lock for session `holder` of `node`; False while another live node
    holds it. A lock already on `node` is taken over: the node knows its own sessions, and
    asks only when none of them holds the mailbox (the row is a release that failed)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {"holder": holder, "node": node, "acquired_at": now}
    inserted = conn.execute(dialect.insert(mailbox_locks).values(account_id=account_id, **values)
                            .on_conflict_do_nothing(index_elements=["account_id"]))
    if inserted.rowcount == 1:
        return True
    taken_over = conn.execute(update(mailbox_locks).where(
        mailbox_locks.c.account_id == account_id,
        or_(mailbox_locks.c.node == node,
            ~on_live_node(mailbox_locks.c.node, seen_since))).values(**values))
    return taken_over.rowcount == 1


def release(conn: Connection, account_id: int, holder: str) -> None:
    """Give the lock back, if `holder` still has it."""
    conn.execute(delete(mailbox_locks).where(mailbox_locks.c.account_id == account_id,
                                             mailbox_locks.c.holder == holder))
