"""The asyncio adapter of the POP3 door: sockets in, `Pop3Core` events, backend calls out.

One `asyncio.Protocol` per connection. Commands that need no backend call (STAT, LIST, DELE,
...) are answered straight from `data_received`; a task exists only while a backend call or a
message transfer is in flight, so an idle session is a transport, a protocol and a core, with
no task and no timer. One periodic sweep per listener enforces the idle timeout (RFC 1939
autologout: close without UPDATE, nothing deleted, nothing sent) and, after many sessions have
closed, gives the memory they freed back to the system. Until a session signs in, the
server's `PreauthLimiter` holds its place: a client address with too many sessions not signed
in yet is refused at once, and a session not signed in by the deadline is told so and closed.
TLS (pop3s, STLS) runs on `protocols.tlslayer`.

Backpressure both ways: messages go out in `_WRITE_SIZE` slices, waiting for the transport
to drain; while the transport is full or a backend call is running, reading pauses once
`_INPUT_HIGH_WATER` octets are buffered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import uuid
from collections.abc import Callable, Iterable, Iterator

from mailgate import memory
from mailgate.protocols import tlslayer
from mailgate.protocols.pop3 import replies
from mailgate.protocols.pop3.backend import Pop3Backend, Principal
from mailgate.protocols.pop3.core import Pop3Core
from mailgate.protocols.pop3.events import (
    Authenticate,
    Close,
    CommitDeletes,
    Event,
    LoadMessage,
    NeedData,
    OpenMaildrop,
    StartTLS,
)
from mailgate.protocols.pop3.wire import reply_line
from mailgate.protocols.preauth import Admission, PreauthLimiter

logger = logging.getLogger("mailgate.pop3")

_WRITE_SIZE = 256 * 1024
_INPUT_HIGH_WATER = 64 * 1024
_SWEEPS_PER_TIMEOUT = 4
_MAX_SWEEP_INTERVAL = 30.0
_TRIM_AFTER_CLOSES = 256  # sessions closed since the last sweep gave memory back


async def start_pop3_server(
    backend: Pop3Backend,
    host: str | None,
    port: int | None,
    ssl_context: ssl.SSLContext | None,
    implicit_tls: bool,
    *,
    preauth: PreauthLimiter,
    idle_timeout: float = 600.0,
    sock: socket.socket | None = None,
) -> asyncio.Server:
    """Listen for POP3 on host:port (or on `sock`, already bound): `pop3` (STLS offered when
    `ssl_context` is given) or, with `implicit_tls`, `pop3s`. Sessions idle for
    `idle_timeout` seconds are closed; `preauth` (one per server) admits and times the
    sessions that have not signed in."""
    if implicit_tls and ssl_context is None:
        raise ValueError("implicit TLS needs an ssl_context")
    loop = asyncio.get_running_loop()
    listener = _Listener(loop, backend, ssl_context, implicit_tls, idle_timeout, preauth)

    def session() -> _Session:
        return _Session(listener)

    factory: Callable[[], asyncio.BaseProtocol] = session
    if implicit_tls and ssl_context is not None:
        factory = tlslayer.implicit_tls(session, ssl_context, preauth.signin_deadline)
    server = await loop.create_server(factory, host, port, sock=sock, backlog=1024)
    listener.sweep_while_serving(server)
    return server


class _Listener:
    """What every session of one listening socket shares, and the idle sweep."""

    __slots__ = (
        "_interval",
        "_server",
        "backend",
        "closed_since_trim",
        "crlf_messages",
        "idle_timeout",
        "implicit_tls",
        "loop",
        "preauth",
        "read_message_now",
        "sessions",
        "ssl_context",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        backend: Pop3Backend,
        ssl_context: ssl.SSLContext | None,
        implicit_tls: bool,
        idle_timeout: float,
        preauth: PreauthLimiter,
    ) -> None:
        self.loop = loop
        self.backend = backend
        self.ssl_context = ssl_context
        self.implicit_tls = implicit_tls
        self.crlf_messages = bool(getattr(backend, "messages_are_crlf", False))
        self.read_message_now = getattr(backend, "read_message_now", None)
        self.idle_timeout = idle_timeout
        self.preauth = preauth
        self.sessions: set[_Session] = set()
        self.closed_since_trim = 0
        self._interval = min(idle_timeout / _SWEEPS_PER_TIMEOUT, _MAX_SWEEP_INTERVAL)
        self._server: asyncio.Server | None = None

    def sweep_while_serving(self, server: asyncio.Server) -> None:
        self._server = server
        self.loop.call_later(self._interval, self._sweep)

    def _sweep(self) -> None:
        deadline = self.loop.time() - self.idle_timeout
        for session in [s for s in self.sessions if s.last_activity < deadline]:
            session.expire()
        if self.closed_since_trim >= _TRIM_AFTER_CLOSES:
            self.closed_since_trim = 0
            memory.give_back_freed_memory()
        assert self._server is not None
        if self._server.is_serving() or self.sessions:
            self.loop.call_later(self._interval, self._sweep)


class _Session(asyncio.Protocol):
    """One POP3 connection."""

    __slots__ = (
        "_admission",
        "_closed",
        "_core",
        "_drain_waiter",
        "_eof",
        "_id",
        "_listener",
        "_peer",
        "_principal",
        "_reading_paused",
        "_released",
        "_task",
        "_transport",
        "_upgrading",
        "_writing_paused",
        "last_activity",
    )

    def __init__(self, listener: _Listener) -> None:
        self._listener = listener
        self._id = uuid.uuid4().hex
        self._peer = ""
        self._transport: asyncio.Transport | None = None
        self._core: Pop3Core | None = None
        self._task: asyncio.Task[None] | None = None
        self._principal: Principal | None = None  # set while this session holds a maildrop
        self._admission: Admission | None = None  # its place until it signs in
        self._released = False
        self._closed = False
        self._eof = False
        self._upgrading = False
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.last_activity = listener.loop.time()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peername = transport.get_extra_info("peername")
        self._peer = str(peername[0]) if isinstance(peername, tuple) else ""
        listener = self._listener
        self._admission = listener.preauth.admit(self._peer, self.signin_deadline_passed)
        if self._admission is None:
            logger.debug("session %s: too many sessions not signed in from %s, refused",
                         self._id, self._peer)
            self._closed = True
            transport.write(reply_line(replies.TOO_MANY_CONNECTIONS))
            transport.close()
            return
        self._core = Pop3Core(
            tls_available=listener.ssl_context is not None,
            tls_active=listener.implicit_tls,
            loopback=_is_loopback(self._peer),
            crlf_messages=listener.crlf_messages,
        )
        listener.sessions.add(self)
        logger.debug("session %s: connected from %s", self._id, self._peer)
        self._flush()

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self.last_activity = self._listener.loop.time()
        core = self._require_core()
        if self._upgrading:
            # start_tls() can deliver data that came with the client's Finished message
            # before it returns: it is decrypted, so TLS is up for the core already.
            self._upgrading = False
            core.tls_started()
        core.receive_data(data)
        if self._task is None:
            self._pump()
        elif core.buffered > _INPUT_HIGH_WATER:
            self._pause_reading()

    def eof_received(self) -> bool:
        # Keep a plaintext socket open until the commands already received are answered
        # (see _pump); asyncio ignores (and warns about) True on TLS transports.
        self._eof = True
        if self._closed:
            return False
        if self._task is None:
            self._pump()
        return not self._require_core().tls_active

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._listener.sessions.discard(self)
        self._listener.closed_since_trim += 1
        if self._admission is not None:
            self._admission.closed()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        logger.debug("session %s: disconnected (%s)", self._id, exc or "closed")
        if self._task is None and self._principal is not None:
            self._task = self._listener.loop.create_task(self._release())

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        if self._task is None:
            self._pump()

    # -- called by the listener and the backend --------------------------------------------

    def expire(self) -> None:
        """The idle timeout passed: close without UPDATE and without a word (RFC 1939)."""
        logger.info("session %s: idle for %ss, closing", self._id, self._listener.idle_timeout)
        self._abort()

    def signin_deadline_passed(self) -> None:
        """Not signed in by the deadline, busy or not: say so and close (the preauth timer)."""
        if self._closed:
            return
        logger.info("session %s: not signed in after %ss, closing", self._id,
                    self._listener.preauth.signin_deadline)
        if self._upgrading:  # mid-handshake: no room for a plaintext answer
            self._abort()
            return
        self._closed = True
        transport = self._require_transport()
        transport.write(reply_line(replies.SIGNIN_TOO_SLOW))
        if transport.get_write_buffer_size():  # a client that does not read is cut off
            transport.abort()
        else:
            transport.close()

    def door_closed(self) -> None:
        """The backend's on_close: the door closed under a live session (SPEC §5)."""
        if not self._closed:
            logger.info("session %s: door closed, ending the session", self._id)
            self._abort()

    # -- driving the core ------------------------------------------------------------------

    def _pump(self) -> None:
        """Run the core until it needs data or a backend call (which then gets a task)."""
        core = self._require_core()
        try:
            while not self._closed:
                if self._writing_paused:
                    self._pause_reading()  # resume_writing() pumps again
                    return
                event = core.next_event()
                self._flush()
                if isinstance(event, NeedData) and not self._eof:
                    self._resume_reading()
                    return
                if isinstance(event, NeedData | Close):
                    self._closed = True
                    self._require_transport().close()
                    return
                if isinstance(event, LoadMessage) and self._load_inline(event):
                    continue  # answered without a task: the next turn sends it
                self._task = self._listener.loop.create_task(self._perform(event))
                return
        except Exception:
            logger.exception("session %s: internal error", self._id)
            self._abort()

    def _load_inline(self, event: LoadMessage) -> bool:
        """RETR/TOP of a message the backend can hand over at once (most mail is small)."""
        read_now = self._listener.read_message_now
        if read_now is None:
            return False
        core = self._require_core()
        try:
            message = read_now(self._require_principal(), event.message_id)
        except Exception:
            logger.exception("session %s: backend failure on LoadMessage", self._id)
            core.backend_failed()
            return True
        if message is None:
            return False
        core.message_loaded(message)
        return True

    async def _perform(self, event: Event) -> None:
        try:
            await self._call_backend(event)
        except asyncio.CancelledError:
            self._abort()
            await self._release()
            raise
        except Exception:
            logger.exception("session %s: backend failure on %s", self._id, type(event).__name__)
            if not self._closed:
                self._require_core().backend_failed()
        finally:
            self._task = None
        if self._closed:
            await self._release()
        else:
            self._pump()

    async def _call_backend(self, event: Event) -> None:
        if self._closed:  # e.g. the door closed between parsing QUIT and committing
            return
        backend = self._listener.backend
        core = self._require_core()
        if isinstance(event, Authenticate):
            result = await backend.authenticate(
                event.mechanism, event.username, event.secret, self._peer, core.tls_active
            )
            if not self._closed:
                core.authenticated(result)
        elif isinstance(event, OpenMaildrop):
            entries = await backend.open_maildrop(
                event.principal, self._id, self._peer, self.door_closed
            )
            if entries is not None:
                self._principal = event.principal
                self._require_admission().signed_in()
            if not self._closed:
                core.maildrop_opened(entries)
        elif isinstance(event, LoadMessage):
            message = await backend.read_message(self._require_principal(), event.message_id)
            if not self._closed:
                core.message_loaded(message)
                await self._send_draining(core.data_to_send())
        elif isinstance(event, CommitDeletes):
            await backend.commit_deletes(self._require_principal(), list(event.message_ids))
            core.deletes_committed()
        elif isinstance(event, StartTLS):
            await self._start_tls()

    async def _start_tls(self) -> None:
        context = self._listener.ssl_context
        assert context is not None
        # From here on, the raw transport feeds the TLS protocol: whatever reaches
        # data_received() has been decrypted (see there).
        self._upgrading = True
        try:
            transport = await tlslayer.start_tls(
                self._require_transport(), self, context, self._listener.preauth.signin_deadline
            )
        except Exception as exc:  # handshake failure, timeout, peer gone
            logger.info("session %s: TLS negotiation failed: %r", self._id, exc)
            self._closed = True
            return
        assert transport is not None  # typeshed allows None; start_tls never returns it
        if self._closed:  # expired while negotiating
            transport.abort()
            return
        if self._reading_paused:  # paused during the swap: that was the raw transport
            self._require_transport().resume_reading()
        self._transport = transport
        self._reading_paused = self._writing_paused = False
        if self._upgrading:
            self._upgrading = False
            self._require_core().tls_started()

    async def _release(self) -> None:
        """Give the maildrop back, once, whatever ended the session."""
        principal = self._principal
        if principal is None or self._released:
            return
        self._released = True
        try:
            await self._listener.backend.close_maildrop(principal, self._id)
        except Exception:
            logger.exception("session %s: close_maildrop failed", self._id)

    # -- transport -------------------------------------------------------------------------

    def _flush(self) -> None:
        chunks = self._require_core().data_to_send()
        if chunks and not self._closed:
            self._require_transport().write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    async def _send_draining(self, chunks: list[bytes]) -> None:
        for piece in _slices(chunks, _WRITE_SIZE):
            if self._closed:
                return
            self._require_transport().write(piece)
            if self._writing_paused:
                self._drain_waiter = self._listener.loop.create_future()
                await self._drain_waiter
                self._drain_waiter = None
            self.last_activity = self._listener.loop.time()

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self._closed:
            self._reading_paused = True
            self._require_transport().pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and not self._closed:
            self._reading_paused = False
            self._require_transport().resume_reading()

    def _abort(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.abort()

    def _require_core(self) -> Pop3Core:
        assert self._core is not None
        return self._core

    def _require_transport(self) -> asyncio.Transport:
        assert self._transport is not None
        return self._transport

    def _require_admission(self) -> Admission:
        assert self._admission is not None
        return self._admission

    def _require_principal(self) -> Principal:
        assert self._principal is not None
        return self._principal


def _slices(chunks: Iterable[bytes], size: int) -> Iterator[bytes | memoryview]:
    """The chunks regrouped into writes of about `size` octets, without copying big ones."""
    pending = b""
    for chunk in chunks:
        view = memoryview(chunk)
        if pending:
            take = size - len(pending)
            pending += view[:take]
            view = view[take:]
            if len(pending) < size:
                continue
            yield pending
            pending = b""
        while len(view) >= size:
            yield view[:size]
            view = view[size:]
        pending = bytes(view)
    if pending:
        yield pending


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
