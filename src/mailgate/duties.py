"""Jobs one node of the cluster does at a time (the outbound queue's runner), in `node_duties`.

Like a mailbox lock (`store.locks`): the row names the node that does the job; a node gone
(no heartbeat within the timeout, `mailgate.nodes`) holds nothing and is taken over, and a
node's rows go when it stops.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.db.schema import node_duties
from mailgate.nodes import on_live_node


def take(conn: Connection, duty: str, node: str, now: float, seen_since: float) -> bool:
    """True when `node` holds `duty` (already, or from now on); False while another live node
    holds it. `acquired_at` changes only when the duty changes hands."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = conn.execute(dialect.insert(node_duties).values(
        name=duty, node=node, acquired_at=now).on_conflict_do_nothing(index_elements=["name"]))
    if inserted.rowcount == 1:
        return True
    holder = conn.execute(select(node_duties.c.node).where(node_duties.c.name == duty)
                          ).scalar()
    if holder == node:
        return True
    taken_over = conn.execute(update(node_duties).where(
        node_duties.c.name == duty, ~on_live_node(node_duties.c.node, seen_since)
    ).values(node=node, acquired_at=now))
    return taken_over.rowcount == 1
