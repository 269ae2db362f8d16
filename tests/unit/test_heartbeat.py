"""The node heartbeat: a starting node clears what nodes gone left behind, keeps the rows of
nodes alive, beats while it serves and takes its own rows with it when it stops; mailbox
locks hold only while their node is alive."""

from __future__ import annotations

import asyncio

from sqlalchemy import Table, select

from mailgate.db.schema import live_sessions, mailbox_locks, nodes
from mailgate.nodes import Heartbeat
from mailgate.service import Service
from mailgate.store import locks


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
                method="password", peer="127.0.0.1", started_at=now))
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
    heartbeat.beat()  # a beat still in flight when the node left
    assert _owners(svc, nodes) == {"alive"}


async def test_the_only_node_of_a_database_clears_every_other_nodes_rows(
        svc: Service) -> None:
    _left_behind(svc, svc.clock())
    heartbeat = Heartbeat(svc, "me")
    await heartbeat.start(sole=True)
    try:
        assert _owners(svc, live_sessions) == set()
        assert _owners(svc, mailbox_locks) == set()
        assert _owners(svc, nodes) == {"me"}
    finally:
        await heartbeat.stop()


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


def test_a_lock_holds_while_its_node_lives_and_is_taken_over_after(svc: Service) -> None:
    now = svc.clock()
    with svc.engine.begin() as conn:
        conn.execute(nodes.insert(), [{"name": n, "started_at": now, "last_seen": now}
                                      for n in ("a", "b")])

    def take(holder: str, node: str, at: float) -> bool:
        with svc.engine.begin() as conn:
            return locks.take(conn, 7, holder, node, at, seen_since=at - 30)

    def holder() -> str | None:
        with svc.reader.connect() as conn:
            return conn.execute(select(mailbox_locks.c.holder)).scalar_one_or_none()

    assert take("s1", "a", now)
    assert not take("s2", "b", now)  # node a is alive
    assert take("s3", "a", now)  # a's own leftover: node a knows s1 is gone
    with svc.engine.begin() as conn:
        locks.release(conn, 7, "s1")  # a late release of a lock no longer held
    assert holder() == "s3"
    assert take("s4", "b", now + 60)  # node a has not been seen for a minute
    assert holder() == "s4"
    with svc.engine.begin() as conn:
        locks.release(conn, 7, "s4")
    assert holder() is None
