"""Accounts and their lifecycle (SPEC §2) through the directory API, on every backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from mailgate.db import schema
from mailgate.directory import accounts, cases, doors
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, InvalidTransition
from mailgate.directory.views import account_row, report
from mailgate.policy.catalogue import PROTOCOLS
from mailgate.store import messages

SYSTEM = Actor.system()
T0 = 1_750_000_000.0
DAY = 86400
STATE_REASONS = {
    "compromised": "account_compromised", "deactivating": "account_deactivating",
    "deactivated": "account_deactivated", "pending": "services_not_activated",
}
SNAPSHOT_TABLES = (schema.accounts, schema.account_settings, schema.temporary_grants,
                   schema.roles, schema.cases, schema.app_passwords, schema.plan_defaults,
                   schema.department_denials)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(svc) -> Clock:
    c = Clock()
    svc.clock = c
    return c


def snapshot(svc) -> dict[str, Any]:
    """Every policy-relevant row, plus how many audit and event rows exist."""
    out: dict[str, Any] = {}
    with svc.engine.connect() as conn:
        for table in SNAPSHOT_TABLES:
            keys = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*keys))]
        for table in (schema.audit_log, schema.events):
            out[table.name] = conn.execute(select(func.count()).select_from(table)).scalar()
    return out


def accepts_mail(svc, address: str) -> bool:
    """The inbound gate (SPEC §1): only a missing or deactivated account refuses mail."""
    with svc.engine.connect() as conn:
        return messages.recipient(conn, address, svc.clock()) > 0


def show(svc, address: str):
    with svc.engine.connect() as conn:
        return report(conn, account_row(conn, address), svc.clock())


def door(svc, address: str, protocol: str) -> tuple[bool, str]:
    d = show(svc, address).decisions[protocol]
    return d.allowed, d.reason


def last_audit(svc, action: str | None = None) -> Any:
    q = select(schema.audit_log).order_by(schema.audit_log.c.id.desc())
    if action:
        q = q.where(schema.audit_log.c.action == action)
    with svc.engine.connect() as conn:
        row = conn.execute(q.limit(1)).one()
    return row, json.loads(row.details)


def make(svc, clock: Clock, address: str, state: str) -> str:
    """An account in `state`; 'expired' is deactivating whose grace has already run out."""
    accounts.create(svc, SYSTEM, address, "first-password", pending=state == "pending")
    if state == "compromised":
        accounts.compromise(svc, SYSTEM, address, "phished")
    elif state == "deactivating":
        accounts.deactivate(svc, SYSTEM, address)
    elif state == "deactivated":
        accounts.deactivate(svc, SYSTEM, address, now_=True)
    elif state == "expired":
        real = clock.now
        clock.now = real - 31 * DAY
        accounts.deactivate(svc, SYSTEM, address)
        clock.now = real
    return address


OPS: dict[str, Callable[..., Any]] = {
    "compromise": lambda svc, a: accounts.compromise(svc, SYSTEM, a, "phished again"),
    "restore": lambda svc, a: accounts.restore(svc, SYSTEM, a, "brand-new-password",
                                               "owner showed ID at the desk"),
    "deactivate": lambda svc, a: accounts.deactivate(svc, SYSTEM, a),
    "deactivate_now": lambda svc, a: accounts.deactivate(svc, SYSTEM, a, now_=True),
    "activate": lambda svc, a: accounts.activate(svc, SYSTEM, a),
}

LEGAL = [
    ("active", "compromise", "compromised"),
    ("pending", "compromise", "compromised"),
    ("deactivating", "compromise", "compromised"),
    ("compromised", "restore", "active"),
    ("active", "deactivate", "deactivating"),
    ("pending", "deactivate", "deactivating"),
    ("active", "deactivate_now", "deactivated"),
    ("deactivating", "deactivate_now", "deactivated"),
    ("pending", "activate", "active"),
    ("deactivating", "activate", "active"),
]

ILLEGAL = [
    ("deactivated", "compromise"), ("expired", "compromise"), ("compromised", "compromise"),
    ("active", "restore"), ("pending", "restore"), ("deactivating", "restore"),
    ("deactivated", "restore"), ("expired", "restore"),
    ("deactivated", "deactivate"), ("deactivated", "deactivate_now"),
    ("expired", "deactivate"), ("expired", "deactivate_now"), ("deactivating", "deactivate"),
    ("active", "activate"), ("compromised", "activate"), ("deactivated", "activate"),
    ("expired", "activate"),
]


def test_new_accounts_are_active_or_pending_with_the_right_doors(svc, clock):
    make(svc, clock, "ann@example.test", "active")
    make(svc, clock, "pat@example.test", "pending")
    ann, pat = show(svc, "ann@example.test"), show(svc, "pat@example.test")
    assert ann.state == "active" and ann.plan == "standard"
    assert {p: (d.allowed, d.reason) for p, d in ann.decisions.items()} == {
        p: (p != "pop", "plan_default") for p in PROTOCOLS}
    assert pat.state == "pending"
    assert all((d.allowed, d.reason) == (False, "services_not_activated")
               for d in pat.decisions.values())


def test_every_legal_lifecycle_transition_reaches_its_state_and_is_audited(svc, clock):
    for i, (start, op, end) in enumerate(LEGAL):
        address = make(svc, clock, f"legal{i}@example.test", start)
        OPS[op](svc, address)
        rep = show(svc, address)
        assert rep.state == end, (start, op)
        for d in rep.decisions.values():
            if end == "active":
                assert d.reason == "plan_default"
            else:
                assert (d.allowed, d.reason, d.locked) == (False, STATE_REASONS[end], True)
        row, details = last_audit(svc)
        assert row.account == address and row.actor == "system" and row.role == "system"
        assert details["after"]["state"] == end, (start, op)
        assert details["before"]["state"] == start, (start, op)


def test_every_illegal_lifecycle_transition_is_refused_and_changes_nothing(svc, clock):
    for i, (start, op) in enumerate(ILLEGAL):
        address = make(svc, clock, f"illegal{i}@example.test", start)
        before = snapshot(svc)
        with pytest.raises(InvalidTransition) as info:
            OPS[op](svc, address)
        assert address in str(info.value), (start, op)
        assert snapshot(svc) == before, (start, op)


def test_compromise_needs_a_reason_and_revokes_app_passwords_and_ends_credentials(svc, clock):
    make(svc, clock, "ann@example.test", "active")
    with svc.engine.begin() as conn:
        row = account_row(conn, "ann@example.test")
        conn.execute(insert(schema.app_passwords), [
            {"account_id": row.id, "label": "phone", "protocols": "imap",
             "secret_hash": "x", "created_at": T0}])
    before = snapshot(svc)
    with pytest.raises(DirectoryError, match="reason"):
        accounts.compromise(svc, SYSTEM, "ann@example.test", "  ")
    assert snapshot(svc) == before
    accounts.compromise(svc, SYSTEM, "ann@example.test", "password seen in phishing kit")
    with svc.engine.connect() as conn:
        after = account_row(conn, "ann@example.test")
        revoked = conn.execute(select(schema.app_passwords.c.revoked_at)).scalar()
        kinds = [r.kind for r in conn.execute(select(schema.events))]
    assert after.credential_epoch == row.credential_epoch + 1
    assert revoked == T0
    assert "account.compromise" in kinds
    _, details = last_audit(svc, "account.compromise")
    assert details["reason"] == "password seen in phishing kit"
    assert details["app_passwords_revoked"] == 1


def test_restore_resets_doors_to_plan_defaults_and_drops_grants(svc, clock):
    address = make(svc, clock, "ann@example.test", "active")
    doors.set_protocol(svc, SYSTEM, address, "pop", True)
    doors.set_protocol(svc, SYSTEM, address, "imap", False)
    doors.set_protocol(svc, SYSTEM, address, "smtp", False, seconds=3600)
    assert door(svc, address, "pop") == (True, "account_setting")
    assert door(svc, address, "smtp") == (False, "temporary_grant")
    accounts.compromise(svc, SYSTEM, address, "phished")
    # the attacker (or anyone) changing doors meanwhile must not survive either
    doors.set_protocol(svc, SYSTEM, address, "web", False)
    accounts.restore(svc, SYSTEM, address, "brand-new-password", "verified by Sam, photo ID")
    rep = show(svc, address)
    assert rep.state == "active"
    assert {p: (d.allowed, d.reason) for p, d in rep.decisions.items()} == {
        p: (p != "pop", "plan_default") for p in PROTOCOLS}
    with svc.engine.connect() as conn:
        row = account_row(conn, address)
        for table in (schema.account_settings, schema.temporary_grants):
            assert conn.execute(select(table).where(table.c.account_id == row.id)).all() == []
    assert svc.passwords.verify(row.password_hash, "brand-new-password")
    _, details = last_audit(svc, "account.restore")
    assert details["note"] == "verified by Sam, photo ID"
    assert details["verified_by"] == "system"
    assert details["before"]["custom_settings"] == ["imap", "pop", "web"]


def test_restore_requires_a_different_password_and_a_note(svc, clock):
    address = make(svc, clock, "ann@example.test", "compromised")
    before = snapshot(svc)
    with pytest.raises(DirectoryError, match="differ"):
        accounts.restore(svc, SYSTEM, address, "first-password", "ID checked")
    with pytest.raises(DirectoryError, match="note"):
        accounts.restore(svc, SYSTEM, address, "brand-new-password", " ")
    with pytest.raises(ValueError, match="at least"):
        accounts.restore(svc, SYSTEM, address, "short", "ID checked")
    assert snapshot(svc) == before
    assert show(svc, address).state == "compromised"


def test_deactivating_becomes_deactivated_after_the_grace_without_any_job(svc, clock):
    address = make(svc, clock, "ann@example.test", "active")
    assert accounts.deactivate(svc, SYSTEM, address) == "deactivating"
    _, details = last_audit(svc, "account.deactivate")
    assert details["after"]["deactivate_at"] == T0 + 30 * DAY
    assert accepts_mail(svc, address)  # still receives mail while deactivating
    clock.now = T0 + 30 * DAY - 1
    assert show(svc, address).state == "deactivating"
    assert door(svc, address, "imap") == (False, "account_deactivating")
    clock.now = T0 + 30 * DAY
    assert show(svc, address).state == "deactivated"
    assert door(svc, address, "imap") == (False, "account_deactivated")
    with pytest.raises(messages.MessageRejected, match=r"5\.1\.1"):
        accepts_mail(svc, address)
    with svc.engine.connect() as conn:
        assert account_row(conn, address).state == "deactivating"  # nothing had to run


def test_deactivation_grace_comes_from_the_policy_setting(svc, clock):
    svc.settings.values["policy"]["deactivation_grace"] = "2h"
    address = make(svc, clock, "ann@example.test", "active")
    accounts.deactivate(svc, SYSTEM, address)
    clock.now = T0 + 7200
    assert show(svc, address).state == "deactivated"


def test_activate_cancels_a_deactivation_in_progress(svc, clock):
    address = make(svc, clock, "ann@example.test", "deactivating")
    accounts.activate(svc, SYSTEM, address)
    clock.now = T0 + 365 * DAY
    assert show(svc, address).state == "active"


def test_deactivated_account_refuses_inbound_mail_but_compromised_still_receives(svc, clock):
    gone = make(svc, clock, "gone@example.test", "deactivated")
    hacked = make(svc, clock, "hacked@example.test", "compromised")
    with pytest.raises(messages.MessageRejected, match=r"5\.1\.1"):
        accepts_mail(svc, gone)
    assert accepts_mail(svc, hacked)
    assert accepts_mail(svc, make(svc, clock, "new@example.test", "pending"))


def test_temporary_protocol_setting_shows_temporary_grant_then_reverts(svc, clock):
    address = make(svc, clock, "ann@example.test", "active")
    doors.set_protocol(svc, SYSTEM, address, "pop", True, seconds=60)
    doors.set_protocol(svc, SYSTEM, address, "imap", False)
    doors.set_protocol(svc, SYSTEM, address, "imap", True, seconds=60)
    assert door(svc, address, "pop") == (True, "temporary_grant")
    assert door(svc, address, "imap") == (True, "temporary_grant")
    _, details = last_audit(svc, "protocol.set")
    assert details["expires_in"] == 60
    clock.now = T0 + 59
    assert door(svc, address, "pop") == (True, "temporary_grant")
    clock.now = T0 + 60
    assert door(svc, address, "pop") == (False, "plan_default")  # the previous value
    assert door(svc, address, "imap") == (False, "account_setting")


def test_permanent_setting_replaces_a_running_grant(svc, clock):
    address = make(svc, clock, "ann@example.test", "active")
    doors.set_protocol(svc, SYSTEM, address, "pop", True, seconds=600)
    doors.set_protocol(svc, SYSTEM, address, "pop", False)
    assert door(svc, address, "pop") == (False, "account_setting")
    clock.now = T0 + 601
    assert door(svc, address, "pop") == (False, "account_setting")


def test_approved_time_limited_case_reverts_by_itself(svc, clock):
    address = make(svc, clock, "ann@example.test", "active")
    actor = Actor(address, show_id(svc, address), frozenset())
    case_id = cases.open_case(svc, actor, address, "pop3", True, "need POP for old phone")
    cases.approve(svc, SYSTEM, case_id, seconds=7 * DAY)
    d = show(svc, address).decisions["pop"]
    assert (d.allowed, d.reason, d.source) == (True, "temporary_grant", "case")
    [case] = [c for c in cases.list_cases(svc, SYSTEM) if c.id == case_id]
    assert case.status == "approved" and case.expires_at == T0 + 7 * DAY
    clock.now = T0 + 7 * DAY + 1
    assert door(svc, address, "pop") == (False, "plan_default")


def show_id(svc, address: str) -> int:
    with svc.engine.connect() as conn:
        return int(account_row(conn, address).id)


def test_duplicate_and_malformed_accounts_are_refused(svc, clock):
    make(svc, clock, "ann@example.test", "active")
    before = snapshot(svc)
    for address in ("ANN@example.test", " ann@example.test"):
        with pytest.raises(DirectoryError, match="already exists"):
            accounts.create(svc, SYSTEM, address, "another-password")
    for bad in ("ann", "ann@", "@example.test", "ann@example", "a b@example.test",
                "ann..x@example.test", "ann@exa_mple.test"):
        with pytest.raises(DirectoryError, match="invalid address"):
            accounts.create(svc, SYSTEM, bad, "another-password")
    with pytest.raises(DirectoryError, match="department"):
        accounts.create(svc, SYSTEM, "bo@example.test", "another-password", department="Nope")
    with pytest.raises(DirectoryError, match="plan"):
        accounts.create(svc, SYSTEM, "bo@example.test", "another-password", plan="gold")
    assert snapshot(svc) == before


def test_password_change_bumps_the_credential_epoch(svc, clock):
    address = make(svc, clock, "ann@example.test", "active")
    accounts.set_password(svc, SYSTEM, address, "second-password")
    with svc.engine.connect() as conn:
        row = account_row(conn, address)
    assert row.credential_epoch == 1 and svc.passwords.verify(row.password_hash,
                                                              "second-password")
    assert last_audit(svc)[0].action == "account.password"


def test_a_compromised_account_cannot_skip_restore_through_deactivate_and_activate(svc, clock):
    address = make(svc, clock, "zed@example.test", "active")
    doors.set_protocol(svc, SYSTEM, address, "pop", True)
    accounts.compromise(svc, SYSTEM, address, "phished")
    accounts.deactivate(svc, SYSTEM, address)
    with pytest.raises(InvalidTransition, match="restore"):
        accounts.activate(svc, SYSTEM, address)
    assert show(svc, address).state == "deactivating"
