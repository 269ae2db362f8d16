"""Storing an arrived message durably for its local recipients, before the door says 250.

The same path as `mailgate deliver`: the message file is written and fsynced first, then one
transaction makes it visible in every recipient's INBOX (and, for a submission, in the
sender's Sent folder, with the audit entry of the send and its count against the sending
limits, and in the outbound queue for the
recipients of other domains, its spool file fsynced first). That transaction is shared with
the deliveries arriving at the same moment (`store.commits`: one commit, one sync for all),
each in its own savepoint. A crash anywhere leaves either nothing visible or every copy.
Recipients are checked again inside the transaction: one deactivated since RCPT is refused
(5.1.1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, select

from mailgate.audit import log as audit_log
from mailgate.db.schema import folders
from mailgate.mime import ParsedMessage
from mailgate.outbound import queue
from mailgate.outbound.spool import Spool
from mailgate.protocols.smtp import limits
from mailgate.service import Service
from mailgate.store import messages
from mailgate.store.commits import GroupCommit
from mailgate.store.folders import folder_id
from mailgate.store.messages import Incoming, MessageRejected

SEEN = ("\\Seen",)


@dataclass(frozen=True)
class SentCopy:
    """The sender's copy of a submission, and the evidence of the send."""

    account_id: int
    audit: dict[str, object]  # an audit entry: at, actor, role, action, account, details
    recipients: int  # counted against the plan's sending limits (`limits.count_send`)
    keep: bool = True  # False: the plan keeps no Sent copy (the client saves its own)


@dataclass(frozen=True)
class Outbound:
    """The recipients of other domains of a submission, and what the queue keeps for them."""

    queue_id: str
    sender: str
    recipients: list[str]
    mail_options: str  # SMTPUTF8, BODY=8BITMIME: what the relaying repeats
    trace: bytes  # Received: only (Return-Path: is for final delivery, RFC 5321 §4.4)


@dataclass
class Outcome:
    """The envelope recipients refused now (unknown or deactivated since RCPT)."""

    refused: set[str] = field(default_factory=set)


_Item = tuple[str, ParsedMessage, Incoming]


