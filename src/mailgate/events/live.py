"""Live sessions as staff see them (`mailgate sessions`, every running node) and end them
(the admin API's kick, on the node that holds the session); an owner sees their own
(`my_sessions`, the `/account/sessions` page)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from mailgate.db.schema import accounts, live_sessions
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import Conflict, NotFound
from mailgate.directory.views import account_row, normalise_address
from mailgate.events.sessions import LiveSession, SessionRegistry
from mailgate.nodes import on_live_node, seen_since
from mailgate.policy.decision import session_ended
from mailgate.service import Service


def list_sessions(svc: Service, actor: Actor, address: str | None = None
                  ) -> list[dict[str, object]]:
    """Signed-in sessions on every running node, oldest first (of one account)."""
    authority.require_staff(actor, "see live sessions")
    return _rows(svc, normalise_address(address) if address else None)


def my_sessions(svc: Service, actor: Actor, address: str) -> list[dict[str, object]]:
    """The same rows for one account, which its owner (or staff) may read."""
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
    authority.require_view(actor, row.id, "see this account's live sessions")
    return _rows(svc, row.address)


def _rows(svc: Service, address: str | None) -> list[dict[str, object]]:
    query = (select(live_sessions, accounts.c.address)
             .join(accounts, accounts.c.id == live_sessions.c.account_id)
             .where(on_live_node(live_sessions.c.node, seen_since(svc)))
             .order_by(live_sessions.c.started_at))
    if address:
        query = query.where(accounts.c.address == address)
    with svc.reader.connect() as conn:
        return [{"id": r.id, "account": r.address, "protocol": r.protocol,
                 "method": r.method, "peer": r.peer, "client": r.client, "node": r.node,
                 "started_at": datetime.fromtimestamp(r.started_at, UTC).isoformat()}
                for r in conn.execute(query)]


def _held_here(registry: SessionRegistry, session_id: str) -> LiveSession | None:
    for account_id in registry.accounts():
        for session in registry.sessions(account_id):
            if session.id == session_id:
                return session
    return None


def _elsewhere(svc: Service, session_id: str, here: str) -> str | None:
    """The other live node that holds the session, if one does (this node's rows are a
    mirror of its registry, written a moment later)."""
    with svc.reader.connect() as conn:
        return conn.execute(select(live_sessions.c.node).where(
            live_sessions.c.id == session_id, live_sessions.c.node != here,
            on_live_node(live_sessions.c.node, seen_since(svc)))).scalar()


def _record(svc: Service, actor: Actor, session: LiveSession, reason: str) -> None:
    with svc.engine.begin() as conn:
        record(conn, svc.clock(), actor, "session.end", account=session.address,
               scope="none", session=session.id, protocol=session.protocol,
               method=session.method, peer=session.peer, reason=reason)


async def end_session(svc: Service, actor: Actor, registry: SessionRegistry,
                      session_id: str, reason: str = "") -> LiveSession:
    """End one live session held by this node (audited); the client is told as when its
    door closes (SPEC §5). Run on the event loop that serves the session."""
    authority.require_staff(actor, "end live sessions")
    session = _held_here(registry, session_id)
    if session is None:
        node = await asyncio.to_thread(_elsewhere, svc, session_id, registry.node)
        if node is None:
            raise NotFound(f"no live session {session_id}")
        raise Conflict(f"session {session_id} is held by node {node}; end it through that "
                       "node's admin API")
    await asyncio.to_thread(_record, svc, actor, session, reason)
    registry.close_denied({session.id: session_ended(session.protocol)})
    return session
