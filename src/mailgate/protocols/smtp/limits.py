"""Per-account sending limits on submission: messages and recipients in the last hour.

A compromised account must not blast thousands of messages before anyone notices: past
its plan's limit a new message (at MAIL) or recipient (at RCPT) gets a temporary
`451 4.7.1` saying which limit, and the first refusal of a connection is audited
(`send.limit`). Each accepted message is counted in `sends`, in the transaction that stores
it; rows older than the hour go when the account sends again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select

from mailgate.audit import log as audit_log
from mailgate.db.schema import sends
from mailgate.directory import sending
from mailgate.service import Service

HOUR = 3600.0


@dataclass(frozen=True)
class Exceeded:
    """A limit an account reached: which, its value, and what the hour used already."""

    limit: str  # messages_per_hour | recipients_per_hour
    value: int
    used: int

    @property
    def text(self) -> str:
        what = "messages" if self.limit == "messages_per_hour" else "recipients"
        return (f"Sending limit reached: your account may send to at most "
                f"{self.value} {what} per hour; try again later")

    def reply(self) -> str:
        return f"451 4.7.1 {self.text}"


def used(conn: Connection, account_id: int, now: float) -> tuple[int, int]:
    """(messages, recipients) the account sent in the hour before `now`."""
    row = conn.execute(select(func.count(), func.coalesce(func.sum(sends.c.recipients), 0))
                       .where(sends.c.account_id == account_id,
                              sends.c.at > now - HOUR)).one()
    return int(row[0]), int(row[1])


def exceeded(svc: Service, account_id: int, recipients: int) -> Exceeded | None:
    """The limit one more message (recipients=0) or recipient (the envelope's count with
    it) would pass, if any."""
    with svc.reader.connect() as conn:
        allowed = sending.of_account(conn, account_id)
        messages, sent_to = used(conn, account_id, svc.clock())
    if recipients == 0:
        if allowed.messages_per_hour is not None and messages >= allowed.messages_per_hour:
            return Exceeded("messages_per_hour", allowed.messages_per_hour, messages)
    elif (allowed.recipients_per_hour is not None
          and sent_to + recipients > allowed.recipients_per_hour):
        return Exceeded("recipients_per_hour", allowed.recipients_per_hour, sent_to)
    return None


def keeps_sent_copy(svc: Service, account_id: int) -> bool:
    with svc.reader.connect() as conn:
        return sending.of_account(conn, account_id).sent_copy


def count_send(conn: Connection, account_id: int, recipients: int, now: float) -> None:
    """Count an accepted message (and forget this account's sends older than the hour), in
    the transaction that stores it (`delivery`): no second commit, and no message stored
    without being counted."""
    conn.execute(delete(sends).where(sends.c.account_id == account_id,
                                     sends.c.at <= now - HOUR))
    conn.execute(sends.insert().values(account_id=account_id, at=now, recipients=recipients))


def audit_refusal(svc: Service, address: str, found: Exceeded, peer: str,
                  method: str) -> None:
    with svc.engine.begin() as conn:
        audit_log.append(conn, at=svc.clock(), actor=address, role="user", action="send.limit",
                         account=address, details={
                             "protocol": "smtp", "method": method, "peer": peer,
                             "limit": found.limit, "value": found.value, "used": found.used})
