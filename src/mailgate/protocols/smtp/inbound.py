"""The inbound listeners `smtp` (MX role) and `lmtp`: mail for local recipients only.

The `smtp` listener checks SPF, DKIM and DMARC and adds its Authentication-Results header
(`mail_auth.checks`), removing any arriving with our name; LMTP sits behind an MTA that
checked already and adds none.

Never an open relay: another domain is refused at RCPT (`554 5.7.1`); an unknown or
deactivated mailbox gets `550 5.1.1`; every other account receives, whatever its doors
(SPEC §1). `250` only once the message is durable; LMTP answers once per recipient.
"""

from __future__ import annotations

import asyncio
import uuid

from aiosmtpd.smtp import Session

from mailgate.mail_auth.checks import Arrival, authenticate
from mailgate.mail_auth.lookup import resolver_lookup
from mailgate.protocols.smtp import delivery, replies
from mailgate.protocols.smtp.door import MailDoor, MailEnvelope
from mailgate.protocols.smtp.handler import Handler, envelope_sender, logger
from mailgate.protocols.smtp.recipients import Local, Remote
from mailgate.service import Service
from mailgate.store.commits import GroupCommit
from mailgate.store.messages import MessageRejected


class InboundHandler(Handler):
    """The decisions of the `smtp` listener; `LmtpHandler` the same for `lmtp`."""

    def __init__(self, svc: Service, *, max_recipients: int, commits: GroupCommit) -> None:
        super().__init__(svc, max_recipients=max_recipients, commits=commits)
        self.lookup = resolver_lookup(svc.settings.get("server", "nameservers"))

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
        arrival = Arrival(server.peer_ip, session.host_name or "", envelope_sender(envelope))
        auth_results, content = await asyncio.to_thread(
            authenticate, content, arrival, self.hostname, self.lookup)
        headers = self.trace_headers(server, session, envelope, queue_id, auth_results)
        try:
            outcome = await delivery.store(self.svc, self.commits, content, headers,
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
            outcome = await delivery.store(self.svc, self.commits, content, headers,
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
