"""Audit (SPEC §9): every change is recorded with who/role/what/before->after, hash-chained."""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import delete, insert, select, update

from mailgate.audit import log as audit
from mailgate.db import schema
from mailgate.directory import accounts, cases, doors
from mailgate.directory.authority import Actor
from mailgate.directory.views import load_actor
from mailgate.service import Service

SYSTEM = Actor.system()
A = "ann@example.test"

#: action -> (account it names, keys its details must carry)
EXPECTED = {
    "department.create": (None, {"department"}),
    "department.policy": (None, {"department", "protocol", "before", "after"}),
    "plan.set": (None, {"plan", "protocol", "before", "after", "existing", "affected"}),
    "account.create": (A, {"after"}),
    "role.grant": (A, {"after"}),
    "account.password": (A, set()),
    "protocol.set": (A, {"protocol", "before", "after", "reason", "case", "expires_in"}),
    "alert.door_reopened": (A, {"protocol", "detail"}),
    "case.open": (A, {"case", "protocol", "want", "note"}),
    "case.escalate": (A, {"case", "before", "after"}),
    "case.approve": (A, {"case", "before", "after"}),
    "case.deny": (A, {"case", "before", "after"}),
    "account.compromise": (A, {"before", "after", "reason"}),
    "account.restore": (A, {"before", "after", "note", "verified_by"}),
    "account.deactivate": (A, {"before", "after"}),
    "account.activate": (A, {"before", "after"}),
}


def every_kind_of_change(svc: Service) -> None:
    doors.create_department(svc, SYSTEM, "Physics")
    doors.set_department_policy(svc, SYSTEM, "Physics", "pop", deny=True)
    doors.plan_set(svc, SYSTEM, "standard", "dav", False)
    accounts.create(svc, SYSTEM, A, "first-password", department="Physics")
    accounts.create(svc, SYSTEM, "hd@example.test", "first-password")
    accounts.grant_role(svc, SYSTEM, A, "helpdesk")
    accounts.grant_role(svc, SYSTEM, "hd@example.test", "helpdesk")
    with svc.engine.connect() as conn:
        hd = load_actor(conn, "hd@example.test")
    accounts.set_password(svc, hd, A, "second-password")
    doors.set_protocol(svc, hd, A, "imap", False, reason="user asked")
    doors.set_protocol(svc, SYSTEM, A, "imap", True)  # raises alert.door_reopened
    first = cases.open_case(svc, hd, A, "smtp", False, "spam run")
    cases.escalate(svc, hd, first)
    cases.approve(svc, SYSTEM, first, seconds=3600)
    second = cases.open_case(svc, hd, A, "web", False, "x")
    cases.deny(svc, hd, second)
    accounts.compromise(svc, hd, A, "phished")
    accounts.restore(svc, hd, A, "third-password", "ID card checked by hd")
    accounts.deactivate(svc, SYSTEM, A)
    accounts.activate(svc, SYSTEM, A)


def rows(svc: Service) -> list:
    with svc.engine.connect() as conn:
        return conn.execute(select(schema.audit_log).order_by(schema.audit_log.c.id)).all()


def problems(svc: Service) -> list[tuple[int, str]]:
    with svc.engine.connect() as conn:
        return [(p.row_id, p.problem) for p in audit.verify(conn)]


