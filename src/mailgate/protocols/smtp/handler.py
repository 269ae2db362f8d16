"""What the inbound and the submission handlers share: EHLO, envelope checks, errors.

aiosmtpd calls `handle_<COMMAND>(server, session, envelope, ...)` on the handler; `server` is
the connection (a `MailDoor`), so one handler serves every connection of a listener. A hook
that returns a reply takes over the command: it records the envelope itself.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiosmtpd.smtp import Session

from mailgate.protocols.smtp import replies, trace
from mailgate.protocols.smtp.addresses import has_control, problem
from mailgate.protocols.smtp.door import MailDoor, MailEnvelope
from mailgate.protocols.smtp.recipients import KnownRecipients, Verdict, classify
from mailgate.service import Service
from mailgate.store.commits import GroupCommit

logger = logging.getLogger("mailgate.smtp")


class Handler:
    """The decisions of one SMTP listener."""

    #: Received: "with" keyword before S/A (RFC 3848)
    kind = "ESMTP"

    def __init__(self, svc: Service, *, max_recipients: int, commits: GroupCommit) -> None:
        self.svc = svc
        self.max_recipients = max_recipients
        self.commits = commits  # the deliveries' shared writer (one for every SMTP door)
        self.hostname = str(svc.settings.get("server", "hostname"))
        self.domain = str(svc.settings.get("server", "domain")).lower()
        self.known = KnownRecipients()

    def capabilities(self, server: MailDoor) -> list[str]:
        """EHLO keywords beyond aiosmtpd's SIZE, 8BITMIME, SMTPUTF8 and STARTTLS (CHUNKING:
        BDAT is `door.MailDoor.smtp_BDAT`)."""
        return ["PIPELINING", "CHUNKING", "ENHANCEDSTATUSCODES"]

    async def handle_EHLO(self, server: MailDoor, session: Session, envelope: MailEnvelope,
                          hostname: str, responses: list[str]) -> list[str]:
        if has_control(hostname):
            server.raw_replies = 0
            return [replies.BAD_HELO]
        session.host_name = hostname
        lines = [r[4:] for r in responses if not r[4:].startswith(("AUTH", "HELP"))]
        lines += self.capabilities(server)
        server.raw_replies = len(lines)
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_HELO(self, server: MailDoor, session: Session, envelope: MailEnvelope,
                          hostname: str) -> str:
        if has_control(hostname):
            return replies.BAD_HELO
        session.host_name = hostname
        server.raw_replies = 1
        return f"250 {server.hostname}"

    async def handle_exception(self, error: Exception) -> str:
        logger.error("SMTP command failed", exc_info=error)
        return replies.INTERNAL_ERROR

    def connection_ended(self, server: MailDoor) -> None:
        """The connection is gone (a door with live sessions unregisters it here)."""

    def accept_sender(self, envelope: MailEnvelope, address: str, options: list[str]) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.SENDER_OK

    def address_refusal(self, address: str, envelope: MailEnvelope) -> str | None:
        """The reply refusing an envelope address for its characters, if it must be."""
        match problem(address, envelope.smtp_utf8):
            case "utf8":
                return replies.BAD_UTF8
            case "ascii":
                return replies.NOT_ASCII
            case "control":
                return replies.CONTROL_IN_ADDRESS
        return None

    async def recipient_verdict(self, address: str) -> Verdict:
        known = self.known.get(address)
        if known is not None:
            return known

        def look_up() -> Verdict:
            with self.svc.reader.connect() as conn:
                return classify(conn, address, self.domain, self.svc.clock())

        verdict = await asyncio.to_thread(look_up)
        self.known.keep(verdict)
        return verdict

    def recipients_full(self, envelope: MailEnvelope) -> str | None:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return replies.too_many_recipients(self.max_recipients)
        return None

    def accept_recipient(self, envelope: MailEnvelope, address: str, account: str,
                         options: list[str]) -> str:
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        envelope.accounts[address] = account
        return replies.RECIPIENT_OK

    def trace_headers(self, server: MailDoor, session: Session, envelope: MailEnvelope,
                      queue_id: str, auth_results: bytes = b"") -> bytes:
        """Return-Path, our Authentication-Results (inbound), then Received."""
        return (trace.return_path(envelope_sender(envelope)) + auth_results
                + self.received(server, session, envelope, queue_id))

    def received(self, server: MailDoor, session: Session, envelope: MailEnvelope,
                 queue_id: str) -> bytes:
        recipients = envelope.rcpt_tos
        protocol = trace.with_name(self.kind, server.tls_active, server.principal is not None)
        return trace.received(
            helo=session.host_name or "", peer=server.peer_ip, hostname=self.hostname,
            protocol=protocol, queue_id=queue_id,
            recipient=recipients[0] if len(recipients) == 1 else None,
            when=datetime.now().astimezone())


def envelope_sender(envelope: MailEnvelope) -> str:
    """MAIL FROM's address ("" for the null sender)."""
    sender = envelope.mail_from or ""
    return "" if sender == "<>" else sender

