"""The POP3 door's backend: the gate, the store and the session registry behind `Pop3Backend`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mailgate.auth.gate import Gate, Principal
from mailgate.events.sessions import LiveSession, SessionRegistry
from mailgate.nodes import seen_since
from mailgate.protocols.pop3.backend import MaildropEntry
from mailgate.protocols.refusals import Refusal
from mailgate.service import Service
from mailgate.store import locks, messages

PROTOCOL = "pop"
INLINE_READ_LIMIT = 128 * 1024


class Pop3Service:
    """Implements `Pop3Backend`; one maildrop holder per account across every node ([IN-USE]):
    `_holders` answers for this node's sessions at once, `store.locks` for the other nodes."""

    messages_are_crlf = True  # the store keeps every message with CRLF line ends

    def __init__(self, svc: Service, gate: Gate, registry: SessionRegistry) -> None:
        self._svc = svc
        self._gate = gate
        self._registry = registry
        self._holders: dict[int, str] = {}
        self._messages: dict[str, dict[int, tuple[str, int]]] = {}  # session -> id -> blob
        self._store = messages.blob_store(svc)

    async def authenticate(self, mechanism: str, username: str, secret: str, peer: str,
                           tls: bool) -> Principal | Refusal:
        return await self._gate.authenticate(PROTOCOL, mechanism, username, secret, peer, tls)

    async def open_maildrop(self, principal: Principal, session_id: str, peer: str,
                            on_close: Callable[[], None]) -> list[MaildropEntry] | None:
        if principal.account_id in self._holders:
            return None
        self._holders[principal.account_id] = session_id
        try:
            items = await asyncio.to_thread(self._take_and_load, principal.account_id,
                                            session_id)
        except BaseException:
            del self._holders[principal.account_id]
            raise
        if items is None:  # a session on another node holds it
            del self._holders[principal.account_id]
            return None
        self._messages[session_id] = {i.message_id: (i.digest, i.size) for i in items}
        self._registry.register(LiveSession(
            session_id, principal.account_id, principal.address, PROTOCOL, principal.method,
            peer, lambda _decision: on_close(), credential_epoch=principal.credential_epoch,
            credential_id=principal.credential_id))
        decision = await self._gate.recheck(principal, PROTOCOL, peer)
        if not decision.allowed:  # the door closed between sign-in and registration
            self._registry.close_denied({session_id: decision})
        return [MaildropEntry(i.message_id, i.uidl, i.size) for i in items]

    def _take_and_load(self, account_id: int, session_id: str
                       ) -> list[messages.MaildropItem] | None:
        with self._svc.engine.begin() as conn:
            if not locks.take(conn, account_id, session_id, self._registry.node,
                              self._svc.clock(), seen_since(self._svc)):
                return None
        try:
            with self._svc.reader.connect() as conn:
                return messages.maildrop(conn, account_id)
        except BaseException:
            self._give_back(account_id, session_id)
            raise

    def _give_back(self, account_id: int, session_id: str) -> None:
        with self._svc.engine.begin() as conn:
            locks.release(conn, account_id, session_id)

    def _blob(self, principal: Principal, message_id: int) -> tuple[str, int]:
        session = self._holders.get(principal.account_id)
        blob = self._messages.get(session or "", {}).get(message_id)
        if blob is None:
            raise LookupError(f"message {message_id} is not in this maildrop")
        return blob

    def read_message_now(self, principal: Principal, message_id: int) -> bytes | None:
        """Small messages are read on the spot: they sit in the page cache, and a direct
        read costs less than the hand-off to a worker thread and back."""
        digest, size = self._blob(principal, message_id)
        return self._store.read(digest) if size <= INLINE_READ_LIMIT else None

    async def read_message(self, principal: Principal, message_id: int) -> bytes:
        digest, _ = self._blob(principal, message_id)
        return await asyncio.to_thread(self._store.read, digest)

    async def commit_deletes(self, principal: Principal, message_ids: list[int]) -> None:
        if not message_ids:
            return

        def move() -> None:
            with self._svc.engine.begin() as conn:
                messages.to_recoverable(conn, principal.account_id, message_ids,
                                        self._svc.clock())

        await asyncio.to_thread(move)

    async def close_maildrop(self, principal: Principal, session_id: str) -> None:
        self._messages.pop(session_id, None)
        self._registry.unregister(session_id, principal.account_id)
        if self._holders.get(principal.account_id) == session_id:
            del self._holders[principal.account_id]
            await asyncio.to_thread(self._give_back, principal.account_id, session_id)
