"""One SMTP/LMTP connection on aiosmtpd, with what every mailgate door adds to it.

aiosmtpd runs the protocol (command parsing, DATA with dot-unstuffing, SIZE, STARTTLS); this
subclass adds the shared pre-sign-in limit (`protocols.preauth`), enhanced status codes on
aiosmtpd's own replies, replies that never fail to encode, the end of a live session
whose door closes (`421 4.7.0`, SPEC §5), and an idle timeout that counts from the last octet
received (also inside DATA) and says `421 4.4.2` before closing, BDAT (CHUNKING,
RFC 3030, `chunking`): its chunks end in the handler's `handle_DATA`, as DATA does, and
replies to a client that shut its side after pipelining its commands. The handler (inbound
or submission) decides.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, syntax

from mailgate.auth.gate import Principal, is_loopback
from mailgate.policy.decision import Decision
from mailgate.protocols import refusals
from mailgate.protocols.preauth import Admission, PreauthLimiter
from mailgate.protocols.smtp import chunking, dsn, replies

logger = logging.getLogger("mailgate.smtp")
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter


class MailEnvelope(Envelope):
    """aiosmtpd's envelope plus the accounts the accepted recipients reach, and the
    recipients of other domains (submission only)."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, str] = {}  # envelope recipient -> account address
        self.remote: list[str] = []
        self.keep_sent = True  # the plan's Sent copy, as MAIL found it (submission)
        self.chunks: chunking.Chunks | None = None  # once BDAT began the message
        self.dsn = dsn.MessageRequest()  # MAIL's RET and ENVID (submission)
        self.notify: dict[str, dsn.RecipientRequest] = {}  # RCPT's NOTIFY and ORCPT


