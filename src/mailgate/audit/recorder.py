"""Sign-in evidence, batched: audit rows, per-door usage counters and live-session rows.

Every attempt (account, protocol, method, client address, client id, result, reason) goes
into the hash-chained audit log and the usage counters. A server records hundreds a second,
so entries are queued and written together a few times a second, off the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, update
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.audit import log as audit_log
from mailgate.db.schema import app_passwords, live_sessions, usage
from mailgate.periodic import Periodic
from mailgate.service import Service


@dataclass(frozen=True)
class Attempt:
    at: float
    address: str
    account_id: int | None
    protocol: str
    method: str
    peer: str
    client_id: str | None
    allowed: bool
    reason: str
    app_password_id: int | None = None  # the app password used: its last use is kept


class Recorder:
    """Queues sign-in attempts and session rows; `flush` writes them in one transaction."""

    def __init__(self, svc: Service, interval: float = 0.2) -> None:
        self._svc = svc
        self._loop = Periodic("writing sign-in evidence", interval,
                              lambda: asyncio.to_thread(self.flush))
        self._attempts: list[Attempt] = []
        self._opened: list[dict[str, object]] = []
        self._closed: list[str] = []
        self._described: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def attempt(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    def session_opened(self, row: dict[str, object]) -> None:
        with self._lock:
            self._opened.append(row)

    def session_described(self, session_id: str, client: str | None) -> None:
        with self._lock:
            self._described[session_id] = client

    def session_closed(self, session_id: str) -> None:
        with self._lock:
            self._closed.append(session_id)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        with self._lock:
            attempts, self._attempts = self._attempts, []
            opened, self._opened = self._opened, []
            closed, self._closed = self._closed, []
            described, self._described = self._described, {}
        if not (attempts or opened or closed or described):
            return
        try:
            self._write(attempts, opened, closed, described)
        except Exception:
            with self._lock:  # keep them for the next flush, in order
                self._attempts[:0] = attempts
                self._opened[:0] = opened
                self._closed[:0] = closed
                self._described = {**described, **self._described}
            raise

    def _write(self, attempts: list[Attempt], opened: list[dict[str, object]],
               closed: list[str], described: dict[str, str | None]) -> None:
        with self._svc.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            if attempts:
                audit_log.append_many(conn, [
                    {"at": a.at, "actor": a.address, "role": "user", "action": "signin",
                     "account": a.address if a.account_id else None,
                     "details": {"protocol": a.protocol, "method": a.method, "peer": a.peer,
                                 "client_id": a.client_id,
                                 "result": "allowed" if a.allowed else "denied",
                                 "reason": a.reason}} for a in attempts])
                for a in attempts:
                    if a.account_id is None:
                        continue
                    ok = 1 if a.allowed else 0
                    stmt = dialect.insert(usage).values(
                        account_id=a.account_id, protocol=a.protocol, method=a.method,
                        successes=ok, failures=1 - ok,
                        last_success_at=a.at if ok else None, last_attempt_at=a.at)
                    conn.execute(stmt.on_conflict_do_update(
                        index_elements=["account_id", "protocol", "method"],
                        set_={"successes": usage.c.successes + ok,
                              "failures": usage.c.failures + (1 - ok),
                              "last_success_at": stmt.excluded.last_success_at
                              if ok else usage.c.last_success_at,
                              "last_attempt_at": a.at}))
                    if a.app_password_id is not None and ok:
                        conn.execute(update(app_passwords).where(
                            app_passwords.c.id == a.app_password_id).values(last_used_at=a.at))
            if opened:
                conn.execute(live_sessions.insert(), opened)
            if described:
                conn.execute(update(live_sessions).where(live_sessions.c.id == bindparam("sid"))
                             .values(client=bindparam("named")),
                             [{"sid": k, "named": v} for k, v in described.items()])
            if closed:
                conn.execute(delete(live_sessions).where(live_sessions.c.id.in_(closed)))
