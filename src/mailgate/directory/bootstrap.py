"""A new data directory: the built-in plan, and the demo accounts of `init --demo`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select

from mailgate.db.schema import plan_defaults, plans
from mailgate.directory import accounts, cases, doors
from mailgate.directory.authority import Actor
from mailgate.directory.views import load_actor
from mailgate.policy.catalogue import PROTOCOLS
from mailgate.service import Service
from mailgate.store import messages

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


def welcome(account: DemoAccount, domain: str) -> bytes:
    """A first message in each demo mailbox, so a client has something to fetch."""
    return (f"From: mailgate <postmaster@{domain}>\r\nTo: {account.address}\r\n"
            f"Subject: Welcome to mailgate\r\nMessage-ID: <welcome.{account.address}>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"This is a demo account: {account.what}.\r\n"
            "Every door of your mailbox (IMAP, POP, SMTP, webmail, API, calendars) is opened\r\n"
            "and closed by policy; when one is closed, your mail client is told why.\r\n"
            ).encode()


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
    accounts.grant_role(svc, system, f"helpdesk@{domain}", "helpdesk")
    accounts.grant_role(svc, system, f"admin@{domain}", "admin")
    # Carol's POP goes the governed way: she asks, the help desk escalates, the mail team
    # approves.
    with svc.reader.connect() as conn:
        carol = load_actor(conn, f"carol@{domain}")
        helpdesk = load_actor(conn, f"helpdesk@{domain}")
        admin = load_actor(conn, f"admin@{domain}")
    case_id = cases.open_case(svc, carol, carol.address, "pop", True,
                              "I need POP for my old mail client")
    cases.escalate(svc, helpdesk, case_id)
    cases.approve(svc, admin, case_id)
    for account in demo:
        messages.deliver(svc, account.address, welcome(account, domain))
    return demo
