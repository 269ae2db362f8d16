"""Serving the SMTP doors: `submission`, `submissions`, `smtp` and `lmtp` on bound sockets.

Each connection is a `MailDoor` of aiosmtpd with the listener's handler. `submissions` and
`smtp`-style STARTTLS use the node's certificate; implicit TLS runs on `protocols.tlslayer`.
The message size limit is `storage.max_message_bytes` less room for the trace headers; a
connection silent for `server.smtp_idle_timeout_seconds` is closed with `421 4.4.2`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from mailgate.protocols import tlslayer
from mailgate.protocols.preauth import PreauthLimiter
from mailgate.protocols.smtp.door import InboundDoor, LmtpDoor, MailDoor
from mailgate.protocols.smtp.handler import Handler
from mailgate.protocols.smtp.submission import SubmissionDoor

#: octets kept free under storage.max_message_bytes for Return-Path and Received
TRACE_ROOM = 4096


@dataclass(frozen=True)
class Door:
    """How one listener serves: its connection class, TLS, and SMTPUTF8."""

    connection: type[MailDoor]
    starttls: bool
    implicit_tls: bool


DOORS: dict[str, Door] = {
    "submission": Door(SubmissionDoor, starttls=True, implicit_tls=False),
    "submissions": Door(SubmissionDoor, starttls=False, implicit_tls=True),
    "smtp": Door(InboundDoor, starttls=True, implicit_tls=False),
    "lmtp": Door(LmtpDoor, starttls=False, implicit_tls=False),
}


async def start_smtp_server(name: str, handler: Handler, sock: socket.socket,
                            tls: ssl.SSLContext, preauth: PreauthLimiter,
                            max_message_bytes: int) -> asyncio.Server:
    """Serve the listener `name` (a key of DOORS) on `sock`."""
    door = DOORS[name]
    loop = asyncio.get_running_loop()
    idle_timeout = float(handler.svc.settings.get("server", "smtp_idle_timeout_seconds"))

    def connection() -> MailDoor:
        return door.connection(
            handler, preauth=preauth, implicit_tls=door.implicit_tls,
            hostname=handler.hostname, ident="ESMTP mailgate",
            data_size_limit=max(max_message_bytes - TRACE_ROOM, 1024),
            enable_SMTPUTF8=True, tls_context=tls if door.starttls else None,
            timeout=idle_timeout, auth_require_tls=False, loop=loop)

    factory: Callable[[], asyncio.BaseProtocol] = connection
    if door.implicit_tls:
        factory = tlslayer.implicit_tls(connection, tls, preauth.signin_deadline)
    return await loop.create_server(factory, sock=sock, backlog=1024)
