"""Operator API keys through the directory, on every backend: who may make and revoke them,
what a key acts as, and every way a key dies (revoked, expired, its account compromised,
deactivated or not active)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from mailgate.db.schema import api_keys as api_keys_table
from mailgate.directory import accounts, api_keys
from mailgate.directory.authority import Actor
from mailgate.directory.errors import Conflict, InvalidTransition, NotAllowed
from mailgate.directory.views import load_actor

SYSTEM = Actor.system()
T0 = 1_750_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def staff(svc) -> dict[str, Actor]:  # type: ignore[no-untyped-def]
    svc.clock = Clock()
    people = {"admin": "ops@example.test", "helpdesk": "desk@example.test", "user": None}
    actors = {}
    for role, address in people.items():
        where = address or "student@example.test"
        accounts.create(svc, SYSTEM, where, "correct horse battery")
        if address is not None:
            accounts.grant_role(svc, SYSTEM, where, role)
        with svc.reader.connect() as conn:
            actors[role] = load_actor(conn, where)
    return actors


def test_staff_make_their_own_keys_and_only_the_mail_team_anyone_s(svc, staff) -> None:  # type: ignore[no-untyped-def]
    made, secret = api_keys.create(svc, staff["helpdesk"], "desk@example.test", "tickets")
    assert secret.startswith("mgk_") and len(secret) == 52
    assert api_keys.authenticate(svc, secret) == staff["helpdesk"]
    with pytest.raises(NotAllowed, match=re.escape(
            "only the mail team (admin) can create API keys for another account")):
        api_keys.create(svc, staff["helpdesk"], "student@example.test")
    with pytest.raises(NotAllowed, match="only the help desk or the mail team can create "
                                         "API keys"):
        api_keys.create(svc, staff["user"], "student@example.test")
    _, for_user = api_keys.create(svc, staff["admin"], "student@example.test")
    assert api_keys.authenticate(svc, for_user) == staff["user"]
    assert [k.id for k in api_keys.list_keys(svc, staff["helpdesk"])] == [made.id]
    assert len(api_keys.list_keys(svc, staff["admin"])) == 2
    with svc.reader.connect() as conn:
        stored = conn.execute(select(api_keys_table.c.secret_hash)).scalars().all()
    assert secret not in stored and svc.app_secret_key.mac(secret) in stored


def test_unknown_malformed_revoked_and_expired_keys_act_as_nobody(svc, staff) -> None:  # type: ignore[no-untyped-def]
    made, secret = api_keys.create(svc, staff["admin"], "ops@example.test", expires_in=3600)
    for wrong in ("", "mgk_" + "0" * 48, secret + "0", "x" * 10_000, secret.upper()[:-1]):
        assert api_keys.authenticate(svc, wrong) is None
    assert api_keys.authenticate(svc, secret) == staff["admin"]
    svc.clock.now += 3600
    assert api_keys.authenticate(svc, secret) is None
    assert api_keys.list_keys(svc, staff["admin"])[0].status(svc.clock()) == "expired"
    other, second = api_keys.create(svc, staff["admin"], "ops@example.test")
    with pytest.raises(NotAllowed, match=re.escape(
            "only the mail team (admin) can revoke another account's API keys")):
        api_keys.revoke(svc, staff["helpdesk"], other.id)
    assert api_keys.revoke(svc, staff["admin"], other.id).status(svc.clock()) == "revoked"
    assert api_keys.authenticate(svc, second) is None
    with pytest.raises(Conflict, match=f"API key {other.id} is already revoked"):
        api_keys.revoke(svc, staff["admin"], other.id)
    assert made.id != other.id


def test_compromise_and_deactivation_revoke_the_account_s_keys(svc, staff) -> None:  # type: ignore[no-untyped-def]
    _, desk = api_keys.create(svc, staff["helpdesk"], "desk@example.test")
    _, ops = api_keys.create(svc, staff["admin"], "ops@example.test")
    accounts.compromise(svc, SYSTEM, "desk@example.test", "laptop stolen")
    assert api_keys.authenticate(svc, desk) is None
    accounts.restore(svc, SYSTEM, "desk@example.test", "a brand new password", "by phone")
    assert api_keys.authenticate(svc, desk) is None  # restore does not bring a key back
    accounts.deactivate(svc, SYSTEM, "ops@example.test")
    assert api_keys.authenticate(svc, ops) is None
    statuses = {k.account: k.status(svc.clock()) for k in api_keys.list_keys(svc, SYSTEM)}
    assert statuses == {"desk@example.test": "revoked", "ops@example.test": "revoked"}


def test_no_key_for_an_account_that_is_not_active(svc, staff) -> None:  # type: ignore[no-untyped-def]
    accounts.create(svc, SYSTEM, "new@example.test", None, pending=True)
    with pytest.raises(InvalidTransition, match=re.escape(
            "new@example.test is pending; an API key can only act as an active account")):
        api_keys.create(svc, SYSTEM, "new@example.test")


def test_last_use_is_written_at_most_once_a_minute(svc, staff) -> None:  # type: ignore[no-untyped-def]
    made, secret = api_keys.create(svc, staff["admin"], "ops@example.test")
    api_keys.authenticate(svc, secret)
    svc.clock.now += 30
    api_keys.authenticate(svc, secret)
    assert api_keys.list_keys(svc, SYSTEM)[0].last_used_at == T0
    svc.clock.now += 30
    api_keys.authenticate(svc, secret)
    assert api_keys.list_keys(svc, SYSTEM)[0].last_used_at == T0 + 60
    assert made.last_used_at is None
