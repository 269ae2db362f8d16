"""Which `serve` processes are alive: each node's heartbeat in the `nodes` table.

A node writes its row when it starts and refreshes `last_seen` every
`server.heartbeat_seconds`; a node not seen for `server.node_timeout_seconds` has stopped or
died. The rows a node leaves behind (live sessions, mailbox locks, duties) count only while their
node is alive (`on_live_node`). A node deletes its own rows when it stops; a starting node
deletes those of nodes gone, or, when it is the database's only node (SQLite, see
`serve_lock`), those of every other node.
"""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import ColumnElement, delete, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.db.schema import live_sessions, mailbox_locks, node_duties, nodes
from mailgate.periodic import Periodic
from mailgate.service import Service

#: Tables whose rows belong to the node named in their `node` column.
NODE_ROWS = (live_sessions, mailbox_locks, node_duties)


def seen_since(svc: Service) -> float:
    """The time after which a node must have beaten its heartbeat to count as alive."""
    return svc.clock() - float(svc.settings.get("server", "node_timeout_seconds"))


def on_live_node(node: ColumnElement[str], since: float) -> ColumnElement[bool]:
    """True where `node` names a node seen after `since`."""
    return node.in_(select(nodes.c.name).where(nodes.c.last_seen >= since))


class Heartbeat:
    """Keeps this node's row fresh while it serves; clears stale rows when it starts and stops."""

    def __init__(self, svc: Service, node: str) -> None:
        self._svc = svc
        self.node = node
        interval = float(svc.settings.get("server", "heartbeat_seconds"))
        self._loop = Periodic("beating the node's heartbeat", interval,
                              lambda: asyncio.to_thread(self.beat))
        # A beat still running in its thread when the loop is cancelled must not bring the
        # node's row back after it left.
        self._beating = threading.Lock()
        self._left = False

    async def start(self, sole: bool) -> None:
        """Clear what nodes gone (every other node, when `sole`) left behind, then beat."""
        await asyncio.to_thread(self._join, sole)
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        await asyncio.to_thread(self._leave)

    def beat(self) -> None:
        with self._beating:
            if not self._left:
                self._beat()

    def _beat(self) -> None:
        now = self._svc.clock()
        with self._svc.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(nodes).values(name=self.node, started_at=now, last_seen=now)
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"],
                                                    set_={"last_seen": now}))

    def _join(self, sole: bool) -> None:
        since = seen_since(self._svc)
        with self._svc.engine.begin() as conn:
            for table in NODE_ROWS:
                stale = true() if sole else or_(table.c.node == self.node,
                                                ~on_live_node(table.c.node, since))
                conn.execute(delete(table).where(stale))
            conn.execute(delete(nodes).where(
                true() if sole else or_(nodes.c.name == self.node, nodes.c.last_seen < since)))
        self.beat()

    def _leave(self) -> None:
        with self._beating:
            self._left = True
        with self._svc.engine.begin() as conn:
            for table in NODE_ROWS:
                conn.execute(delete(table).where(table.c.node == self.node))
            conn.execute(delete(nodes).where(nodes.c.name == self.node))
