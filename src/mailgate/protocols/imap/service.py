"""What the IMAP door needs from the rest of mailgate: the gate, the store, live sessions.

Store functions are synchronous over a SQLAlchemy connection; `read` runs one on a reader
connection (a WAL snapshot on SQLite) and `write` in a write transaction, both in a worker
thread so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from mailgate.auth.gate import Gate, Principal
from mailgate.events.sessions import LiveSession, SessionRegistry
from mailgate.policy.decision import Decision
from mailgate.protocols.imap.watcher import FolderWatcher
from mailgate.protocols.refusals import Refusal
from mailgate.service import Service
from mailgate.store import messages, transfer
from mailgate.store.transfer import CopyResult

PROTOCOL = "imap"
T = TypeVar("T")


class ImapService:
    """The gate, the store and the session registry, as the IMAP sessions use them."""

    def __init__(self, svc: Service, gate: Gate, registry: SessionRegistry,
                 watcher: FolderWatcher) -> None:
        self.svc = svc
        self.watcher = watcher
        self._gate = gate
        self._registry = registry
        self.blobs = messages.blob_store(svc)
        self.max_message_bytes = int(svc.settings.get("storage", "max_message_bytes"))
        self.quota_kib = int(svc.settings.get("storage", "quota_mib")) * 1024
        self._tasks: set[asyncio.Task[None]] = set()

    async def authenticate(self, mechanism: str, username: str, secret: str, peer: str,
                           tls: bool, client_id: str | None) -> Principal | Refusal:
        return await self._gate.authenticate(PROTOCOL, mechanism, username, secret, peer, tls,
                                             client_id)

    async def go_live(self, principal: Principal, session_id: str, peer: str,
                      on_close: Callable[[Decision], None], client: str | None) -> None:
        """Register the signed-in session; a door closed meanwhile ends it at once."""
        self._registry.register(LiveSession(session_id, principal.account_id,
                                            principal.address, PROTOCOL, principal.method,
                                            peer, on_close,
                                            credential_epoch=principal.credential_epoch,
                                            credential_id=principal.credential_id,
                                            client=client))
        decision = await self._gate.recheck(principal, PROTOCOL, peer)
        if not decision.allowed:
            self._registry.close_denied({session_id: decision})

    def describe(self, principal: Principal, session_id: str, client: str | None) -> None:
        """The signed-in session's client named itself (ID after the sign-in)."""
        self._registry.describe(session_id, principal.account_id, client)

    def end(self, principal: Principal, session_id: str) -> None:
        self._registry.unregister(session_id, principal.account_id)

    async def read(self, operation: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            with self.svc.reader.connect() as conn:
                return operation(conn, *args)
        return await asyncio.to_thread(run)

    async def write(self, operation: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            with self.svc.engine.begin() as conn:
                return operation(conn, *args)
        return await asyncio.to_thread(run)

    async def append(self, account_id: int, mailbox: str, items: list[messages.Incoming]
                     ) -> CopyResult:
        return await asyncio.to_thread(transfer.append, self.svc, account_id, mailbox, items)

    def read_range(self, digest: str, start: int, end: int) -> bytes:
        return self.blobs.read_range(digest, start, end)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on the loop, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def now(self) -> float:
        return self.svc.clock()

