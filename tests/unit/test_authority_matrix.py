"""Who may change what (SPEC §4): every role against every kind of change, on every backend.

One directory per backend holds the five actors; every cell works on its own fresh accounts,
cases and plans, so the cells do not disturb each other.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from mailgate.db import schema
from mailgate.directory import accounts, cases, doors, mfa, totp_factor
from mailgate.directory.authority import Actor
from mailgate.directory.errors import NotAllowed
from mailgate.directory.views import account_row, load_actor, report, role_names
from mailgate.service import Service
from support import BACKENDS, make_service

SYSTEM = Actor.system()
DOMAIN = "example.test"
ROLES = ("user", "helpdesk", "admin", "dept-admin-of-D", "dept-admin-of-other")
SNAPSHOT_TABLES = (schema.accounts, schema.account_settings, schema.temporary_grants,
                   schema.roles, schema.cases, schema.plans, schema.plan_defaults,
                   schema.departments, schema.department_denials, schema.mfa_requirements,
                   schema.totp_factors, schema.recovery_codes)


@dataclass
class World:
    svc: Service
    actors: dict[str, Actor]
    counter: Iterator[int] = field(default_factory=itertools.count)

    def account(self, department: str | None = None) -> str:
        address = f"t{next(self.counter)}@{DOMAIN}"
        accounts.create(self.svc, SYSTEM, address, "target-password", department=department)
        return address

    def door(self, address: str, protocol: str) -> tuple[bool, str]:
        with self.svc.engine.connect() as conn:
            d = report(conn, account_row(conn, address), self.svc.clock()).decisions[protocol]
        return d.allowed, d.reason

    def state(self, address: str) -> str:
        with self.svc.engine.connect() as conn:
            return report(conn, account_row(conn, address), self.svc.clock()).state

    def case(self, case_id: int) -> cases.Case:
        return next(c for c in cases.list_cases(self.svc, SYSTEM) if c.id == case_id)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    svc = make_service(tmp_path_factory.mktemp("matrix") / "data", request.param)
    doors.create_department(svc, SYSTEM, "Physics")
    doors.create_department(svc, SYSTEM, "Law")
    people = {"user": ("user", None), "helpdesk": ("helpdesk", "helpdesk"),
              "admin": ("admin", "admin"), "dept-admin-of-D": ("dphys", "dept-admin"),
              "dept-admin-of-other": ("dlaw", "dept-admin")}
    for key, (local, role) in people.items():
        address = f"{local}@{DOMAIN}"
        accounts.create(svc, SYSTEM, address, "staff-password", department="Physics")
        if role == "dept-admin":
            dept = "Physics" if key == "dept-admin-of-D" else "Law"
            accounts.grant_role(svc, SYSTEM, address, role, dept)
        elif role:
            accounts.grant_role(svc, SYSTEM, address, role)
    with svc.engine.connect() as conn:
        actors = {key: load_actor(conn, f"{local}@{DOMAIN}")
                  for key, (local, _) in people.items()}
    yield World(svc, actors)
    svc.dispose()


def snapshot(svc: Service) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with svc.engine.connect() as conn:
        for table in SNAPSHOT_TABLES:
            keys = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*keys))]
        for table in (schema.audit_log, schema.events):
            out[table.name] = conn.execute(select(func.count()).select_from(table)).scalar()
    return out


@dataclass(frozen=True)
class Change:
    """prepare(world) -> ctx; do(world, actor, ctx); check(world, actor, ctx) after success."""

    name: str
    allowed: frozenset[str]
    prepare: Callable[[World], dict[str, Any]]
    do: Callable[[World, Actor, dict[str, Any]], Any]
    check: Callable[[World, Actor, dict[str, Any]], None]
    says: tuple[str, ...] = ("mail team",)


def _target(w: World) -> dict[str, Any]:
    return {"t": w.account("Physics")}


def _imap_off(w: World) -> dict[str, Any]:
    ctx = _target(w)
    doors.set_protocol(w.svc, SYSTEM, ctx["t"], "imap", False)
    return ctx


def _compromised(w: World) -> dict[str, Any]:
    ctx = _target(w)
    accounts.compromise(w.svc, SYSTEM, ctx["t"], "phished")
    return ctx


def _deactivating(w: World) -> dict[str, Any]:
    ctx = _target(w)
    accounts.deactivate(w.svc, SYSTEM, ctx["t"])
    return ctx


def _case(protocol: str, imap_off: bool = False) -> Callable[[World], dict[str, Any]]:
    def prepare(w: World) -> dict[str, Any]:
        ctx = _imap_off(w) if imap_off else _target(w)
        ctx["case"] = cases.open_case(w.svc, SYSTEM, ctx["t"], protocol, True, "please")
        return ctx
    return prepare


def _fresh(w: World) -> dict[str, Any]:
    return {"n": next(w.counter)}


def _new_plan(w: World) -> dict[str, Any]:
    ctx = _fresh(w)
    doors.plan_set(w.svc, SYSTEM, f"mfa{ctx['n']}", "pop", False)
    return ctx


def _with_totp(w: World) -> dict[str, Any]:
    ctx = _target(w)
    app = pyotp.parse_uri(totp_factor.begin(w.svc, ctx["t"]).uri)
    totp_factor.confirm(w.svc, ctx["t"], app.at(w.svc.clock()))
    return ctx


def _mfa_of(w: World, address: str) -> Any:
    return mfa.status(w.svc, SYSTEM, address)[1]


def _check_mfa_plan(w: World, _a: Actor, ctx: dict[str, Any]) -> None:
    with w.svc.engine.connect() as conn:
        plan_id = conn.execute(select(schema.plans.c.id).where(
            schema.plans.c.name == f"mfa{ctx['n']}")).scalar_one()
        assert conn.execute(select(schema.mfa_requirements).where(
            schema.mfa_requirements.c.scope_id == plan_id)).one().scope == "plan"


def _check_mfa_department(w: World, _a: Actor, ctx: dict[str, Any]) -> None:
    assert _mfa_of(w, ctx["t"]).required_by == ("department Physics",)
    mfa.set_required(w.svc, SYSTEM, "department", "Physics", False)  # undo for others


def _check_department(w: World, _a: Actor, ctx: dict[str, Any]) -> None:
    assert w.door(ctx["t"], "dav") == (False, "department_policy")
    doors.set_department_policy(w.svc, SYSTEM, "Physics", "dav", deny=False)  # undo for others
    assert w.door(ctx["t"], "dav") == (True, "plan_default")


def _check_plan(w: World, _a: Actor, ctx: dict[str, Any]) -> None:
    with w.svc.engine.connect() as conn:
        enabled = conn.execute(select(schema.plan_defaults.c.enabled).join(
            schema.plans, schema.plans.c.id == schema.plan_defaults.c.plan_id).where(
            schema.plans.c.name == f"plan{ctx['n']}",
            schema.plan_defaults.c.protocol == "pop")).scalar()
    assert enabled is True


def _check_role(w: World, _a: Actor, ctx: dict[str, Any]) -> None:
    with w.svc.engine.connect() as conn:
        assert role_names(conn, account_row(conn, ctx["t"]).id) == ["helpdesk"]


def _check_own_case(w: World, actor: Actor, ctx: dict[str, Any]) -> None:
    c = w.case(ctx["result"])
    assert (c.account, c.protocol, c.want, c.status) == (actor.address, "pop", "on", "open")
    assert c.opened_by == actor.address


STAFF = frozenset({"helpdesk", "admin"})
ADMIN = frozenset({"admin"})
EVERYONE = frozenset(ROLES)

CHANGES = [
    Change("turn_on_restricted_pop", ADMIN, _target,
           lambda w, a, c: doors.set_protocol(w.svc, a, c["t"], "pop", True),
           lambda w, a, c: w.door(c["t"], "pop") == (True, "account_setting") or _fail(),
           ("mail team", "case open")),
    Change("turn_on_unrestricted_imap", STAFF, _imap_off,
           lambda w, a, c: doors.set_protocol(w.svc, a, c["t"], "imap", True),
           lambda w, a, c: w.door(c["t"], "imap") == (True, "account_setting") or _fail(),
           ("mail team", "case open")),
    Change("turn_a_door_off", STAFF, _target,
           lambda w, a, c: doors.set_protocol(w.svc, a, c["t"], "imap", False),
           lambda w, a, c: w.door(c["t"], "imap") == (False, "account_setting") or _fail(),
           ("mail team", "case open")),
    Change("set_department_policy_of_D", frozenset({"admin", "dept-admin-of-D"}), _target,
           lambda w, a, c: doors.set_department_policy(w.svc, a, "Physics", "dav", deny=True),
           _check_department, ("mail team", "dept-admin of Physics")),
    Change("set_plan_default", ADMIN, _fresh,
           lambda w, a, c: doors.plan_set(w.svc, a, f"plan{c['n']}", "pop", True),
           _check_plan),
    Change("require_mfa_of_plan", ADMIN, _new_plan,
           lambda w, a, c: mfa.set_required(w.svc, a, "plan", f"mfa{c['n']}", True),
           _check_mfa_plan),
    Change("require_mfa_of_department_D", frozenset({"admin", "dept-admin-of-D"}), _target,
           lambda w, a, c: mfa.set_required(w.svc, a, "department", "Physics", True),
           _check_mfa_department, ("mail team", "dept-admin of Physics")),
    Change("reset_mfa", STAFF, _with_totp,
           lambda w, a, c: mfa.reset(w.svc, a, c["t"], "lost phone; ID checked"),
           lambda w, a, c: _mfa_of(w, c["t"]).enrolment.methods == () or _fail(),
           ("help desk", "mail team")),
    Change("grant_role", ADMIN, _target,
           lambda w, a, c: accounts.grant_role(w.svc, a, c["t"], "helpdesk"), _check_role),
    Change("create_account", ADMIN, _fresh,
           lambda w, a, c: accounts.create(w.svc, a, f"new{c['n']}@{DOMAIN}", "new-password"),
           lambda w, a, c: w.state(f"new{c['n']}@{DOMAIN}") == "active" or _fail()),
    Change("mark_compromised", STAFF, _target,
           lambda w, a, c: accounts.compromise(w.svc, a, c["t"], "phished"),
           lambda w, a, c: w.state(c["t"]) == "compromised" or _fail(),
           ("help desk", "mail team")),
    Change("restore_compromised", STAFF, _compromised,
           lambda w, a, c: accounts.restore(w.svc, a, c["t"], "fresh-password", "ID seen"),
           lambda w, a, c: w.state(c["t"]) == "active" or _fail(),
           ("help desk", "mail team")),
    Change("deactivate", ADMIN, _target,
           lambda w, a, c: accounts.deactivate(w.svc, a, c["t"]),
           lambda w, a, c: w.state(c["t"]) == "deactivating" or _fail()),
    Change("activate", ADMIN, _deactivating,
           lambda w, a, c: accounts.activate(w.svc, a, c["t"]),
           lambda w, a, c: w.state(c["t"]) == "active" or _fail()),
    Change("open_case_for_own_account", EVERYONE, lambda w: {},
           lambda w, a, c: c.setdefault(
               "result", cases.open_case(w.svc, a, a.address, "pop3", True, "old phone")),
           _check_own_case),
    Change("open_case_for_another_account", STAFF, _target,
           lambda w, a, c: cases.open_case(w.svc, a, c["t"], "pop", True, "for a friend"),
           lambda w, a, c: None, ("help desk", "mail team")),
    Change("escalate_case", STAFF, _case("pop"),
           lambda w, a, c: cases.escalate(w.svc, a, c["case"]),
           lambda w, a, c: w.case(c["case"]).status == "escalated" or _fail(),
           ("mail team", "cases")),
    Change("approve_restricted_pop_case", ADMIN, _case("pop"),
           lambda w, a, c: cases.approve(w.svc, a, c["case"]),
           lambda w, a, c: w.door(c["t"], "pop") == (True, "account_setting") or _fail(),
           ("mail team", "case")),
    Change("approve_imap_on_case", STAFF, _case("imap", imap_off=True),
           lambda w, a, c: cases.approve(w.svc, a, c["case"]),
           lambda w, a, c: w.door(c["t"], "imap") == (True, "account_setting") or _fail(),
           ("help desk", "mail team", "case")),
    Change("deny_case", STAFF, _case("pop"),
           lambda w, a, c: cases.deny(w.svc, a, c["case"]),
           lambda w, a, c: w.case(c["case"]).status == "denied" or _fail(),
           ("mail team", "cases")),
]


def _fail() -> None:
    raise AssertionError("the permitted change did not take effect")


PERMITTED = [(c, r) for c in CHANGES for r in ROLES if r in c.allowed]
REFUSED = [(c, r) for c in CHANGES for r in ROLES if r not in c.allowed]


def _id(pair: tuple[Change, str]) -> str:
    return f"{pair[1]}-{pair[0].name}"


@pytest.mark.parametrize("cell", PERMITTED, ids=_id)
def test_permitted_role_makes_the_change_and_it_is_audited_as_that_role(world, cell):
    change, role = cell
    actor = world.actors[role]
    ctx = change.prepare(world)
    change.do(world, actor, ctx)
    with world.svc.engine.connect() as conn:
        last = conn.execute(select(schema.audit_log).where(
            schema.audit_log.c.actor == actor.address).order_by(
            schema.audit_log.c.id.desc()).limit(1)).one()
    assert last.role == actor.role_name
    change.check(world, actor, ctx)


@pytest.mark.parametrize("cell", REFUSED, ids=_id)
def test_refused_role_is_told_who_may_and_nothing_changes(world, cell):
    change, role = cell
    ctx = change.prepare(world)
    before = snapshot(world.svc)
    with pytest.raises(NotAllowed) as info:
        change.do(world, world.actors[role], ctx)
    message = str(info.value)
    for words in change.says:
        assert words in message, message
    assert "\n" not in message
    assert snapshot(world.svc) == before


def test_role_names_in_the_audit_log_match_the_actor(world):
    assert [world.actors[r].role_name for r in ROLES] == [
        "user", "helpdesk", "admin", "dept-admin", "dept-admin"]


def last_audit(svc: Service) -> Any:
    with svc.engine.connect() as conn:
        row = conn.execute(select(schema.audit_log).order_by(
            schema.audit_log.c.id.desc()).limit(1)).one()
    return row, json.loads(row.details)


def assert_refused_and_audited(world: World, attempt: Callable[[], Any], action: str,
                               protocol: str) -> dict[str, Any]:
    """The attempt raises NotAllowed naming the way forward; only its audit row is written."""
    before = snapshot(world.svc)
    with pytest.raises(NotAllowed) as info:
        attempt()
    message = str(info.value)
    assert "department Physics" in message and "\n" not in message
    assert f"mailgate department policy Physics {protocol} inherit" in message
    assert "dept-admin of Physics or the mail team" in message
    after = snapshot(world.svc)
    assert after["audit_log"] == before["audit_log"] + 1
    assert {**after, "audit_log": before["audit_log"]} == before
    row, details = last_audit(world.svc)
    assert row.action == action
    assert (details["department"], details["protocol"], details["want"]) == (
        "Physics", protocol, "on")
    return details


@pytest.fixture
def web_denied(world: World) -> Iterator[str]:
    """A fresh account in Physics, whose department denies webmail for the test's length."""
    t = world.account("Physics")
    doors.set_department_policy(world.svc, SYSTEM, "Physics", "web", deny=True)
    yield t
    doors.set_department_policy(world.svc, SYSTEM, "Physics", "web", deny=False)


