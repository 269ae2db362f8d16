"""The inbound listeners `smtp` (MX role) and `lmtp`: mail for local recipients only.

Never an open relay: another domain is refused at RCPT (`554 5.7.1`); an unknown or
deactivated mailbox gets `550 5.1.1`; every other account receives, whatever its doors
(SPEC §1). `250` only once the message is durable; LMTP answers once per recipient.
"""

from __future__ import annotations

import asyncio
import uuid

from aiosmtpd.smtp import Session

from mailgate.protocols.smtp import delivery, replies
from mailgate.protocols.smtp.door import MailDoor, MailEnvelope
from mailgate.protocols.smtp.handler import Handler, logger
from mailgate.protocols.smtp.recipients import Local, Remote
from mailgate.store.messages import MessageRejected


class InboundHandler(Handler):
    """The decisions of the `smtp` listener; `LmtpHandler` the same for `lmtp`."""

    async def handle_MAIL(self, server: MailDoor, session: Session, envelope: MailEnvelope,
                          address: str, options: list[str]) -> str:
        refusal = self.address_refusal(address, envelope)
        return refusal or self.accept_sender(envelope, address, options)

    async def handle_RCPT(self, server: MailDoor, session: Session, envelope: MailEnvelope,
                          address: str, options: list[str]) -> str:
        refusal = self.address_refusal(address, envelope) or self.recipients_full(envelope)
        if refusal:
            return refusal
        verdict = await self.recipient_verdict(address)
        if isinstance(verdict, Remote):
            return replies.relay_denied(verdict.domain)
        if not isinstance(verdict, Local):
            return replies.no_such_mailbox(address)
        return self.accept_recipient(envelope, address, verdict.account, options)

    async def handle_DATA(self, server: MailDoor, session: Session,
                          envelope: MailEnvelope) -> str:
        queue_id = uuid.uuid4().hex[:12]
        content = envelope.content
        assert isinstance(content, bytes)
        headers = self.trace_headers(server, session, envelope, queue_id)
        try:
            outcome = await asyncio.to_thread(delivery.store, self.svc, content, headers,
                                              envelope.accounts, all_or_nothing=True)
        except MessageRejected:
            return replies.too_big(server.data_size_limit or 0)
        server.renew_admission()
        if outcome.refused:
            return replies.no_such_mailbox(min(outcome.refused))
        return f"{replies.DELIVERED} as {queue_id}"


class LmtpHandler(InboundHandler):
    """LMTP (RFC 2033): after DATA, one reply for each accepted recipient, in order."""

    kind = "LMTP"

    async def handle_DATA(self, server: MailDoor, session: Session,
                          envelope: MailEnvelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        headers = self.trace_headers(server, session, envelope, uuid.uuid4().hex[:12])
        try:
            outcome = await asyncio.to_thread(delivery.store, self.svc, content, headers,
                                              envelope.accounts, all_or_nothing=False)
        except MessageRejected:
            return "\r\n".join(replies.too_big(server.data_size_limit or 0)
                               for _ in envelope.rcpt_tos)
        except Exception:
            logger.exception("LMTP delivery failed")
            return "\r\n".join(replies.INTERNAL_ERROR for _ in envelope.rcpt_tos)
        server.renew_admission()
        return "\r\n".join(replies.no_such_mailbox(r) if r in outcome.refused
                           else replies.lmtp_delivered(r) for r in envelope.rcpt_tos)
