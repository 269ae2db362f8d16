"""`report usage`: per account x door x method, the last use and the counts (SPEC §9: "who
still uses POP?"), for staff; and for the console's chart, the last 90 days by door, method
and department, and the accounts still using POP or password sign-in."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from mailgate.audit.reading import iso_time
from mailgate.db.schema import accounts, departments, usage
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


def recent_summary(svc: Service, actor: Actor, days: int = 90) -> list[dict[str, object]]:
    """How many accounts signed in through each door with each method in the last `days`
    days, per department (None: accounts in no department)."""
    authority.require_staff(actor, "read usage reports")
    since = svc.clock() - days * 86400
    query = (select(departments.c.name.label("department"), usage.c.protocol, usage.c.method,
                    func.count().label("accounts"))
             .select_from(usage.join(accounts, accounts.c.id == usage.c.account_id)
                          .outerjoin(departments, departments.c.id == accounts.c.department_id))
             .where(usage.c.last_success_at >= since)
             .group_by(departments.c.name, usage.c.protocol, usage.c.method)
             .order_by(departments.c.name, usage.c.protocol, usage.c.method))
    with svc.reader.connect() as conn:
        return [{"department": r.department, "protocol": r.protocol, "method": r.method,
                 "accounts": int(r.accounts)} for r in conn.execute(query)]


def still_using_legacy(svc: Service, actor: Actor, days: int = 90, limit: int = 200
                       ) -> tuple[int, list[dict[str, object]]]:
    """The accounts that signed in over POP or with a password in the last `days` days (how
    many rows in all, and the `limit` most recent): who a switch-off would reach."""
    authority.require_staff(actor, "read usage reports")
    since = svc.clock() - days * 86400
    legacy = and_(usage.c.last_success_at >= since,
                  or_(usage.c.protocol == "pop", usage.c.method == "password"))
    query = (select(usage, accounts.c.address, departments.c.name.label("department"))
             .join(accounts, accounts.c.id == usage.c.account_id)
             .outerjoin(departments, departments.c.id == accounts.c.department_id)
             .where(legacy).order_by(usage.c.last_success_at.desc()).limit(limit))
    with svc.reader.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(usage).where(legacy))
                    .scalar() or 0)
        rows = [{"account": r.address, "department": r.department, "protocol": r.protocol,
                 "method": r.method, "successes": r.successes,
                 "last_success_at": iso_time(r.last_success_at)} for r in conn.execute(query)]
    return total, rows