@pytest.mark.parametrize("seconds", [None, 3600], ids=["setting", "temporary_grant"])
def test_not_even_an_admin_opens_a_door_the_department_denies(world, web_denied, seconds):
    admin = world.actors["admin"]
    details = assert_refused_and_audited(
        world, lambda: doors.set_protocol(world.svc, admin, web_denied, "owa", True,
                                          "VIP", seconds), "protocol.set.refused", "web")
    assert (details["reason"], details["expires_in"]) == ("VIP", seconds)
    assert last_audit(world.svc)[0].actor == admin.address
    assert world.door(web_denied, "web") == (False, "department_policy")


def test_a_case_to_open_a_door_the_department_denies_is_refused(world, web_denied):
    user = world.actors["user"]  # in Physics too
    details = assert_refused_and_audited(
        world, lambda: cases.open_case(world.svc, user, user.address, "owa", True, "please"),
        "case.open.refused", "web")
    assert details["note"] == "please"


def test_a_case_opened_before_the_denial_cannot_be_approved(world, web_denied):
    doors.set_department_policy(world.svc, SYSTEM, "Physics", "web", deny=False)
    case_id = cases.open_case(world.svc, SYSTEM, web_denied, "web", True, "needs webmail")
    doors.set_department_policy(world.svc, SYSTEM, "Physics", "web", deny=True)
    details = assert_refused_and_audited(
        world, lambda: cases.approve(world.svc, world.actors["admin"], case_id, 3600),
        "case.approve.refused", "web")
    assert details["case"] == case_id
    assert world.case(case_id).status == "open"


