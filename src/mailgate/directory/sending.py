"""What a plan allows its accounts to send: messages and recipients per hour (None: no
limit), and whether a submitted message is kept in the sender's Sent folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Connection, select

from mailgate.db.schema import accounts, plans
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError, NotFound
from mailgate.service import Service

#: `--messages-per-hour` / `--recipients-per-hour` take a number or this word
NO_LIMIT = "none"


@dataclass(frozen=True)
class Sending:
    messages_per_hour: int | None
    recipients_per_hour: int | None
    sent_copy: bool


_COLUMNS = (plans.c.messages_per_hour, plans.c.recipients_per_hour, plans.c.sent_copy)


def of_account(conn: Connection, account_id: int) -> Sending:
    row = conn.execute(select(*_COLUMNS).join(accounts, accounts.c.plan_id == plans.c.id)
                       .where(accounts.c.id == account_id)).one()
    return Sending(row.messages_per_hour, row.recipients_per_hour, bool(row.sent_copy))


def of_plan(conn: Connection, plan: str) -> Sending:
    row = conn.execute(select(*_COLUMNS).where(plans.c.name == plan)).first()
    if row is None:
        raise NotFound(f"no plan '{plan}'")
    return Sending(row.messages_per_hour, row.recipients_per_hour, bool(row.sent_copy))


def parse_limit(text: str) -> int | None:
    """A limit as the CLI takes it: a whole number of at least 1, or `none`."""
    if text.strip().lower() == NO_LIMIT:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise DirectoryError(f"a sending limit is a whole number of at least 1 or "
                             f"'{NO_LIMIT}', not {text!r}")
    return int(text)


def set_plan(svc: Service, actor: Actor, plan: str, *, messages_per_hour: str | None = None,
             recipients_per_hour: str | None = None,
             sent_copy: bool | None = None) -> tuple[Sending, Sending]:
    """Change what `plan` allows (limits as `parse_limit` reads them; None: unchanged);
    (before, after), audited."""
    authority.require_admin(actor, "change a plan's sending limits")
    with svc.engine.begin() as conn:
        before = of_plan(conn, plan)
        after = Sending(
            before.messages_per_hour if messages_per_hour is None
            else parse_limit(messages_per_hour),
            before.recipients_per_hour if recipients_per_hour is None
            else parse_limit(recipients_per_hour),
            before.sent_copy if sent_copy is None else sent_copy)
        if after != before:
            conn.execute(plans.update().where(plans.c.name == plan).values(**asdict(after)))
            plan_id = conn.execute(select(plans.c.id).where(plans.c.name == plan)).scalar()
            record(conn, svc.clock(), actor, "plan.sending", scope="plan", scope_id=plan_id,
                   plan=plan, before=asdict(before), after=asdict(after))
    return before, after
