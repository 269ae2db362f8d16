"""Sending what an account submitted: the one pipeline behind the SMTP submission door and
the webmail (`http/webmail`), so both doors sign, trace, store, copy to Sent, queue and count
a message the same way.

The caller has already checked the sender (`senders`), the sending limits (`limits`) and
each recipient (`recipients.classify`). Here the message is DKIM-signed when its domain has
a key, given Return-Path and Received, stored for the local recipients with the sender's
Sent copy, the audit entry of the send and its count against the hourly limits, and queued
for the other domains' recipients, all in one transaction (`delivery.store`, committed with
the deliveries of the moment: `store.commits`). The blocking steps run in threads. Local
recipients that asked NOTIFY=SUCCESS (DSN, `dsn`) get the sender a `delivered` report.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from mailgate.mail_auth.signing import signed
from mailgate.outbound import bounce, reports
from mailgate.protocols.smtp import delivery, trace
from mailgate.protocols.smtp.addresses import domain_of
from mailgate.protocols.smtp.dsn import SUCCESS, MessageRequest, RecipientRequest
from mailgate.service import Service
from mailgate.store.commits import GroupCommit

log = logging.getLogger("mailgate.smtp")


@dataclass(frozen=True)
class Submitter:
    """Who sends, through which door, from where."""

    account_id: int
    address: str
    method: str
    peer: str
    protocol: str  # smtp | web


@dataclass(frozen=True)
class Envelope:
    """Where the message goes: local recipients (envelope address -> account address), the
    other domains' recipients, and the MAIL options relaying repeats."""

    local: dict[str, str]
    remote: list[str]
    recipients: int  # as counted against the limits and in the audit entry
    keep_sent: bool  # the plan keeps a Sent copy (as the caller read it with the limits)
    mail_options: str = ""
    dsn: MessageRequest = field(default_factory=MessageRequest)  # RET, ENVID (SMTP only)
    notify: dict[str, RecipientRequest] = field(default_factory=dict)  # NOTIFY, ORCPT

    def relayed_options(self) -> str:
        """The MAIL options the queue repeats to the next hop."""
        return " ".join([*self.mail_options.split(), *self.dsn.words()])

    def recipient_options(self, address: str) -> str:
        return " ".join(self.notify.get(address, RecipientRequest()).words())


@dataclass(frozen=True)
class Submitted:
    queue_id: str
    refused: frozenset[str]  # local recipients refused at the last moment: nothing stored


async def submit(svc: Service, commits: GroupCommit, who: Submitter, content: bytes,
                 envelope: Envelope, received: Callable[[str], bytes],
                 still_open: Callable[[], bool] = lambda: True) -> Submitted | None:
    """Sign, store, copy, queue and count one message; None when `still_open()` said the
    door closed meanwhile (nothing stored). Raises `MessageRejected` when too large."""
    queue_id = uuid.uuid4().hex[:12]
    arrived = received(queue_id)
    outbound = delivery.Outbound(
        queue_id, who.address, {r: envelope.recipient_options(r) for r in envelope.remote},
        envelope.relayed_options(), arrived) if envelope.remote else None
    sent = delivery.SentCopy(who.account_id, {
        "at": svc.clock(), "actor": who.address, "role": "user", "action": "send",
        "account": who.address,
        "details": {"protocol": who.protocol, "method": who.method, "peer": who.peer,
                    "recipients": envelope.recipients, "size": len(content),  # as submitted
                    "queue_id": queue_id}}, envelope.recipients,
        keep=envelope.keep_sent)
    if not still_open():
        return None
    outcome = await delivery.store(svc, commits, content,
                                   trace.return_path(who.address) + arrived, envelope.local,
                                   all_or_nothing=True, sent=sent, outbound=outbound,
                                   sign=partial(signed, domain=domain_of(who.address),
                                                data_dir=svc.settings.data_dir))
    told = [] if outcome.refused else [  # refused: nothing was stored
        bounce.delivered(address, envelope.notify[address].original)
        for address in envelope.local
        if address in envelope.notify and envelope.notify[address].wants(SUCCESS)]
    if told:
        try:
            await asyncio.to_thread(reports.send, svc, who.address, told, content, queue_id,
                                    envelope.dsn)
        except Exception:  # the message is stored: its 250 must not turn into a retry
            log.exception("the delivery report of message %s could not be stored", queue_id)
    return Submitted(queue_id, frozenset(outcome.refused))