def test_a_door_the_department_denies_may_still_be_closed_and_stays_closed_after(
        world, web_denied):
    after = doors.set_protocol(world.svc, world.actors["helpdesk"], web_denied, "web", False)
    assert (after.allowed, after.reason) == (False, "department_policy")
    case_id = cases.open_case(world.svc, SYSTEM, web_denied, "web", False, "close it")
    cases.approve(world.svc, world.actors["helpdesk"], case_id)
    doors.set_department_policy(world.svc, SYSTEM, "Physics", "web", deny=False)
    # once the department lifts its denial, the account's own setting applies
    assert world.door(web_denied, "web") == (False, "account_setting")


def test_staff_cannot_open_doors_on_their_own_account(world):
    helpdesk = world.actors["helpdesk"]
    doors.set_protocol(world.svc, SYSTEM, helpdesk.address, "imap", False)
    before = snapshot(world.svc)
    with pytest.raises(NotAllowed, match="own account"):
        doors.set_protocol(world.svc, helpdesk, helpdesk.address, "imap", True)
    assert snapshot(world.svc) == before
    case_id = cases.open_case(world.svc, helpdesk, helpdesk.address, "imap", True, "mine")
    before = snapshot(world.svc)
    with pytest.raises(NotAllowed, match="own account"):
        cases.approve(world.svc, helpdesk, case_id)
    assert snapshot(world.svc) == before
    cases.approve(world.svc, world.actors["admin"], case_id)
    assert world.door(helpdesk.address, "imap") == (True, "account_setting")


def test_helpdesk_may_close_pop_that_it_may_not_open(world):
    t = world.account()
    doors.set_protocol(world.svc, SYSTEM, t, "pop", True)
    doors.set_protocol(world.svc, world.actors["helpdesk"], t, "pop3", False)
    assert world.door(t, "pop") == (False, "account_setting")