class MailDoor(SMTP):
    """One connection to an SMTP door (`smtp`, `submission`, `submissions`)."""

    #: said when the pre-sign-in deadline passes
    deadline_reply = replies.SIGNIN_TOO_SLOW

    def __init__(self, handler: Any, *, preauth: PreauthLimiter, implicit_tls: bool,
                 **options: Any) -> None:
        super().__init__(handler, **options)
        # aiosmtpd keeps these limits in one dict shared by every connection (and clears it
        # for each new one): each connection gets its own, with room for an AUTH line.
        self.command_size_limits = collections.defaultdict(
            lambda: self.command_size_limit, {"AUTH": self.line_length_limit})
        self.id = uuid.uuid4().hex[:16]
        self.preauth = preauth
        self.implicit_tls = implicit_tls
        self.peer_ip = ""
        self.principal: Principal | None = None
        self.door_shut = False
        self.raw_replies = 0  # the next n replies are EHLO/HELO lines: no enhanced code
        self._admission: Admission | None = None
        self._admitted = False

    @property
    def tls_active(self) -> bool:
        return self.implicit_tls or self._tls_protocol is not None

    @property
    def loopback(self) -> bool:
        return is_loopback(self.peer_ip)

    def _create_envelope(self) -> MailEnvelope:
        return MailEnvelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._admitted:  # again after STARTTLS: the same connection
            super().connection_made(transport)
            return
        self._admitted = True
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if isinstance(peer, tuple) else ""
        self._admission = self.preauth.admit(self.peer_ip, self.deadline_passed)
        if self._admission is None:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(f"{replies.TOO_MANY_CONNECTIONS}\r\n".encode())
            transport.close()
            self.door_shut = True
            return
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._admission is not None:
            self._admission.closed()
        if self.session is None:  # refused before the protocol started
            return
        super().connection_lost(error)
        self.event_handler.connection_ended(self)

    def signed_in(self) -> None:
        """The connection signed in: it no longer counts as unauthenticated."""
        if self._admission is not None:
            self._admission.signed_in()
            self._admission = None

    def renew_admission(self) -> None:
        """A connection that cannot sign in (inbound) did useful work: a new deadline."""
        if self._admission is not None:
            self._admission.signed_in()
            self._admission = self.preauth.admit(self.peer_ip, self.deadline_passed)

    def data_received(self, data: bytes) -> None:
        """Any octet from the client restarts the idle timeout: a DATA that stalls ends
        after it, a slow but moving one does not (aiosmtpd counts from the last command)."""
        if self._timeout_handle is not None:
            self._reset_timeout()
        super().data_received(data)

    def _timeout_cb(self) -> None:
        """aiosmtpd's idle timeout, said before the connection closes."""
        logger.info("connection %s from %s: idle timeout", self.id, self.peer_ip)
        self._say_and_close(replies.IDLE_TIMEOUT)

    def deadline_passed(self) -> None:
        logger.info("connection %s from %s: time limit before sign-in reached", self.id,
                    self.peer_ip)
        self._say_and_close(self.deadline_reply)

    def door_closed(self, decision: Decision) -> None:
        """The live session's door closed (compromise, policy change): 421 and close."""
        logger.info("connection %s: door closed (%s), ending the session", self.id,
                    decision.reason)
        self.door_shut = True
        self._say_and_close(refusals.smtp_closed(decision))

    def _say_and_close(self, line: str) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self._encode(replies.with_enhanced_code(line)))
        transport.close()

    def _encode(self, line: str) -> bytes:
        return line.encode("utf-8", "replace") + b"\r\n"

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if self.envelope is not None and self.envelope.chunks is not None:
            await self.push(replies.DATA_AFTER_BDAT)
            return
        await super().smtp_DATA(arg)

    @syntax("BDAT size [LAST]")
    async def smtp_BDAT(self, arg: str | None) -> None:
        """One chunk of the message: exactly its size is read, whatever the reply; a refused
        chunk is read and thrown away (the reply goes first), so the stream stays in step."""
        chunk = chunking.parse(arg)
        if chunk is None:  # where the chunk ends is unknown: nothing after it can be read
            self._say_and_close(replies.BDAT_SYNTAX)
            return
        refusal = self._chunk_refusal(chunk)
        envelope = self.envelope
        if refusal is not None:
            began = isinstance(envelope, MailEnvelope) and envelope.chunks is not None
            await self.push(self.final_reply(refusal) if chunk.last and began else refusal)
            if await self._discard(chunk.size) and chunk.last and began:
                self._set_post_data_state()  # the failed transaction is over
            return
        assert isinstance(envelope, MailEnvelope) and envelope.chunks is not None
        try:
            data = await self._reader.readexactly(chunk.size)
        except asyncio.IncompleteReadError:  # closed mid-chunk: nothing is kept
            self._set_post_data_state()
            return
        envelope.chunks.add(data)
        if chunk.last:
            await self.push(await self._chunks_delivered(envelope))
        else:
            await self.push(replies.chunk_received(chunk.size))

    def _chunk_refusal(self, chunk: chunking.Chunk) -> str | None:
        """Why this chunk cannot be taken (it is then discarded), or None: take it."""
        envelope = self.envelope
        assert isinstance(envelope, MailEnvelope) and self.session is not None
        if not self.session.extended_smtp:
            return replies.BDAT_NEEDS_EHLO
        if not envelope.mail_from:
            return replies.BDAT_NEEDS_MAIL
        if not envelope.rcpt_tos:
            return replies.BDAT_NEEDS_RCPT
        if envelope.chunks is None:
            envelope.chunks = chunking.Chunks()
        if envelope.chunks.refusal is None:
            limit = self.data_size_limit
            if limit and envelope.chunks.size + chunk.size > limit:
                envelope.chunks.fail(replies.too_big(limit))
        return envelope.chunks.refusal

    async def _discard(self, size: int) -> bool:
        """Read `size` octets and keep none; False when the connection ended first."""
        while size > 0:
            piece = await self._reader.read(min(size, 1 << 16))
            if not piece:
                return False
            size -= len(piece)
        return True

    async def _chunks_delivered(self, envelope: MailEnvelope) -> str:
        """BDAT LAST: the chunks go to the handler as one message, the way DATA's do."""
        assert envelope.chunks is not None
        content = envelope.chunks.content()
        logger.info("connection %s: a message of %d octets in %d BDAT chunk(s)", self.id,
                    len(content), len(envelope.chunks.parts))
        try:
            if chunking.longest_line(content) > self.line_length_limit:
                return self.final_reply(replies.LINE_TOO_LONG)
            envelope.content = envelope.original_content = content
            status = await self._call_handler_hook("DATA")
        finally:
            self._set_post_data_state()
        assert isinstance(status, str)
        return status

    def final_reply(self, refusal: str) -> str:
        """A refusal at the end of a message (BDAT LAST): one reply in SMTP."""
        return refusal

    def eof_received(self) -> bool | None:
        """The client closed its side of a plain TCP connection. What it sent before is
        still served and answered (Exim sends BDAT LAST and QUIT, shuts its side, then reads
        the replies); the connection ends when the handler reads past the end. aiosmtpd
        ends it at once; so does TLS here (asyncio cannot half-close a TLS connection)."""
        if self.session is None or self.session.ssl is not None or self.implicit_tls:
            return super().eof_received()
        return asyncio.StreamReaderProtocol.eof_received(self)

    async def handle_exception(self, error: Exception) -> str:
        if not isinstance(error, asyncio.IncompleteReadError):
            return await super().handle_exception(error)
        # read past the end of a half-closed connection: everything sent was served
        assert self._handler_coroutine is not None
        self._say_and_close(replies.CLIENT_ENDED)
        self._handler_coroutine.cancel()
        return replies.CLIENT_ENDED

    async def push(self, status: str | bytes) -> None:
        """Every reply goes out here: an enhanced code added, never an encoding error;
        nothing once the connection is closing."""
        transport = self.transport
        if transport is None or transport.is_closing():
            await asyncio.sleep(0)  # where a cancelled handler stops
            return
        if isinstance(status, bytes):  # SASL challenges
            await super().push(status)
            return
        lines = status.split("\r\n")
        if self.raw_replies > 0:
            self.raw_replies -= 1
        else:
            limit = self.data_size_limit or 0
            lines = [replies.with_enhanced_code(replies.too_big_for(line, limit))
                     for line in lines]
        await super().push(b"\r\n".join(line.encode("utf-8", "replace") for line in lines))


class InboundDoor(MailDoor):
    """One connection to the inbound `smtp` listener (MX role): nobody signs in here."""

    deadline_reply = replies.TIME_LIMIT


class LmtpDoor(InboundDoor, LMTP):
    """One connection to the `lmtp` listener (LHLO, one reply per recipient after DATA)."""

    def final_reply(self, refusal: str) -> str:
        """LMTP answers the end of a message once per accepted recipient (RFC 2033 §4.2)."""
        assert self.envelope is not None
        return "\r\n".join(refusal for _ in self.envelope.rcpt_tos)
