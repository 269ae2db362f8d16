"""Reading accounts as staff or their owner see them: `account list` and `account show`."""

from __future__ import annotations

from sqlalchemy import select

from mailgate.db.schema import accounts, departments, plans
from mailgate.directory import authority
from mailgate.directory.authority import Actor
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