def test_every_change_writes_an_audit_row_with_actor_role_action_account_and_details(svc):
    every_kind_of_change(svc)
    log = rows(svc)
    assert {r.action for r in log} == set(EXPECTED)
    for r in log:
        account, keys = EXPECTED[r.action]
        details = json.loads(r.details)
        assert r.account == account or (account and r.account == "hd@example.test"), r.action
        assert keys <= set(details), (r.action, details)
        assert r.actor in ("system", "hd@example.test")
        assert r.role == ("system" if r.actor == "system" else "helpdesk")
        assert r.at > 0
    by_action = {r.action: json.loads(r.details) for r in log}
    sets = [json.loads(r.details) for r in log if r.action == "protocol.set"]
    assert [(d["protocol"], d["before"], d["after"]) for d in sets] == [
        ("imap", {"enabled": True, "reason": "plan_default"},
         {"enabled": False, "reason": "account_setting"}),
        ("imap", {"enabled": False, "reason": "account_setting"},
         {"enabled": True, "reason": "account_setting"}),
        ("smtp", {"enabled": True, "reason": "plan_default"},
         {"enabled": False, "reason": "temporary_grant"}),
    ]
    assert sets[0]["reason"] == "user asked" and sets[2]["case"] is not None
    assert by_action["account.compromise"] == {
        "before": {"state": "active"}, "after": {"state": "compromised"},
        "reason": "phished", "app_passwords_revoked": 0}
    assert by_action["account.restore"]["verified_by"] == "hd@example.test"
    assert problems(svc) == []


def test_a_refused_change_writes_no_audit_row(svc):
    accounts.create(svc, SYSTEM, A, "first-password")
    count = len(rows(svc))
    with pytest.raises(Exception):  # noqa: B017 - any refusal
        accounts.restore(svc, SYSTEM, A, "second-password", "not compromised")
    assert len(rows(svc)) == count


@pytest.mark.parametrize("column,value", [("details", '{"after":{"state":"active"}}'),
                                          ("actor", "mallory@example.test"),
                                          ("role", "admin"), ("at", 1.0),
                                          ("account", "bob@example.test")])
def test_verify_names_the_exact_row_whose_content_was_edited(svc, column, value):
    every_kind_of_change(svc)
    victim = rows(svc)[6].id
    with svc.engine.begin() as conn:
        conn.execute(update(schema.audit_log).where(schema.audit_log.c.id == victim)
                     .values({column: value}))
    assert problems(svc) == [(victim, "content was changed after it was written")]


def test_verify_names_the_row_after_a_deleted_one(svc):
    every_kind_of_change(svc)
    log = rows(svc)
    victim = log[5]
    with svc.engine.begin() as conn:
        conn.execute(delete(schema.audit_log).where(schema.audit_log.c.id == victim.id))
    found = problems(svc)
    assert {row for row, _ in found} == {victim.id + 1}
    assert (victim.id + 1, f"rows {victim.id}..{victim.id} are missing") in found
    assert (victim.id + 1, "link to the previous row is broken") in found
    with svc.engine.begin() as conn:  # putting the row back makes the chain whole again
        conn.execute(insert(schema.audit_log).values(victim._asdict()))
    assert problems(svc) == []


def test_verify_detects_a_rewritten_row_even_with_a_recomputed_hash(svc):
    """Recomputing one row's hash does not help: the next row's link breaks."""
    every_kind_of_change(svc)
    r = rows(svc)[3]
    forged = '{"forged":true}'
    digest = audit.row_hash(r.prev_hash, r.id, r.at, r.actor, r.role, r.action, r.account,
                            forged)
    with svc.engine.begin() as conn:
        conn.execute(update(schema.audit_log).where(schema.audit_log.c.id == r.id)
                     .values(details=forged, hash=digest))
    assert problems(svc) == [(r.id + 1, "link to the previous row is broken")]


def test_new_rows_after_tampering_still_chain_onto_the_log(svc):
    every_kind_of_change(svc)
    accounts.create(svc, SYSTEM, "late@example.test", "late-password")
    log = rows(svc)
    assert [r.id for r in log] == list(range(1, len(log) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(log))
    assert log[0].prev_hash == audit.GENESIS


def test_verify_notices_rows_cut_off_the_end(svc):
    every_kind_of_change(svc)
    last = rows(svc)[-1].id
    with svc.engine.begin() as conn:
        conn.execute(delete(schema.audit_log).where(schema.audit_log.c.id >= last - 1))
    found = problems(svc)
    assert found and found[0][0] == last
    assert "removed from the end" in found[0][1]
