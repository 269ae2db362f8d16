"""Reading accounts as staff or their owner see them: `account list` and `account show`, the
console's account search, and the department policies and plan defaults staff may change."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from mailgate.db.schema import accounts, department_denials, departments, plan_defaults, plans
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError
from mailgate.directory.views import AccountReport, account_row, effective_state, report
from mailgate.service import Service


def list_accounts(svc: Service, actor: Actor) -> list[dict[str, object]]:
    """Every account with its state, plan and department (staff only)."""
    authority.require_staff(actor, "list accounts")
    now = svc.clock()
    query = (select(accounts, plans.c.name.label("plan"),
                    departments.c.name.label("department"))
             .join(plans, plans.c.id == accounts.c.plan_id)
             .outerjoin(departments, departments.c.id == accounts.c.department_id)
             .order_by(accounts.c.address))
    with svc.reader.connect() as conn:
        return [{"address": r.address, "name": r.name, "state": effective_state(r, now),
                 "plan": r.plan, "department": r.department} for r in conn.execute(query)]


def show_account(svc: Service, actor: Actor, address: str) -> AccountReport:
    """Every door of one account with its decision (the owner or staff)."""
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
        authority.require_view(actor, row.id)
        return report(conn, row, svc.clock())


@dataclass(frozen=True)
class AccountPage:
    """One page of an account search: the rows, and the address to continue after."""

    rows: list[dict[str, object]]
    next_after: str | None


def search_accounts(svc: Service, actor: Actor, query: str = "", after: str = "",
                    limit: int = 50) -> AccountPage:
    """Accounts whose address starts with `query`, in address order, `limit` at a time
    after the address `after` (staff only). A range over the address index: as fast over
    100 000 accounts as over ten."""
    authority.require_staff(actor, "search accounts")
    if not 1 <= limit <= 500:
        raise DirectoryError("a page holds 1 to 500 accounts")
    prefix = query.strip().lower()[:320]
    now = svc.clock()
    where = [accounts.c.address > after.strip().lower()[:320]] if after else []
    if prefix:
        where += [accounts.c.address >= prefix, accounts.c.address < prefix + "\U0010ffff"]
    found = (select(accounts, plans.c.name.label("plan"),
                    departments.c.name.label("department"))
             .join(plans, plans.c.id == accounts.c.plan_id)
             .outerjoin(departments, departments.c.id == accounts.c.department_id)
             .where(*where).order_by(accounts.c.address).limit(limit + 1))
    with svc.reader.connect() as conn:
        rows = [{"address": r.address, "name": r.name, "state": effective_state(r, now),
                 "plan": r.plan, "department": r.department} for r in conn.execute(found)]
    more = len(rows) > limit
    rows = rows[:limit]
    return AccountPage(rows, str(rows[-1]["address"]) if more else None)


@dataclass(frozen=True)
class DepartmentPolicy:
    name: str
    denied: frozenset[str]
    accounts: int


def department_policies(svc: Service, actor: Actor) -> list[DepartmentPolicy]:
    """The departments whose policy the actor may set (every one for the mail team, their
    own for a dept-admin), with the doors each denies and how many accounts it holds."""
    with svc.reader.connect() as conn:
        query = select(departments.c.id, departments.c.name).order_by(departments.c.name)
        if not actor.is_admin:
            mine = [d for role, d in actor.roles if role == "dept-admin" and d is not None]
            query = query.where(departments.c.id.in_(mine))
        found = conn.execute(query).all()
        ids = [d.id for d in found]
        denials: dict[int, set[str]] = {i: set() for i in ids}
        for r in conn.execute(select(department_denials).where(
                department_denials.c.department_id.in_(ids))):
            denials[r.department_id].add(r.protocol)
        counts = dict(conn.execute(select(accounts.c.department_id, func.count()).where(
            accounts.c.department_id.in_(ids)).group_by(accounts.c.department_id)).all())
    return [DepartmentPolicy(d.name, frozenset(denials[d.id]), int(counts.get(d.id, 0)))
            for d in found]


def plan_defaults_of(svc: Service, actor: Actor) -> dict[str, dict[str, bool]]:
    """Every plan's default for each door (the mail team only)."""
    authority.require_admin(actor, "change plan defaults")
    out: dict[str, dict[str, bool]] = {}
    with svc.reader.connect() as conn:
        for r in conn.execute(select(plans.c.name, plan_defaults.c.protocol,
                                     plan_defaults.c.enabled)
                              .join(plan_defaults, plan_defaults.c.plan_id == plans.c.id)
                              .order_by(plans.c.name)):
            out.setdefault(r.name, {})[r.protocol] = bool(r.enabled)
    return out
