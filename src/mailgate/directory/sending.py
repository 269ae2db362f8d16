"""What a plan allows its accounts to send: messages and recipients per hour (None: no
limit), and whether a submitted message is kept in the sender's Sent folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Connection, delete, insert, select

from mailgate.db.schema import plan_sending, plans
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError, NotFound
from mailgate.service import Service

#: `--messages-per-hour` / `--recipients-per-hour` take a number or this word
NO_LIMIT = "none"
#: the highest limit taken (a database integer holds it on PostgreSQL too)
MAX_LIMIT = 1_000_000_000


@dataclass(frozen=True)
class Sending:
    messages_per_hour: int | None
    recipients_per_hour: int | None
    sent_copy: bool


#: a plan nobody configured: enough for a person, too little for a blast
DEFAULT = Sending(messages_per_hour=200, recipients_per_hour=1000, sent_copy=True)


def _of(conn: Connection, plan_id: int) -> Sending:
    row = conn.execute(select(plan_sending).where(plan_sending.c.plan_id == plan_id)).first()
    if row is None:
        return DEFAULT
    return Sending(row.messages_per_hour, row.recipients_per_hour, bool(row.sent_copy))


def _plan_id(conn: Connection, plan: str) -> int:
    found = conn.execute(select(plans.c.id).where(plans.c.name == plan)).scalar()
    if found is None:
        raise NotFound(f"no plan '{plan}'")
    return int(found)


def of_plan(conn: Connection, plan: str) -> Sending:
    return _of(conn, _plan_id(conn, plan))


def parse_limit(text: str) -> int | None:
    """A limit as the CLI takes it: a whole number from 1 to `MAX_LIMIT`, or `none`."""
    if text.strip().lower() == NO_LIMIT:
        return None
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= MAX_LIMIT:
        raise DirectoryError(f"a sending limit is a whole number from 1 to {MAX_LIMIT} or "
                             f"'{NO_LIMIT}', not {text!r}")
    return int(digits)


def set_plan(svc: Service, actor: Actor, plan: str, *, messages_per_hour: str | None = None,
             recipients_per_hour: str | None = None,
             sent_copy: bool | None = None) -> tuple[Sending, Sending]:
    """Change what `plan` allows (limits as `parse_limit` reads them; None: unchanged);
    (before, after), audited."""
    authority.require_admin(actor, "change a plan's sending limits")
    with svc.engine.begin() as conn:
        plan_id = _plan_id(conn, plan)
        before = _of(conn, plan_id)
        after = Sending(
            before.messages_per_hour if messages_per_hour is None
            else parse_limit(messages_per_hour),
            before.recipients_per_hour if recipients_per_hour is None
            else parse_limit(recipients_per_hour),
            before.sent_copy if sent_copy is None else sent_copy)
        if after != before:
            conn.execute(delete(plan_sending).where(plan_sending.c.plan_id == plan_id))
            conn.execute(insert(plan_sending).values(plan_id=plan_id, **asdict(after)))
            record(conn, svc.clock(), actor, "plan.sending", scope="plan", scope_id=plan_id,
                   plan=plan, before=asdict(before), after=asdict(after))
    return before, after
