"""What the mail team does with the outbound queue (`mailgate queue ...`), audited."""

from __future__ import annotations

from datetime import UTC, datetime

from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import Conflict, NotFound
from mailgate.outbound import queue
from mailgate.outbound.queue import Entry
from mailgate.outbound.spool import Spool
from mailgate.service import Service


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(entry: Entry) -> dict[str, object]:
    return {"id": entry.queue_id, "sender": entry.sender, "size": entry.size,
            "queued_at": when(entry.queued_at),
            "recipients": [{"address": r.address, "state": r.state, "attempts": r.attempts,
                            "next_attempt_at": when(r.next_attempt_at),
                            "last_error": r.last_error} for r in entry.recipients]}


def listing(svc: Service, actor: Actor) -> list[Entry]:
    authority.require_admin(actor, "see the outbound queue")
    with svc.reader.connect() as conn:
        return queue.listing(conn)


def _entry(svc: Service, queue_id: str) -> Entry:
    with svc.reader.connect() as conn:
        found = queue.entry(conn, queue_id)
    if found is None:
        raise NotFound(f"no queued message {queue_id}")
    return found


def retry(svc: Service, actor: Actor, queue_id: str | None) -> int:
    """Send one message (every one, for None) at the runner's next look, held ones too; how
    many recipients."""
    authority.require_admin(actor, "retry queued mail")
    if queue_id is not None:
        _entry(svc, queue_id)
    now = svc.clock()
    with svc.engine.begin() as conn:
        count = queue.retry_now(conn, queue_id, now)
        record(conn, now, actor, "queue.retry", scope="none", queue_id=queue_id or "all",
               recipients=count)
    return count


def delete(svc: Service, actor: Actor, queue_id: str) -> Entry:
    """Drop a queued message unsent (no bounce); refused while it is being sent."""
    authority.require_admin(actor, "delete queued mail")
    entry = _entry(svc, queue_id)
    now = svc.clock()
    with svc.engine.begin() as conn:
        current = queue.entry(conn, queue_id)
        if current is None:
            raise NotFound(f"no queued message {queue_id}")
        if any(r.state == queue.SENDING for r in current.recipients):
            raise Conflict(f"message {queue_id} is being sent right now; try again")
        queue.remove(conn, [r.row_id for r in current.recipients])
        record(conn, now, actor, "queue.delete", account=entry.sender, scope="none",
               queue_id=queue_id, recipients=[r.address for r in current.recipients],
               size=entry.size)
    Spool.of(svc).remove(queue_id)
    return current