class _Refused(Exception):
    """Rolls the delivery back when one refused recipient refuses the whole message."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("a recipient was refused")
        self.outcome = outcome


async def store(svc: Service, commits: GroupCommit, content: bytes, trace: bytes,
                recipients: dict[str, str], *, all_or_nothing: bool,
                sent: SentCopy | None = None, outbound: Outbound | None = None,
                sign: Callable[[bytes], bytes] | None = None) -> Outcome:
    """Store `trace + content` in the INBOX of each recipient (envelope address -> account
    address; one copy per account), `content` in the sender's Sent folder (when the
    plan keeps one; the send is audited either way), and queue it (with its own trace) for
    the `outbound` recipients; `sign` (DKIM) changes `content` first, in the same thread as
    the files. Returns once the files are synced and the rows committed
    (together with the other deliveries of the moment: `commits`).

    With `all_or_nothing` (SMTP: one reply for every recipient) a recipient refused now
    refuses the whole message and nothing is stored; otherwise (LMTP) the others get it."""
    inbox, sent_item, size = await asyncio.to_thread(
        _write_files, svc, content, trace, recipients, sent, outbound, sign)
    now = svc.clock()

    def rows(conn: Connection) -> Outcome:
        outcome = Outcome()
        _store_rows(conn, inbox, sent_item, recipients, outcome, now, all_or_nothing)
        if outbound is not None:
            queue.enqueue(conn, outbound.queue_id, outbound.sender, outbound.recipients,
                          outbound.mail_options, size, now)
        return outcome

    try:
        if inbox is not None and sent is None and outbound is None:
            return await commits.run(InboxRows(inbox, recipients, now, all_or_nothing))
        return await commits.run(rows)
    except _Refused as refused:
        if outbound is not None:
            await asyncio.to_thread(Spool.of(svc).remove, outbound.queue_id)
        return refused.outcome


def _write_files(svc: Service, content: bytes, trace: bytes, recipients: dict[str, str],
                 sent: SentCopy | None, outbound: Outbound | None,
                 sign: Callable[[bytes], bytes] | None
                 ) -> tuple[_Item | None, tuple[SentCopy, _Item | None] | None, int]:
    """The message (signed first, with `sign`), its file(s) and the spool file, durable:
    (inbox item, Sent item, size of the queued copy)."""
    if sign is not None:
        content = sign(content)
    inbox = None
    if recipients:
        digest, _, parsed = messages.prepare(svc, trace + content)
        inbox = (digest, parsed, Incoming(content))
    relayed = b"" if outbound is None else outbound.trace + content
    if outbound is not None:
        Spool.of(svc).write(outbound.queue_id, relayed)
    sent_item: tuple[SentCopy, _Item | None] | None = (sent, None) if sent else None
    if sent is not None and sent.keep:
        sent_digest, _, sent_parsed = messages.prepare(svc, content)
        sent_item = (sent, (sent_digest, sent_parsed, Incoming(content, SEEN)))
    return inbox, sent_item, len(relayed)


@dataclass(frozen=True)
class InboxRows:
    """The rows of an arrival for local INBOXes only (LMTP, inbound SMTP): on its own as
    `_store_rows`, or with the others of its group commit in one set of statements."""

    inbox: _Item
    recipients: dict[str, str]
    now: float
    all_or_nothing: bool

    def __call__(self, conn: Connection) -> Outcome:
        outcome = Outcome()
        _store_rows(conn, self.inbox, None, self.recipients, outcome, self.now,
                    self.all_or_nothing)
        return outcome

    @classmethod
    def together(cls, conn: Connection, works: list[InboxRows]) -> list[Outcome | _Refused]:
        """Each recipient looked up once, each INBOX once, then every message stored in
        one go (`messages.store_placed`)."""
        known: dict[str, int | None] = {}
        inboxes: dict[int, int] = {}
        placed: list[messages.Placed] = []
        results: list[Outcome | _Refused] = []
        for work in works:
            outcome = Outcome()
            targets = _accounts(conn, work.recipients, outcome, work.now, known)
            if outcome.refused and work.all_or_nothing:
                results.append(_Refused(outcome))
                continue
            digest, parsed, incoming = work.inbox
            arrived = replace(incoming, internal_date=incoming.internal_date or work.now)
            for account_id in targets:
                if account_id not in inboxes:
                    inboxes[account_id] = folder_id(conn, account_id, "INBOX")
                placed.append((inboxes[account_id], digest, parsed, arrived))
            results.append(outcome)
        if placed:
            messages.store_placed(conn, placed, works[0].now)
        return results


def _accounts(conn: Connection, recipients: dict[str, str], outcome: Outcome, now: float,
              known: dict[str, int | None]) -> list[int]:
    """The accounts of the recipients that may receive now, in id order (one copy per
    account); the others are added to `outcome.refused`. `known` keeps the look-ups (an
    account id, or None when refused) for the next delivery of the same batch."""
    accounts: set[int] = set()
    for envelope, address in recipients.items():
        if address not in known:
            try:
                known[address] = messages.recipient(conn, address, now)
            except MessageRejected:
                known[address] = None
        found = known[address]
        if found is None:
            outcome.refused.add(envelope)
        else:
            accounts.add(found)
    return sorted(accounts)


def _store_rows(conn: Connection, inbox: _Item | None,
                sent: tuple[SentCopy, _Item | None] | None,
                recipients: dict[str, str], outcome: Outcome, now: float,
                all_or_nothing: bool) -> None:
    accounts = _accounts(conn, recipients, outcome, now, {})
    if outcome.refused and all_or_nothing:
        raise _Refused(outcome)
    for account_id in accounts:
        assert inbox is not None
        messages.store_prepared(conn, account_id, "INBOX", [inbox], now)
    if sent is not None:
        copy, item = sent
        if item is not None:
            messages.store_into(conn, _sent_folder(conn, copy.account_id, now), "Sent",
                                [item], now)
        audit_log.append_many(conn, [copy.audit])
        limits.count_send(conn, copy.account_id, copy.recipients, now)


def _sent_folder(conn: Connection, account_id: int, now: float) -> int:
    """The folder marked \\Sent, else one named Sent (made when the user deleted it)."""
    found = conn.execute(select(folders.c.id).where(
        folders.c.account_id == account_id, folders.c.special_use == "\\Sent")).scalar()
    return int(found) if found is not None else folder_id(conn, account_id, "Sent",
                                                          create=True, now=now)
