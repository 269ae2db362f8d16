"""The submission door (`submission` with STARTTLS, `submissions` with TLS): gate `smtp`.

AUTH runs the shared SASL mechanisms (`auth.sasl`, the seam where OAUTHBEARER joins) and
the gate: `535 5.7.8` for bad credentials (the same for an unknown account), `535 5.7.139`
with the refusal's sentence for a closed door, `538 5.7.11` for a password in clear off
loopback. A signed-in session is live: when its door closes it gets `421 4.7.0` and ends.
The envelope sender and From: must be the account's own address; the message is DKIM-signed
when its domain has a key (`mailgate dkim generate`), before it is stored. Local recipients
get the message at once, the sender a copy in Sent; the recipients of other domains are
queued (`mailgate.outbound`) in the same transaction, before `250` (`submit`, the
pipeline the webmail sends through too). DSN (RFC 3461): MAIL's RET and ENVID and RCPT's
NOTIFY and ORCPT are taken out of the command (`dsn`) before aiosmtpd reads the rest, and
kept with the envelope once the command is accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import Session

from mailgate.auth import sasl
from mailgate.auth.gate import Gate, Principal
from mailgate.auth.tokens import scope_for
from mailgate.events.sessions import LiveSession, SessionRegistry
from mailgate.protocols import refusals
from mailgate.protocols.refusals import Refusal
from mailgate.protocols.smtp import dsn, limits, replies, senders, submit
from mailgate.protocols.smtp.door import MailDoor, MailEnvelope
from mailgate.protocols.smtp.handler import Handler, logger
from mailgate.protocols.smtp.recipients import Local, Remote, Verdict, classify
from mailgate.service import Service
from mailgate.store.commits import GroupCommit
from mailgate.store.messages import MessageRejected

PROTOCOL = "smtp"


class SubmissionDoor(MailDoor):
    """One connection to `submission` or `submissions`."""

    # An AUTH line carries a whole OAuth token: RFC 4954 §4 asks for room for 12288 octets
    # (a message line may be as long here, which clients never need and nothing minds).
    line_length_limit = 12288
    limit_audited = False  # a sending-limit refusal is audited once per connection

    async def smtp_AUTH(self, arg: str | None) -> None:
        handler = self.event_handler
        assert isinstance(handler, SubmissionHandler) and self.session is not None
        if not self.session.host_name or not self.session.extended_smtp:
            await self.push(replies.AUTH_NEEDS_EHLO)
            return
        if self.principal is not None:
            await self.push(replies.AUTH_AGAIN)
            return
        if self.envelope is not None and self.envelope.mail_from:
            await self.push(replies.AUTH_IN_TRANSACTION)
            return
        words = (arg or "").split()
        if not 1 <= len(words) <= 2:
            await self.push(replies.AUTH_SYNTAX)
            return
        mechanism = sasl.create_mechanism(words[0])
        if mechanism is None:
            await self.push(replies.AUTH_UNKNOWN_MECHANISM)
            return
        if not self.tls_active and not self.loopback:
            await self.push(refusals.smtp(Refusal("privacy")))
            return
        credentials = await self._exchange(mechanism, words[1] if len(words) == 2 else None)
        if not isinstance(credentials, sasl.Credentials):
            return
        result = await handler.gate.authenticate(
            PROTOCOL, mechanism.name, credentials.username, credentials.secret, self.peer_ip,
            self.tls_active)
        if isinstance(result, Refusal):
            error = mechanism.refused(refusals.oauth_status(result), scope_for(PROTOCOL))
            if error is None or await self._exchange(mechanism, None, error) is not None:
                await self.push(refusals.smtp(result))
            return
        self.principal = result
        self.session.authenticated = True
        self.signed_in()
        await self.push(replies.SIGNED_IN)
        await handler.go_live(self, result)

    async def smtp_MAIL(self, arg: str | None) -> None:
        """MAIL, its DSN parameters (RET, ENVID) kept once it is accepted."""
        envelope = self.envelope
        assert isinstance(envelope, MailEnvelope)
        before = envelope.mail_from
        request = await self._without_dsn(arg, "FROM:", dsn.message_request,
                                          super().smtp_MAIL)
        if isinstance(request, dsn.MessageRequest) and not before and envelope.mail_from:
            envelope.dsn = request

    async def smtp_RCPT(self, arg: str | None) -> None:
        """RCPT, its DSN parameters (NOTIFY, ORCPT) kept with the recipient once it is
        accepted."""
        envelope = self.envelope
        assert isinstance(envelope, MailEnvelope)
        before = len(envelope.rcpt_tos)
        request = await self._without_dsn(arg, "TO:", dsn.recipient_request,
                                          super().smtp_RCPT)
        if isinstance(request, dsn.RecipientRequest) and len(envelope.rcpt_tos) > before:
            envelope.notify[envelope.rcpt_tos[-1]] = request

    async def _without_dsn(self, arg: str | None, keyword: str, take: Callable[[str], Any],
                           command: Callable[[str | None], Awaitable[None]]) -> object:
        """Run aiosmtpd's `command` on the argument without its DSN parameters, or refuse
        a bad one (`501 5.5.4`); what they asked (None: none given, or the argument is one
        aiosmtpd refuses itself)."""
        stripped = None if arg is None else self._strip_command_keyword(keyword, arg)
        request = None
        if stripped is not None and self.session is not None and self.session.extended_smtp:
            address, params = self._getaddr(stripped)
            if address is not None and params:
                try:
                    kept, request = take(params)
                except dsn.DsnSyntaxError as error:
                    await self.push(f"501 5.5.4 {error}")
                    return None
                arg = f"{keyword}{stripped[:len(stripped) - len(params)]} {kept}".rstrip()
        await command(arg)
        return request

    async def _exchange(self, mechanism: sasl.ServerMechanism, initial: str | None,
                        challenge: sasl.Challenge | None = None
                        ) -> sasl.Credentials | sasl.Rejected | None:
        """Run the SASL exchange (from `challenge` when one is given: a token's error);
        None (the reply sent) when it failed or was cancelled."""
        try:
            step = challenge or mechanism.start(initial)
            while isinstance(step, sasl.Challenge):
                await self.push(f"334 {step.encoded()}".encode("ascii"))
                try:
                    line = await self._reader.readline()
                except ValueError:  # longer than the stream's limit
                    await self.push(replies.AUTH_TOO_LONG)
                    self._say_and_close("421 4.7.0 Closing after an oversized line")
                    return None
                step = mechanism.respond(line.decode("ascii", "replace").strip())
        except sasl.SaslCancelled:
            await self.push(replies.AUTH_CANCELLED)
            return None
        except sasl.SaslError as error:
            await self.push(f"501 5.5.2 {error}")
            return None
        return step


class SubmissionHandler(Handler):
    """The decisions of the submission listeners."""

    def __init__(self, svc: Service, gate: Gate, registry: SessionRegistry, *,
                 max_recipients: int, commits: GroupCommit, queued: Callable[[], None]
                 ) -> None:
        super().__init__(svc, max_recipients=max_recipients, commits=commits)
        self.gate = gate
        self.registry = registry
        self.queued = queued  # mail for other domains waits in the queue: send it

    def capabilities(self, server: MailDoor) -> list[str]:
        offered = super().capabilities(server)
        if server.tls_active or server.loopback:
            offered.append("AUTH " + " ".join(sasl.MECHANISMS))
        return [*offered, "DSN"]

    async def go_live(self, server: MailDoor, principal: Principal) -> None:
        """Register the signed-in session; a door closed meanwhile ends it at once."""
        self.registry.register(LiveSession(
            server.id, principal.account_id, principal.address, PROTOCOL, principal.method,
            server.peer_ip, server.door_closed, credential_epoch=principal.credential_epoch,
            credential_id=principal.credential_id))
        decision = await self.gate.recheck(principal, PROTOCOL, server.peer_ip)
        if not decision.allowed:
            self.registry.close_denied({server.id: decision})

    def connection_ended(self, server: MailDoor) -> None:
        if server.principal is not None:
            self.registry.unregister(server.id, server.principal.account_id)

    async def over_limit(self, server: MailDoor, found: limits.Exceeded | None) -> str | None:
        """The 4.7.1 refusal when the account reached a sending limit of its plan (audited
        once per connection)."""
        principal = server.principal
        if found is None or principal is None:
            return None
        assert isinstance(server, SubmissionDoor)
        logger.warning("%s reached its sending limit (%s %d)", principal.address,
                       found.limit, found.value)
        if not server.limit_audited:
            server.limit_audited = True
            await asyncio.to_thread(limits.audit_refusal, self.svc, principal.address, found,
                                    server.peer_ip, principal.method)
        return found.reply()

    def _standing(self, account_id: int, recipient: str | None = None
                  ) -> tuple[limits.Standing, Verdict | None]:
        """The account's sending limits and use, and the recipient's verdict: one connection,
        one trip to a thread, for each MAIL and RCPT."""
        with self.svc.reader.connect() as conn:
            now = self.svc.clock()
            return (limits.standing(conn, account_id, now),
                    None if recipient is None else classify(conn, recipient, self.domain, now))

    async def handle_MAIL(self, server: MailDoor, session: Session, envelope: MailEnvelope,
                          address: str, options: list[str]) -> str:
        principal = server.principal
        if principal is None:
            return replies.AUTH_REQUIRED
        refusal = (self.address_refusal(address, envelope)
                   or senders.envelope_refusal(address, principal.address))
        if refusal:
            return refusal
        standing, _ = await asyncio.to_thread(self._standing, principal.account_id)
        envelope.keep_sent = standing.allowed.sent_copy
        refusal = await self.over_limit(server, standing.exceeded(0))
        return refusal or self.accept_sender(envelope, address, options)

    async def handle_RCPT(self, server: MailDoor, session: Session, envelope: MailEnvelope,
                          address: str, options: list[str]) -> str:
        principal = server.principal
        assert principal is not None
        refusal = self.address_refusal(address, envelope) or self.recipients_full(envelope)
        if refusal:
            return refusal
        standing, verdict = await asyncio.to_thread(self._standing, principal.account_id,
                                                    address)
        refusal = await self.over_limit(server, standing.exceeded(len(envelope.rcpt_tos) + 1))
        if refusal:
            return refusal
        if isinstance(verdict, Remote):
            if address not in envelope.remote:
                envelope.rcpt_tos.append(address)
                envelope.rcpt_options.extend(options)
                envelope.remote.append(address)
            return replies.RECIPIENT_OK
        if not isinstance(verdict, Local):
            return replies.no_such_mailbox(address)
        return self.accept_recipient(envelope, address, verdict.account, options)

    async def handle_DATA(self, server: MailDoor, session: Session,
                          envelope: MailEnvelope) -> str:
        principal = server.principal
        content = envelope.content
        assert principal is not None and isinstance(content, bytes)
        refusal = senders.from_refusal(content, principal.address)
        if refusal:
            return refusal
        who = submit.Submitter(principal.account_id, principal.address, principal.method,
                               server.peer_ip, PROTOCOL)
        wanted = submit.Envelope(
            dict(envelope.accounts), list(envelope.remote), len(envelope.rcpt_tos),
            envelope.keep_sent,
            " ".join(o for o in envelope.mail_options
                     if o.upper() == "SMTPUTF8" or o.upper().startswith("BODY=")),
            envelope.dsn, dict(envelope.notify))
        try:
            outcome = await submit.submit(
                self.svc, self.commits, who, content, wanted,
                lambda queue_id: self.received(server, session, envelope, queue_id),
                lambda: not server.door_shut)
        except MessageRejected:
            return replies.too_big(server.data_size_limit or 0)
        if outcome is None:  # closed while the message came in: nothing is stored
            return replies.DOOR_CLOSED
        if outcome.refused:
            return replies.no_such_mailbox(min(outcome.refused))
        if envelope.remote:
            self.queued()
        queue_id = outcome.queue_id
        logger.info("message %s submitted by %s to %d recipient(s), %d queued", queue_id,
                    principal.address, len(envelope.rcpt_tos), len(envelope.remote))
        return f"{replies.DELIVERED} as {queue_id}"
