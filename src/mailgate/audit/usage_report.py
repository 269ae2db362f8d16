"""`report usage`: per account x door x method, the last use and the counts (SPEC §9: "who
still uses POP?"), for staff."""

from __future__ import annotations

from sqlalchemy import select

from mailgate.audit.reading import iso_time
from mailgate.db.schema import accounts, usage
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.policy.catalogue import normalise_protocol
from mailgate.service import Service


def usage_rows(svc: Service, actor: Actor, protocol: str | None = None
               ) -> list[dict[str, object]]:
    """One row per account, door and sign-in method that was ever tried (of one door)."""
    authority.require_staff(actor, "read usage reports")
    query = (select(usage, accounts.c.address)
             .join(accounts, accounts.c.id == usage.c.account_id)
             .order_by(accounts.c.address, usage.c.protocol, usage.c.method))
    if protocol:
        query = query.where(usage.c.protocol == normalise_protocol(protocol))
    with svc.reader.connect() as conn:
        return [{"account": r.address, "protocol": r.protocol, "method": r.method,
                 "successes": r.successes, "failures": r.failures,
                 "last_success_at": iso_time(r.last_success_at),
                 "last_attempt_at": iso_time(r.last_attempt_at)} for r in conn.execute(query)]
