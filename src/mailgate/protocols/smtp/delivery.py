"""Storing an arrived message durably for its local recipients, before the door says 250.

The same path as `mailgate deliver`: the message file is written and fsynced first, then one
transaction makes it visible in every recipient's INBOX (and, for a submission, in the
sender's Sent folder, with the audit entry of the send and its count against the sending
limits, and in the outbound queue for the
recipients of other domains, its spool file fsynced first). That transaction is shared with
the deliveries arriving at the same moment (`store.commits`: one commit, one sync for all),
whose rows are written together, one set of statements for all (`Rows.together`), or each
in its own savepoint should that fail. A crash anywhere leaves either nothing visible or every copy.
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
    recipients: dict[str, str]  # address -> its RCPT options (DSN's NOTIFY, ORCPT)
    mail_options: str  # SMTPUTF8, BODY=8BITMIME, RET, ENVID: what the relaying repeats
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
    work = Rows(inbox, recipients, svc.clock(), all_or_nothing, sent_item, outbound, size)
    try:
        return await commits.run(work)
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
class Rows:
    """The rows of one arrival: a copy in each local recipient's INBOX and, for a
    submission, the sender's Sent copy with the audit entry and the count of the send, and
    the queue rows of the other domains' recipients. On its own, or with the other
    arrivals of its group commit in one set of statements (`together`)."""

    inbox: _Item | None
    recipients: dict[str, str]
    now: float
    all_or_nothing: bool
    sent: tuple[SentCopy, _Item | None] | None = None
    outbound: Outbound | None = None
    queued_size: int = 0  # octets of the queued copy

    def __call__(self, conn: Connection) -> Outcome:
        result = self.together(conn, [self])[0]
        if isinstance(result, _Refused):
            raise result
        return result

    @classmethod
    def together(cls, conn: Connection, works: list[Rows]) -> list[Outcome | _Refused]:
        """Each recipient, INBOX and Sent folder looked up once, then every message stored
        in one go (`messages.store_placed`), one audit append and one count of the sends."""
        known: dict[str, int | None] = {}
        folders_of: dict[tuple[int, str], int] = {}
        placed: list[messages.Placed] = []
        audits: list[dict[str, object]] = []
        sends: list[tuple[int, int, float]] = []
        results: list[Outcome | _Refused] = []

        def place(account_id: int, folder: str, item: _Item, now: float) -> None:
            if (account_id, folder) not in folders_of:
                folders_of[account_id, folder] = (
                    folder_id(conn, account_id, "INBOX") if folder == "INBOX"
                    else _sent_folder(conn, account_id, now))
            digest, parsed, incoming = item
            placed.append((folders_of[account_id, folder], digest, parsed,
                           replace(incoming, internal_date=incoming.internal_date or now)))

        for work in works:
            outcome = Outcome()
            targets = _accounts(conn, work.recipients, outcome, work.now, known)
            if outcome.refused and work.all_or_nothing:
                results.append(_Refused(outcome))
                continue
            if work.inbox is not None:
                for account_id in targets:
                    place(account_id, "INBOX", work.inbox, work.now)
            if work.sent is not None:
                copy, item = work.sent
                if item is not None:
                    place(copy.account_id, "Sent", item, work.now)
                audits.append(copy.audit)
                sends.append((copy.account_id, copy.recipients, work.now))
            if work.outbound is not None:
                queue.enqueue(conn, work.outbound.queue_id, work.outbound.sender,
                              work.outbound.recipients, work.outbound.mail_options,
                              work.queued_size, work.now)
            results.append(outcome)
        if placed:
            messages.store_placed(conn, placed, works[0].now)
        audit_log.append_many(conn, audits)
        limits.count_sends(conn, sends)
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


def _sent_folder(conn: Connection, account_id: int, now: float) -> int:
    """The folder marked \\Sent, else one named Sent (made when the user deleted it)."""
    found = conn.execute(select(folders.c.id).where(
        folders.c.account_id == account_id, folders.c.special_use == "\\Sent")).scalar()
    return int(found) if found is not None else folder_id(conn, account_id, "Sent",
                                                          create=True, now=now)
