"""The asyncio adapter of the IMAP door: sockets in, framed commands to `ImapSession`.

One task per connection reads, frames (`framer.CommandFramer`: `PREAUTH_LIMITS` until
sign-in, the message size limit after) and runs one command at a time, so pipelined
commands are answered in order; replies are written as they are made and the task waits
for the socket to drain after each command, so a client that does not read holds about
one command's replies in memory. STARTTLS discards what the client sent before the
handshake (command injection). One sweep per listener ends connections idle past the
timeout (RFC 9051 §5.4: at least 30 minutes once signed in) and, after a burst of sign-ins
or closes, gives the memory they freed back to the system.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import zlib
from collections.abc import Callable

from mailgate import memory
from mailgate.auth.gate import is_loopback
from mailgate.protocols import tlslayer
from mailgate.protocols.imap.framer import (
    NEED_DATA,
    CommandFramer,
    FramingError,
    FramingProblem,
    Limits,
    NeedContinuation,
    Received,
)
from mailgate.protocols.imap.service import ImapService
from mailgate.protocols.imap.session import ImapSession
from mailgate.protocols.preauth import Admission, PreauthLimiter

log = logging.getLogger("mailgate.imap")

_READ_SIZE = 65536
_SWEEP_INTERVAL = 15.0
#: Sign-ins and closes since the last sweep that gave freed memory back, before the next does.
_TRIM_AFTER_CHANGES = 256
#: How long a closing connection waits for the client's side of the TLS close
#: (close_notify) before its socket is dropped; unbounded, one silent client held up
#: `serve`'s exit on SIGTERM for asyncio's 30 s shutdown timeout.
_CLOSE_GRACE = 2.0
#: How long the server goes on reading (and dropping) what a client still sends after the
#: server's last reply: closing with unread input resets the connection, and a reset can
#: destroy that reply (a BYE) in the client's receive buffer before the client reads it.
_LINGER = 1.0
#: Before sign-in a command carries at most a user name and a password: a client not signed
#: in cannot make the server hold more than this, even with non-synchronizing literals.
PREAUTH_LIMITS = Limits(literal=8192, command=65536)
#: The tagged answer to each framing error (the framer has already dropped the command).
_FRAMING_STATUS = {
    FramingProblem.LINE_TOO_LONG: "BAD [TOOBIG]",
    FramingProblem.LITERAL_TOO_LARGE: "NO [TOOBIG]",  # no "+" was sent: nothing was read
    FramingProblem.NONSYNC_TOO_LARGE: "BAD [TOOBIG]",  # its octets are skipped as they come
}


async def start_imap_server(backend: ImapService, sock: socket.socket,
                            ssl_context: ssl.SSLContext | None, implicit_tls: bool,
                            preauth: PreauthLimiter, *,
                            idle_timeout: float = 1800.0) -> asyncio.Server:
    """Listen for IMAP on a bound socket: `imap` (STARTTLS offered when `ssl_context` is
    given) or, with `implicit_tls`, `imaps`. `preauth` (one per server) admits and times
    the connections that have not signed in."""
    if implicit_tls and ssl_context is None:
        raise ValueError("implicit TLS needs an ssl_context")
    loop = asyncio.get_running_loop()
    listener = _Listener(backend, ssl_context, implicit_tls, idle_timeout, preauth)

    def streams() -> asyncio.StreamReaderProtocol:  # what asyncio.start_server makes
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(limit=_READ_SIZE),
                                            listener.serve)

    factory: Callable[[], asyncio.BaseProtocol] = streams
    if implicit_tls and ssl_context is not None:
        factory = tlslayer.implicit_tls(streams, ssl_context, preauth.signin_deadline)
    server = await loop.create_server(factory, sock=sock, backlog=1024)
    listener.sweep_while_serving(server)
    return server


class _Listener:
    """What the connections of one listening socket share, and the idle sweep."""

    def __init__(self, backend: ImapService, ssl_context: ssl.SSLContext | None,
                 implicit_tls: bool, idle_timeout: float, preauth: PreauthLimiter) -> None:
        self.backend = backend
        self.ssl_context = ssl_context
        self.implicit_tls = implicit_tls
        self.idle_timeout = idle_timeout
        self.preauth = preauth
        self.connections: set[_Connection] = set()
        self.changes_since_trim = 0
        self.limits = Limits(literal=backend.max_message_bytes,
                             command=backend.max_message_bytes * 2 + 65536)
        self._server: asyncio.Server | None = None

    def sweep_while_serving(self, server: asyncio.Server) -> None:
        self._server = server
        asyncio.get_running_loop().call_later(_SWEEP_INTERVAL, self._sweep)

    def _sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        for conn in list(self.connections):
            conn.expire_if_idle(now)
        if self.changes_since_trim >= _TRIM_AFTER_CHANGES:
            self.changes_since_trim = 0
            memory.give_back_freed_memory()
        assert self._server is not None
        if self._server.is_serving() or self.connections:
            asyncio.get_running_loop().call_later(_SWEEP_INTERVAL, self._sweep)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(self, reader, writer)
        self.connections.add(conn)
        try:
            await conn.run()
        except asyncio.CancelledError:  # the server is stopping: this task ends here
            conn.shut_down()
        finally:
            self.connections.discard(conn)
            self.changes_since_trim += 1


class _Connection:
    """One IMAP connection: the `Output` of its session."""

    def __init__(self, listener: _Listener, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self._listener = listener
        self._reader = reader
        self._writer = writer
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if isinstance(peername, tuple) else ""
        self._framer = CommandFramer(PREAUTH_LIMITS)
        self._session = ImapSession(listener.backend, self, peer=peer,
                                    loopback=is_loopback(peer),
                                    tls_active=listener.implicit_tls,
                                    tls_available=listener.ssl_context is not None)
        self.last_activity = asyncio.get_running_loop().time()
        self._admission: Admission | None = None
        self._deflate: zlib._Compress | None = None
        self._inflate: zlib._Decompress | None = None
        self._ended_output = False

    # -- Output ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing() and not self._ended_output:
            if self._deflate is not None:
                data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
            self._writer.write(data)

    def start_compression(self) -> None:
        """COMPRESS=DEFLATE (RFC 4978): raw DEFLATE both ways from the next octet on."""
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)

    async def drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, RuntimeError):
            self._session.finish()

    async def start_tls(self) -> bool:
        """STARTTLS, as StreamWriter.start_tls does it, on the shared-buffer TLS layer."""
        context = self._listener.ssl_context
        assert context is not None
        self._framer.clear()  # nothing sent before the handshake counts
        writer = self._writer
        protocol = writer._protocol  # type: ignore[attr-defined]
        try:
            await writer.drain()
            writer._transport = await tlslayer.start_tls(  # type: ignore[attr-defined]
                writer.transport, protocol, context, self._listener.preauth.signin_deadline)
        except (TimeoutError, OSError, ssl.SSLError, ConnectionError) as exc:
            log.info("imap session %s: TLS negotiation failed: %r", self._session.id, exc)
            return False
        protocol._replace_writer(writer)
        return True

    def signed_in(self) -> None:
        self._framer.use_limits(self._listener.limits)
        self._listener.changes_since_trim += 1
        if self._admission is not None:
            self._admission.signed_in()

    def close(self) -> None:
        """End the output: a plain TCP connection is half-closed (the client sees the last
        reply, then the end) and closed once `run` has lingered; TLS closes at once."""
        if self._writer.is_closing() or self._ended_output:
            return
        if self._writer.can_write_eof():
            self._ended_output = True
            try:
                self._writer.write_eof()
                return
            except OSError:  # the client has gone already
                pass
        self._writer.close()

    async def _linger(self) -> None:
        """Read and drop the client's input until it closes too, for `_LINGER` at most."""
        if not self._ended_output:
            return
        deadline = asyncio.get_running_loop().time() + _LINGER
        try:
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                if not await asyncio.wait_for(self._reader.read(_READ_SIZE), left):
                    return
        except (TimeoutError, ConnectionError, OSError):
            return

    # -- the connection's life ------------------------------------------------------------

    def shut_down(self) -> None:
        self._session.bye("The server is shutting down.")

    def expire_if_idle(self, now: float) -> None:
        if now - self.last_activity > self._listener.idle_timeout:
            self._session.bye("Autologout: idle for too long.")

    async def run(self) -> None:
        session = self._session
        self._admission = self._listener.preauth.admit(
            session.peer, lambda: session.bye("Sign-in took too long."))
        if self._admission is None:
            self.write(b"* BYE [UNAVAILABLE] Too many connections from your address.\r\n")
            self._writer.close()
            return
        try:
            self.write(session.greeting())
            while not session.closed:
                event = self._framer.next_event(plain_line=session.wants_line)
                if event is NEED_DATA:
                    await self.drain()
                    data = await self._reader.read(_READ_SIZE)
                    if not data:
                        break
                    self.last_activity = asyncio.get_running_loop().time()
                    if self._inflate is not None:
                        data = self._inflate.decompress(data, _READ_SIZE * 16)
                        if self._inflate.unconsumed_tail:  # a deflate bomb: not from a client
                            session.bye("Compressed input too large.")
                            break
                    self._framer.receive_data(data)
                elif isinstance(event, NeedContinuation):
                    self.write(b"+ Ready for literal data\r\n")
                elif isinstance(event, FramingError):
                    session.bad(event.tag, event.message, _FRAMING_STATUS[event.kind])
                elif isinstance(event, Received):
                    await self._run_command(event)
                    await self.drain()  # pipelined commands wait for the client to read
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, zlib.error):
            pass
        finally:
            self._admission.closed()
            session.finish()
            await self._linger()
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), _CLOSE_GRACE)
            except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
                self._writer.transport.abort()

    async def _run_command(self, event: Received) -> None:
        try:
            await self._session.handle(event.command)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("imap session %s: internal error", self._session.id)
            self._session.bye("Internal server error; the session ends here.")
