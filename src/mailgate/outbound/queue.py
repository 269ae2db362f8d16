"""The rows of the outbound queue: what waits, what is due, and what became of an attempt.

One row per recipient (`db.schema.outbound_queue`); the rows of one message share its queue
id and spool file. Every change here runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, exists, func, select, update

from mailgate.db.schema import outbound_queue as q

QUEUED, SENDING, HELD = "queued", "sending", "held"
INTERRUPTED = ("the attempt was cut off after the message went to the remote, which may have "
               "it: held so it is never sent twice; `mailgate queue retry` sends it again")
NO_ANSWER = ("the remote did not answer the end of the message, so it may have it: held so "
             "it is never sent twice; `mailgate queue retry` sends it again")


@dataclass(frozen=True)
class Recipient:
    row_id: int
    address: str
    attempts: int
    last_error: str
    state: str
    next_attempt_at: float
    options: str = ""  # the DSN parameters given with RCPT (NOTIFY=..., ORCPT=...)
    delay_warned: bool = False  # the sender was told its delivery is delayed


@dataclass
class Entry:
    """One queued message and its recipients still waiting."""

    queue_id: str
    sender: str
    mail_options: str
    size: int
    queued_at: float
    recipients: list[Recipient] = field(default_factory=list)


def enqueue(conn: Connection, queue_id: str, sender: str, recipients: dict[str, str],
            mail_options: str, size: int, now: float) -> None:
    """One row per recipient (address -> its RCPT options)."""
    conn.execute(q.insert(), [
        {"queue_id": queue_id, "sender": sender, "recipient": address,
         "mail_options": mail_options, "rcpt_options": options, "size": size,
         "queued_at": now, "next_attempt_at": now, "attempts": 0, "state": QUEUED,
         "last_error": ""}
        for address, options in recipients.items()])


def _entries(rows: Iterable) -> list[Entry]:  # type: ignore[type-arg]
    found: dict[str, Entry] = {}
    for row in rows:
        entry = found.setdefault(row.queue_id, Entry(row.queue_id, row.sender,
                                                     row.mail_options, int(row.size),
                                                     float(row.queued_at)))
        entry.recipients.append(Recipient(int(row.id), row.recipient, int(row.attempts),
                                          row.last_error, row.state,
                                          float(row.next_attempt_at), row.rcpt_options,
                                          bool(row.delay_warned)))
    return list(found.values())


def due(conn: Connection, now: float, limit: int) -> list[Entry]:
    """Up to `limit` messages with recipients due for an attempt, oldest first."""
    ids = select(q.c.queue_id).where(q.c.state == QUEUED, q.c.next_attempt_at <= now
                                     ).group_by(q.c.queue_id).order_by(
        func.min(q.c.queued_at)).limit(limit)
    rows = conn.execute(select(q).where(q.c.state == QUEUED, q.c.next_attempt_at <= now,
                                        q.c.queue_id.in_(ids)).order_by(q.c.id)).all()
    return _entries(rows)


def next_due(conn: Connection) -> float | None:
    """When the next waiting recipient is due (None when nothing waits)."""
    value = conn.execute(select(func.min(q.c.next_attempt_at)).where(q.c.state == QUEUED)
                         ).scalar()
    return None if value is None else float(value)


def set_state(conn: Connection, row_ids: list[int], state: str, error: str | None = None
              ) -> None:
    values = {"state": state} if error is None else {"state": state, "last_error": error}
    conn.execute(update(q).where(q.c.id.in_(row_ids)).values(**values))


def remove(conn: Connection, row_ids: list[int]) -> None:
    conn.execute(delete(q).where(q.c.id.in_(row_ids)))


def defer(conn: Connection, recipients: list[Recipient], error: str, now: float,
          first_wait: float, longest_wait: float, give_up_at: float) -> None:
    """A temporary failure: wait twice as long as last time (from `first_wait`, at most
    `longest_wait`), never past the end of the message's lifetime."""
    for r in recipients:
        wait = min(longest_wait, first_wait * 2 ** min(r.attempts, 30))
        conn.execute(update(q).where(q.c.id == r.row_id).values(
            state=QUEUED, attempts=q.c.attempts + 1, last_error=error[:1000],
            next_attempt_at=min(now + wait, give_up_at)))


def mark_delay_warned(conn: Connection, row_ids: list[int]) -> None:
    conn.execute(update(q).where(q.c.id.in_(row_ids)).values(delay_warned=True))


def hold_interrupted(conn: Connection) -> list[str]:
    """Rows left `sending` by a node that died: held. Their queue ids."""
    held = sorted({row.queue_id for row in conn.execute(
        select(q.c.queue_id).where(q.c.state == SENDING))})
    conn.execute(update(q).where(q.c.state == SENDING).values(state=HELD,
                                                               last_error=INTERRUPTED))
    return held


def in_use(conn: Connection, queue_id: str) -> bool:
    """Whether any recipient still needs the message's spool file."""
    return bool(conn.execute(select(exists().where(q.c.queue_id == queue_id))).scalar())


def listing(conn: Connection) -> list[Entry]:
    """Everything in the queue, oldest first."""
    return _entries(conn.execute(select(q).order_by(q.c.queued_at, q.c.id)).all())


def retry_now(conn: Connection, queue_id: str | None, now: float) -> int:
    """Make one message's recipients (every message's, for None) due now, held ones too;
    how many recipients."""
    stmt = update(q).where(q.c.state.in_((QUEUED, HELD)))
    if queue_id is not None:
        stmt = stmt.where(q.c.queue_id == queue_id)
    return int(conn.execute(stmt.values(state=QUEUED, next_attempt_at=now)).rowcount)


def entry(conn: Connection, queue_id: str) -> Entry | None:
    found = _entries(conn.execute(select(q).where(q.c.queue_id == queue_id).order_by(q.c.id)))
    return found[0] if found else None
