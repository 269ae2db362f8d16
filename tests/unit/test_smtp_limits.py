"""Sending limits per plan: messages and recipients in the last hour, the Sent copy, and the
audit of a refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailgate.db import schema
from mailgate.directory import accounts, sending
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotFound
from mailgate.directory.views import account_row
from mailgate.protocols.smtp import limits

SYSTEM = Actor.system()
T0 = 1_750_000_000.0
ADDRESS = "mallory@example.test"


@pytest.fixture
def account_id(svc) -> int:
    svc.clock = lambda: T0
    accounts.create(svc, SYSTEM, ADDRESS, "correct-horse-battery")
    with svc.engine.connect() as conn:
        return int(account_row(conn, ADDRESS).id)


def _record_send(svc, account_id: int, recipients: int) -> None:
    with svc.engine.begin() as conn:
        limits.count_sends(conn, [(account_id, recipients, svc.clock())])


def test_plans_start_with_limits_and_a_sent_copy(svc, account_id: int) -> None:
    assert limits.standing_now(svc, account_id).allowed == sending.Sending(200, 1000, True)


def test_messages_per_hour(svc, account_id: int) -> None:
    sending.set_plan(svc, SYSTEM, "standard", messages_per_hour="2")
    for _ in range(2):
        assert limits.standing_now(svc, account_id).exceeded(0) is None
        _record_send(svc, account_id, 1)
    found = limits.standing_now(svc, account_id).exceeded(0)
    assert found == limits.Exceeded("messages_per_hour", 2, 2)
    assert found.reply() == ("451 4.7.1 Sending limit reached: your account may send to at "
                             "most 2 messages per hour; try again later")
    svc.clock = lambda: T0 + limits.HOUR + 1  # an hour later the account sends again
    assert limits.standing_now(svc, account_id).exceeded(0) is None
    _record_send(svc, account_id, 1)
    with svc.engine.connect() as conn:  # the old rows went
        assert len(conn.execute(select(schema.sends)).all()) == 1


def test_recipients_per_hour_count_the_envelope_too(svc, account_id: int) -> None:
    sending.set_plan(svc, SYSTEM, "standard", recipients_per_hour="5",
                     messages_per_hour="none")
    _record_send(svc, account_id, 3)
    assert limits.standing_now(svc, account_id).exceeded(2) is None
    assert limits.standing_now(svc, account_id).exceeded(3) == limits.Exceeded(
        "recipients_per_hour", 5, 3)
    sending.set_plan(svc, SYSTEM, "standard", recipients_per_hour="none")
    assert limits.standing_now(svc, account_id).exceeded(10_000) is None


def test_set_plan_is_audited_checked_and_admin_only(svc, account_id: int) -> None:
    before, after = sending.set_plan(svc, SYSTEM, "standard", sent_copy=False)
    assert before.sent_copy and not after.sent_copy
    assert not limits.standing_now(svc, account_id).allowed.sent_copy
    with svc.engine.connect() as conn:
        actions = conn.execute(select(schema.audit_log.c.action)).scalars().all()
    assert actions[-1] == "plan.sending"
    for bad in ("0", "-1", "many", "1000000001", "\u00b2"):  # too many for the column; not ASCII
        with pytest.raises(DirectoryError):
            sending.set_plan(svc, SYSTEM, "standard", messages_per_hour=bad)
    with pytest.raises(NotFound):
        sending.set_plan(svc, SYSTEM, "nonesuch", sent_copy=True)
    with pytest.raises(DirectoryError):
        sending.set_plan(svc, Actor(ADDRESS, None, frozenset()), "standard", sent_copy=True)


def test_a_refusal_is_audited(svc, account_id: int) -> None:
    limits.audit_refusal(svc, ADDRESS, limits.Exceeded("messages_per_hour", 2, 2),
                         "192.0.2.1", "password")
    with svc.engine.connect() as conn:
        row = conn.execute(select(schema.audit_log).order_by(schema.audit_log.c.id.desc())
                           ).first()
    assert (row.action, row.account) == ("send.limit", ADDRESS)
    assert '"limit":"messages_per_hour"' in row.details.replace(" ", "")
