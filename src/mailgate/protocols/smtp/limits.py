"""Per-account sending limits on submission: messages and recipients in the last hour.

A compromised account must not blast thousands of messages before anyone notices: past
its plan's limit a new message (at MAIL) or recipient (at RCPT) gets a temporary
`451 4.7.1` saying which limit, and the first refusal of a connection is audited
(`send.limit`). Each accepted message is counted in `sends`, in the transaction that stores
it; rows older than the hour go when the account sends again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, ScalarSelect, bindparam, delete, func, select

from mailgate.audit import log as audit_log
from mailgate.db.schema import accounts, plan_sending, sends
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


@dataclass(frozen=True)
class Standing:
    """What an account's plan allows it to send, and what it sent in the last hour."""

    allowed: sending.Sending
    messages: int
    recipients: int

    def exceeded(self, recipients: int) -> Exceeded | None:
        """The limit one more message (recipients=0) or recipient (the envelope's count with
        it) would pass, if any."""
        most_messages, most_recipients = (self.allowed.messages_per_hour,
                                          self.allowed.recipients_per_hour)
        if recipients == 0:
            if most_messages is not None and self.messages >= most_messages:
                return Exceeded("messages_per_hour", most_messages, self.messages)
        elif most_recipients is not None and self.recipients + recipients > most_recipients:
            return Exceeded("recipients_per_hour", most_recipients, self.recipients)
        return None


def _in_the_hour(what: ColumnElement[Any]) -> ScalarSelect[Any]:
    """`what` over the account's sends since the `since` parameter."""
    return (select(what).where(sends.c.account_id == bindparam("account"),
                               sends.c.at > bindparam("since")).scalar_subquery())


# One statement, built once: it runs at every MAIL and RCPT of a submission.
_STANDING = select(
    plan_sending.c.plan_id, plan_sending.c.messages_per_hour,
    plan_sending.c.recipients_per_hour, plan_sending.c.sent_copy,
    _in_the_hour(func.count()), _in_the_hour(func.coalesce(func.sum(sends.c.recipients), 0)),
).select_from(accounts.outerjoin(plan_sending, plan_sending.c.plan_id == accounts.c.plan_id)
              ).where(accounts.c.id == bindparam("account"))


def standing(conn: Connection, account_id: int, now: float) -> Standing:
    """The account's plan's limits (`sending.DEFAULT` when nobody set them) and its sends in
    the hour before `now`."""
    row = conn.execute(_STANDING, {"account": account_id, "since": now - HOUR}).one()
    allowed = sending.DEFAULT if row[0] is None else sending.Sending(row[1], row[2],
                                                                     bool(row[3]))
    return Standing(allowed, int(row[4]), int(row[5]))


def standing_now(svc: Service, account_id: int) -> Standing:
    """`standing` as the database says now."""
    with svc.reader.connect() as conn:
        return standing(conn, account_id, svc.clock())


_FORGET = delete(sends).where(sends.c.account_id == bindparam("account"),
                              sends.c.at <= bindparam("before"))
_COUNT = sends.insert()


def count_sends(conn: Connection, sent: list[tuple[int, int, float]]) -> None:
    """Count accepted messages, each (account id, recipients, when), and forget those
    accounts' sends older than the hour, in the transaction that stores them (`delivery`):
    no second commit, and no message stored without being counted."""
    if not sent:
        return
    latest: dict[int, float] = {}
    for account_id, _, at in sent:
        latest[account_id] = max(at, latest.get(account_id, at))
    conn.execute(_FORGET, [{"account": a, "before": at - HOUR} for a, at in latest.items()])
    conn.execute(_COUNT, [{"account_id": a, "at": at, "recipients": n} for a, n, at in sent])


def audit_refusal(svc: Service, address: str, found: Exceeded, peer: str,
                  method: str) -> None:
    with svc.engine.begin() as conn:
        audit_log.append(conn, at=svc.clock(), actor=address, role="user", action="send.limit",
                         account=address, details={
                             "protocol": "smtp", "method": method, "peer": peer,
                             "limit": found.limit, "value": found.value, "used": found.used})
