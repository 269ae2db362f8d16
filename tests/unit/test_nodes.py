"""The node heartbeat: a starting node clears what nodes gone left behind, keeps the rows of
nodes alive, beats while it serves and takes its own rows with it when it stops."""

from __future__ import annotations

import asyncio

from sqlalchemy import Table, select

from mailgate.db.schema import live_sessions, mailbox_locks, nodes
from mailgate.nodes import Heartbeat
from mailgate.service import Service


def _owners(svc: Service, table: Table) -> set[str]:
    column = table.c.name if table is nodes else table.c.node
    with svc.reader.connect() as conn:
        return set(conn.execute(select(column)).scalars())


def _left_behind(svc: Service, now: float) -> None:
    """Rows of a node gone, of a node alive, of this node's past, of a node never seen."""
    with svc.engine.begin() as conn:
        conn.execute(nodes.insert(), [
            {"name": "gone", "started_at": now - 900, "last_seen": now - 600},
            {"name": "alive", "started_at": now - 900, "last_seen": now - 1},
            {"name": "me", "started_at": now - 900, "last_seen": now - 600}])
        for account_id, node in enumerate(("gone", "alive", "me", "never-seen"), start=1):
            conn.execute(live_sessions.insert().values(
                id=f"session-{node}", node=node, account_id=account_id, protocol="pop",
                peer="127.0.0.1", started_at=now))
            conn.execute(mailbox_locks.insert().values(
                account_id=account_id, holder=f"session-{node}", node=node, acquired_at=now))


async def test_starting_node_clears_rows_of_nodes_gone_and_its_own_then_leaves_cleanly(
        svc: Service) -> None:
    _left_behind(svc, svc.clock())
    heartbeat = Heartbeat(svc, "me")
    await heartbeat.start(sole=False)
    try:
        assert _owners(svc, live_sessions) == {"alive"}
        assert _owners(svc, mailbox_locks) == {"alive"}
        assert _owners(svc, nodes) == {"alive", "me"}
    finally:
        await heartbeat.stop()
    assert _owners(svc, nodes) == {"alive"}


async def test_heartbeat_refreshes_last_seen_while_serving(svc: Service) -> None:
    svc.settings.values["server"]["heartbeat_seconds"] = 0.05
    heartbeat = Heartbeat(svc, "me")
    await heartbeat.start(sole=False)

    def last_seen() -> float:
        with svc.reader.connect() as conn:
            return float(conn.execute(select(nodes.c.last_seen)).scalar_one())

    try:
        first = last_seen()
        for _ in range(200):  # up to 10 s on a busy machine; usually one beat
            await asyncio.sleep(0.05)
            if last_seen() > first:
                break
        assert last_seen() > first
    finally:
        await heartbeat.stop()
