"""Cases (SPEC §4): open -> escalated -> approved | denied, every step audited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from mailgate.db import schema
from mailgate.directory import accounts, cases, doors
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, InvalidTransition, NotAllowed, NotFound
from mailgate.directory.views import account_row, load_actor, report

SYSTEM = Actor.system()


def snapshot(svc) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with svc.engine.connect() as conn:
        for table in (schema.cases, schema.account_settings, schema.temporary_grants):
            keys = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*keys))]
        out["audit"] = conn.execute(select(func.count()).select_from(schema.audit_log)).scalar()
    return out


def audit_rows(svc, since: int = 0) -> list[tuple[str, str, str, dict[str, Any]]]:
    with svc.engine.connect() as conn:
        rows = conn.execute(select(schema.audit_log).where(schema.audit_log.c.id > since)
                            .order_by(schema.audit_log.c.id)).all()
    return [(r.actor, r.role, r.action, json.loads(r.details)) for r in rows]


def audit_count(svc) -> int:
    with svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.audit_log)).scalar())


@pytest.fixture
def people(svc):
    for local in ("ann", "bob", "hd", "boss"):
        accounts.create(svc, SYSTEM, f"{local}@example.test", "a-password")
    accounts.grant_role(svc, SYSTEM, "hd@example.test", "helpdesk")
    accounts.grant_role(svc, SYSTEM, "boss@example.test", "admin")
    with svc.engine.connect() as conn:
        return {local: load_actor(conn, f"{local}@example.test")
                for local in ("ann", "bob", "hd", "boss")}


def pop(svc, address: str = "ann@example.test"):
    with svc.engine.connect() as conn:
        return report(conn, account_row(conn, address), svc.clock()).decisions["pop"]


def test_user_request_for_pop_goes_open_escalated_approved_with_every_step_audited(svc,
                                                                                  people):
    mark = audit_count(svc)
    case_id = cases.open_case(svc, people["ann"], "ann@example.test", "pop3", True,
                              "my old phone only speaks POP")
    cases.escalate(svc, people["hd"], case_id)
    cases.approve(svc, people["boss"], case_id)
    d = pop(svc)
    assert (d.allowed, d.reason, d.source) == (True, "account_setting", "case")
    assert f"approved case #{case_id}" in d.detail
    steps = [(actor, role, action) for actor, role, action, _ in audit_rows(svc, mark)]
    assert steps == [("ann@example.test", "user", "case.open"),
                     ("hd@example.test", "helpdesk", "case.escalate"),
                     ("boss@example.test", "admin", "case.approve"),
                     ("boss@example.test", "admin", "protocol.set")]
    details = [d for *_, d in audit_rows(svc, mark)]
    assert details[0]["note"] == "my old phone only speaks POP"
    assert details[1]["before"] == "open" and details[1]["after"] == "escalated"
    assert details[3]["case"] == case_id
    assert details[3]["before"] == {"enabled": False, "reason": "plan_default"}
    assert details[3]["after"] == {"enabled": True, "reason": "account_setting"}
    [case] = cases.list_cases(svc, SYSTEM)
    assert (case.status, case.decided_by, case.want) == ("approved", "boss@example.test", "on")


def test_approving_a_case_raises_no_exfiltration_alert_but_a_direct_reopen_does(svc, people):
    case_id = cases.open_case(svc, people["hd"], "ann@example.test", "pop", True, "ticket 9")
    cases.approve(svc, people["boss"], case_id)
    assert [a for _, _, a, _ in audit_rows(svc) if a == "alert.door_reopened"] == []
    doors.set_protocol(svc, people["boss"], "bob@example.test", "pop", True)
    alerts = [d for _, _, a, d in audit_rows(svc) if a == "alert.door_reopened"]
    assert len(alerts) == 1 and alerts[0]["protocol"] == "pop"


def test_denied_case_changes_no_door(svc, people):
    case_id = cases.open_case(svc, people["ann"], "ann@example.test", "pop", True, "please")
    cases.deny(svc, people["hd"], case_id)
    assert cases.list_cases(svc, SYSTEM)[0].status == "denied"
    assert (pop(svc).allowed, pop(svc).reason) == (False, "plan_default")


def test_decided_cases_cannot_move_again_and_nothing_changes(svc, people):
    approved = cases.open_case(svc, people["ann"], "ann@example.test", "imap", False, "x")
    cases.approve(svc, people["hd"], approved)
    denied = cases.open_case(svc, people["ann"], "ann@example.test", "pop", True, "y")
    cases.deny(svc, people["hd"], denied)
    escalated = cases.open_case(svc, people["ann"], "ann@example.test", "pop", True, "z")
    cases.escalate(svc, people["hd"], escalated)
    before = snapshot(svc)
    for case_id in (approved, denied):
        for step in (cases.approve, cases.deny, cases.escalate):
            with pytest.raises(InvalidTransition, match=f"#{case_id} is already"):
                step(svc, people["boss"], case_id)
    with pytest.raises(InvalidTransition, match="already escalated"):
        cases.escalate(svc, people["boss"], escalated)
    with pytest.raises(NotFound, match="no case #999"):
        cases.approve(svc, people["boss"], 999)
    assert snapshot(svc) == before


def test_helpdesk_cannot_approve_an_escalated_pop_case_but_may_approve_imap_on(svc, people):
    doors.set_protocol(svc, SYSTEM, "bob@example.test", "imap", False)
    pop_case = cases.open_case(svc, people["ann"], "ann@example.test", "pop", True, "p")
    cases.escalate(svc, people["hd"], pop_case)
    before = snapshot(svc)
    with pytest.raises(NotAllowed) as info:
        cases.approve(svc, people["hd"], pop_case)
    assert "only the mail team" in str(info.value)
    assert f"mailgate case escalate {pop_case}" in str(info.value)
    assert snapshot(svc) == before
    imap_case = cases.open_case(svc, people["bob"], "bob@example.test", "imap", True, "i")
    cases.approve(svc, people["hd"], imap_case)
    assert pop(svc, "bob@example.test").allowed is False
    with svc.engine.connect() as conn:
        d = report(conn, account_row(conn, "bob@example.test"), svc.clock()).decisions["imap"]
    assert (d.allowed, d.reason) == (True, "account_setting")


def test_users_see_only_their_own_cases_and_staff_see_all(svc, people):
    cases.open_case(svc, people["ann"], "ann@example.test", "pop", True, "ann's")
    cases.open_case(svc, people["bob"], "bob@example.test", "pop", True, "bob's")
    assert [c.account for c in cases.list_cases(svc, people["ann"])] == ["ann@example.test"]
    assert len(cases.list_cases(svc, people["hd"])) == 2
    assert cases.list_cases(svc, people["ann"])[0].as_json().keys() >= {
        "id", "account", "protocol", "want", "status"}


def test_case_needs_a_note_a_known_protocol_and_an_existing_account(svc, people):
    before = snapshot(svc)
    with pytest.raises(DirectoryError, match="note"):
        cases.open_case(svc, people["ann"], "ann@example.test", "pop", True, "  ")
    with pytest.raises(ValueError, match="did you mean 'pop'"):
        cases.open_case(svc, people["ann"], "ann@example.test", "pop4", True, "x")
    with pytest.raises(NotFound, match=r"no account nobody@example\.test"):
        cases.open_case(svc, people["hd"], "nobody@example.test", "pop", True, "x")
    assert snapshot(svc) == before


def test_case_for_a_door_the_department_denies_can_be_neither_opened_nor_approved(svc,
                                                                                  people):
    doors.create_department(svc, SYSTEM, "Physics")
    accounts.create(svc, SYSTEM, "phy@example.test", "a-password", department="Physics")
    case_id = cases.open_case(svc, people["hd"], "phy@example.test", "pop", True, "x")
    doors.set_department_policy(svc, SYSTEM, "Physics", "pop", deny=True)
    with pytest.raises(NotAllowed, match="mailgate department policy Physics pop inherit"):
        cases.approve(svc, people["boss"], case_id, seconds=3600)
    with pytest.raises(NotAllowed, match="mailgate department policy Physics pop inherit"):
        cases.open_case(svc, people["hd"], "phy@example.test", "pop", True, "again")
    assert [c.status for c in cases.list_cases(svc, SYSTEM)] == ["open"]
    d = pop(svc, "phy@example.test")
    assert (d.allowed, d.reason, d.locked) == (False, "department_policy", True)
