"""Live sessions of this process, and the follower that ends them when their door closes.

Every door registers each signed-in session here. The follower watches the event log
(a cheap poll of the newest event id; the change itself may come from any process on the
same database, e.g. the CLI) and the clock (temporary grants expiring, deactivation grace
ending); for each affected account it re-runs the access decision and closes the sessions
whose door is now shut (SPEC §5, §7), or whose own app password or token was revoked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from mailgate import metrics
from mailgate.audit.recorder import Recorder
from mailgate.db.schema import accounts, temporary_grants
from mailgate.directory import credentials
from mailgate.directory.views import policy_view
from mailgate.events import log as events
from mailgate.periodic import Periodic
from mailgate.policy.decision import Decision, credential_revoked, decide
from mailgate.service import Service

log = logging.getLogger("mailgate.sessions")


@dataclass(eq=False)
class LiveSession:
    id: str
    account_id: int
    address: str
    protocol: str
    method: str
    peer: str
    close: Callable[[Decision], None]
    started_at: float = field(default_factory=time.time)
    credential_epoch: int | None = None  # see Principal: a password change ends the session
    credential_id: str | None = None  # see Principal: revoking that credential ends it
    client: str | None = None  # the mail app, as it names itself (IMAP ID)


class SessionRegistry:
    """Signed-in sessions of this node, by account; `/metrics` counts them as they come and go."""

    def __init__(self, node: str, recorder: Recorder | None = None) -> None:
        self.node = node
        self._recorder = recorder
        self._by_account: dict[int, dict[str, LiveSession]] = {}

    def register(self, session: LiveSession) -> None:
        self._by_account.setdefault(session.account_id, {})[session.id] = session
        metrics.LIVE_SESSIONS.inc()
        if self._recorder:
            self._recorder.session_opened({
                "id": session.id, "node": self.node, "account_id": session.account_id,
                "protocol": session.protocol, "method": session.method, "peer": session.peer,
                "started_at": session.started_at, "client": session.client})

    def describe(self, session_id: str, account_id: int, client: str | None) -> None:
        """The mail app of a signed-in session named itself (after its sign-in)."""
        session = self._by_account.get(account_id, {}).get(session_id)
        if session is not None and session.client != client:
            session.client = client
            if self._recorder:
                self._recorder.session_described(session_id, client)

    def unregister(self, session_id: str, account_id: int) -> None:
        sessions = self._by_account.get(account_id)
        if sessions and sessions.pop(session_id, None) is not None:
            if not sessions:
                del self._by_account[account_id]
            metrics.LIVE_SESSIONS.dec()
            if self._recorder:
                self._recorder.session_closed(session_id)

    def accounts(self) -> list[int]:
        return list(self._by_account)

    def sessions(self, account_id: int) -> list[LiveSession]:
        return list(self._by_account.get(account_id, {}).values())

    def count(self) -> int:
        return sum(len(s) for s in self._by_account.values())

    def close_denied(self, decisions: dict[str, Decision]) -> int:
        """Close each session whose decision (by session id) is a deny; returns how many."""
        closed = 0
        for account_id in list(self._by_account):
            for session in self.sessions(account_id):
                decision = decisions.get(session.id)
                if decision is not None and not decision.allowed:
                    log.info("door closed on live session", extra={
                        "session": session.id, "account": session.address,
                        "protocol": session.protocol, "reason": decision.reason})
                    self.unregister(session.id, account_id)
                    metrics.SESSIONS_CLOSED.inc()
                    try:
                        session.close(decision)
                    except Exception:
                        log.exception("closing a session failed")
                    closed += 1
        return closed


class EventFollower:
    """Re-decides live sessions of affected accounts after every change, within a second."""

    def __init__(self, svc: Service, registry: SessionRegistry) -> None:
        self._svc = svc
        self._registry = registry
        interval = int(svc.settings.get("policy", "propagation_poll_ms")) / 1000
        self._loop = Periodic("following events", interval, self.tick)
        self._last_id = 0
        self._last_tick = svc.clock()

    async def start(self) -> None:
        self._last_id = await asyncio.to_thread(self._latest)
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def _latest(self) -> int:
        with self._svc.reader.connect() as conn:
            return events.latest_id(conn)

    async def tick(self) -> None:
        live = set(self._registry.accounts())
        snapshot = {s.id: s for a in live for s in self._registry.sessions(a)}
        decisions = await asyncio.to_thread(self._decide, live, snapshot)
        if decisions:
            self._registry.close_denied(decisions)

    def _affected(self, conn: Connection, now: float) -> set[int] | None:
        """Accounts touched since the last tick; None means 'maybe any account'."""
        new = events.since(conn, self._last_id)
        changed: set[int] = set()
        wide = False
        for event in new:
            self._last_id = max(self._last_id, event.id)
            if event.scope == "account" and event.account_id is not None:
                changed.add(event.account_id)
            elif event.scope != "none":
                wide = True
        # Time passing changes decisions too: grants ending and grace periods running out.
        expired = conn.execute(select(temporary_grants.c.account_id).where(
            temporary_grants.c.expires_at > self._last_tick,
            temporary_grants.c.expires_at <= now)).scalars()
        changed.update(expired)
        graced = conn.execute(select(accounts.c.id).where(
            accounts.c.state == "deactivating",
            accounts.c.deactivate_at <= now,
            accounts.c.deactivate_at > self._last_tick)).scalars()
        changed.update(graced)
        self._last_tick = now
        return None if wide else changed

    def _decide(self, live: set[int], snapshot: dict[str, LiveSession]
                ) -> dict[str, Decision]:
        now = self._svc.clock()
        with self._svc.reader.connect() as conn:
            affected = self._affected(conn, now)
            targets = live if affected is None else live & affected
            decisions: dict[str, Decision] = {}
            for account_id in targets:
                row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
                view = policy_view(conn, row, now) if row is not None else None
                for session in snapshot.values():
                    if session.account_id != account_id:
                        continue
                    if view is None:
                        continue
                    decision = decide(
                        view, session.protocol, now, method=session.method, peer=session.peer,
                        signed_in_epoch=session.credential_epoch)
                    if decision.allowed and credentials.revoked(
                            conn, account_id, session.method, session.credential_id):
                        decision = credential_revoked(session.protocol, session.method)
                    decisions[session.id] = decision
        return decisions
