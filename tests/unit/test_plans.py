"""`plan set` (SPEC §3): never silently flips existing accounts: reports, refuses, keeps."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, insert, select

from mailgate.db import schema
from mailgate.directory import accounts, doors
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotFound
from mailgate.directory.views import account_row, report

SYSTEM = Actor.system()
T0 = 1_750_000_000.0
DAY = 86400


def snapshot(svc) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with svc.engine.connect() as conn:
        for table in (schema.accounts, schema.account_settings, schema.plans,
                      schema.plan_defaults, schema.temporary_grants):
            keys = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*keys))]
        for table in (schema.audit_log, schema.events):
            out[table.name] = conn.execute(select(func.count()).select_from(table)).scalar()
    return out


def door(svc, address: str, protocol: str = "pop") -> tuple[bool, str]:
    with svc.engine.connect() as conn:
        d = report(conn, account_row(conn, address), svc.clock()).decisions[protocol]
    return d.allowed, d.reason


@pytest.fixture
def org(svc):
    """Five accounts on plan standard and one on plan other, with some POP usage.

    a1 used POP 10 days ago (by password and app password), a2 101 days ago, a3 used only
    IMAP, a4 never signed in, a5 has POP on explicitly (so the plan default does not
    reach it) and used it yesterday, z1 is on another plan.
    """
    svc.clock = lambda: T0
    doors.plan_set(svc, SYSTEM, "other", "imap", True)
    for n in range(1, 6):
        accounts.create(svc, SYSTEM, f"a{n}@example.test", "a-password")
    accounts.create(svc, SYSTEM, "z1@example.test", "a-password", plan="other")
    doors.set_protocol(svc, SYSTEM, "a5@example.test", "pop", True)

    def used(address: str, protocol: str, method: str, ago: float) -> dict[str, Any]:
        with svc.engine.connect() as conn:
            account_id = account_row(conn, address).id
        return {"account_id": account_id, "protocol": protocol, "method": method,
                "successes": 3, "failures": 0, "last_success_at": T0 - ago,
                "last_attempt_at": T0 - ago}

    rows = [used("a1@example.test", "pop", "password", 10 * DAY),
            used("a1@example.test", "pop", "app_password", 11 * DAY),
            used("a2@example.test", "pop", "password", 101 * DAY),
            used("a3@example.test", "imap", "password", DAY),
            used("a5@example.test", "pop", "password", DAY),
            used("z1@example.test", "pop", "password", DAY)]
    with svc.engine.begin() as conn:
        conn.execute(insert(schema.usage), rows)
    return svc


def test_dry_run_counts_affected_accounts_and_recent_users_and_changes_nothing(org):
    before = snapshot(org)
    change = doors.plan_set(org, SYSTEM, "standard", "pop3", True, dry_run=True)
    assert (change.protocol, change.old, change.new) == ("pop", False, True)
    assert (change.affected, change.used_recently, change.applied) == (4, 1, False)
    text = change.summary()
    assert "4 existing account(s)" in text and "1 used it in the last 90 days" in text
    assert "--existing follow" in text and "--existing keep" in text
    assert snapshot(org) == before


def test_dry_run_with_an_existing_choice_still_changes_nothing(org):
    before = snapshot(org)
    change = doors.plan_set(org, SYSTEM, "standard", "pop", True, existing="follow",
                            dry_run=True)
    assert change.affected == 4 and not change.applied
    assert snapshot(org) == before


def test_without_existing_choice_plan_set_refuses_when_accounts_would_change(org):
    before = snapshot(org)
    with pytest.raises(DirectoryError) as info:
        doors.plan_set(org, SYSTEM, "standard", "pop", True)
    message = str(info.value)
    assert "4 existing account(s)" in message and "--existing keep" in message
    assert "--dry-run" in message
    assert snapshot(org) == before


def test_without_existing_choice_plan_set_applies_when_nobody_is_affected(org):
    change = doors.plan_set(org, SYSTEM, "empty", "pop", True)  # a new plan: no accounts
    assert change.applied and change.affected == 0
    same = doors.plan_set(org, SYSTEM, "standard", "imap", True)  # already on: no change
    assert same.affected == 0 and "already on" in same.summary()


def test_keep_writes_todays_value_on_existing_accounts_and_new_accounts_get_the_new_default(
        org):
    change = doors.plan_set(org, SYSTEM, "standard", "pop", True, existing="keep")
    assert (change.applied, change.existing, change.affected) == (True, "keep", 4)
    for n in range(1, 5):
        assert door(org, f"a{n}@example.test") == (False, "account_setting")
    assert door(org, "a5@example.test") == (True, "account_setting")
    assert door(org, "z1@example.test") == (False, "plan_default")
    accounts.create(org, SYSTEM, "new@example.test", "a-password")
    assert door(org, "new@example.test") == (True, "plan_default")
    with org.engine.connect() as conn:
        sources = conn.execute(select(schema.account_settings.c.source).where(
            schema.account_settings.c.protocol == "pop").order_by(
            schema.account_settings.c.account_id)).scalars().all()
        audit = conn.execute(select(schema.audit_log).where(
            schema.audit_log.c.action == "plan.set").order_by(
            schema.audit_log.c.id.desc())).first()
    assert sources == ["plan_change"] * 4 + ["account"]
    assert '"kept":4' in audit.details and '"existing":"keep"' in audit.details


def test_follow_moves_existing_accounts_to_the_new_default(org):
    change = doors.plan_set(org, SYSTEM, "standard", "pop", True, existing="follow")
    assert (change.applied, change.existing, change.affected) == (True, "follow", 4)
    for n in range(1, 5):
        assert door(org, f"a{n}@example.test") == (True, "plan_default")
    assert door(org, "z1@example.test") == (False, "plan_default")
    # and back off again, following: explicit settings still win
    doors.plan_set(org, SYSTEM, "standard", "pop", False, existing="follow")
    assert door(org, "a1@example.test") == (False, "plan_default")
    assert door(org, "a5@example.test") == (True, "account_setting")


def test_keep_when_turning_a_door_off_for_new_accounts_only(org):
    doors.plan_set(org, SYSTEM, "standard", "imap", False, existing="keep")
    assert door(org, "a1@example.test", "imap") == (True, "account_setting")
    accounts.create(org, SYSTEM, "new@example.test", "a-password")
    assert door(org, "new@example.test", "imap") == (False, "plan_default")


def test_plan_set_refuses_nonsense_and_changes_nothing(org):
    before = snapshot(org)
    with pytest.raises(NotFound, match="no plan 'gold'"):
        doors.plan_set(org, SYSTEM, "gold", "pop", True, dry_run=True)
    with pytest.raises(DirectoryError, match="keep or follow"):
        doors.plan_set(org, SYSTEM, "standard", "pop", True, existing="maybe")
    with pytest.raises(ValueError, match="did you mean 'pop'"):
        doors.plan_set(org, SYSTEM, "standard", "pop4", True, existing="keep")
    assert snapshot(org) == before
