"""A new data directory: the built-in plan, and the demo accounts of `init --demo`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select

from mailgate.db.schema import plan_defaults, plans
from mailgate.directory import accounts, doors
from mailgate.directory.authority import Actor
from mailgate.policy.catalogue import PROTOCOLS
from mailgate.service import Service

#: The built-in plan: every door on except POP (SPEC §3).
STANDARD_PLAN = {p: p != "pop" for p in PROTOCOLS}


def ensure_standard_plan(svc: Service) -> None:
    with svc.engine.begin() as conn:
        if conn.execute(select(plans.c.id).where(plans.c.name == "standard")).first():
            return
        pid = conn.execute(plans.insert().values(name="standard")).inserted_primary_key[0]
        conn.execute(insert(plan_defaults), [
            {"plan_id": pid, "protocol": p, "enabled": v} for p, v in STANDARD_PLAN.items()])


@dataclass(frozen=True)
class DemoAccount:
    address: str
    password: str
    what: str


def create_demo(svc: Service, domain: str) -> list[DemoAccount]:
    """A user, a help-desk person, an admin and a department that denies POP."""
    system = Actor.system()
    demo = [
        DemoAccount(f"alice@{domain}", "alice-demo-pass", "user (POP off: plan default)"),
        DemoAccount(f"bob@{domain}", "bob-demo-pass",
                    "user in department Physics (POP denied by the department)"),
        DemoAccount(f"carol@{domain}", "carol-demo-pass", "user with POP turned on"),
        DemoAccount(f"helpdesk@{domain}", "helpdesk-demo-pass", "helpdesk role"),
        DemoAccount(f"admin@{domain}", "admin-demo-pass", "admin role (the mail team)"),
    ]
    doors.create_department(svc, system, "Physics")
    doors.set_department_policy(svc, system, "Physics", "pop", deny=True)
    for account in demo:
        dept = "Physics" if account.address.startswith("bob@") else None
        name = account.address.split("@")[0].capitalize()
        accounts.create(svc, system, account.address, account.password, name, dept)
    doors.set_protocol(svc, system, f"carol@{domain}", "pop", True, "demo")
    accounts.grant_role(svc, system, f"helpdesk@{domain}", "helpdesk")
    accounts.grant_role(svc, system, f"admin@{domain}", "admin")
    return demo
