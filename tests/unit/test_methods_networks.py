"""Sign-in methods per plan/department/account and allowed networks, through the directory."""

from __future__ import annotations

import pytest

from mailgate.directory import accounts, doors
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotAllowed
from mailgate.directory.views import account_row, load_actor, policy_view
from mailgate.policy.decision import decide
from mailgate.service import Service

SYSTEM = Actor.system()


def _decide(svc: Service, address: str, method: str, peer: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    now = svc.clock()
    with svc.reader.connect() as conn:
        return decide(policy_view(conn, account_row(conn, address), now), "imap", now,
                      method=method, peer=peer)


def test_methods_intersect_over_plan_department_and_account(svc: Service) -> None:
    doors.create_department(svc, SYSTEM, "Physics")
    accounts.create(svc, SYSTEM, "pia@example.test", "correct-horse", department="Physics")
    assert _decide(svc, "pia@example.test", "password").allowed
    doors.set_methods(svc, SYSTEM, "department", "Physics", "imap", ["app_password", "oauth"])
    refused = _decide(svc, "pia@example.test", "password")
    assert refused.reason == "modern_auth_required"
    assert "an app password or OAuth" in refused.detail
    doors.set_methods(svc, SYSTEM, "account", "pia@example.test", "imap", ["oauth"])
    assert not _decide(svc, "pia@example.test", "app_password").allowed
    assert _decide(svc, "pia@example.test", "oauth").allowed
    doors.set_methods(svc, SYSTEM, "department", "Physics", "imap", None)
    doors.set_methods(svc, SYSTEM, "account", "pia@example.test", "imap", None)
    assert _decide(svc, "pia@example.test", "password").allowed


def test_networks_limit_where_a_door_is_reachable_from(svc: Service) -> None:
    accounts.create(svc, SYSTEM, "ned@example.test", "correct-horse")
    doors.set_networks(svc, SYSTEM, "imap", ["10.0.0.0/8"])
    assert _decide(svc, "ned@example.test", "password", "10.1.2.3").allowed
    assert _decide(svc, "ned@example.test", "password", "127.0.0.1").reason == \
        "network_not_allowed"
    doors.set_networks(svc, SYSTEM, "imap", [])
    assert _decide(svc, "ned@example.test", "password", "127.0.0.1").allowed
    with pytest.raises(DirectoryError, match="invalid network"):
        doors.set_networks(svc, SYSTEM, "imap", ["10.0.0.0/33"])


def test_who_may_set_methods_and_networks(svc: Service) -> None:
    doors.create_department(svc, SYSTEM, "Physics")
    doors.create_department(svc, SYSTEM, "Law")
    for address in ("dee@example.test", "hal@example.test"):
        accounts.create(svc, SYSTEM, address, "correct-horse")
    accounts.grant_role(svc, SYSTEM, "dee@example.test", "dept-admin", "Physics")
    accounts.grant_role(svc, SYSTEM, "hal@example.test", "helpdesk")
    with svc.reader.connect() as conn:
        dee, hal = load_actor(conn, "dee@example.test"), load_actor(conn, "hal@example.test")
    doors.set_methods(svc, dee, "department", "Physics", "pop", ["oauth"])
    with pytest.raises(NotAllowed):
        doors.set_methods(svc, dee, "department", "Law", "pop", ["oauth"])
    with pytest.raises(NotAllowed):
        doors.set_methods(svc, hal, "plan", "standard", "pop", ["oauth"])
    with pytest.raises(NotAllowed):
        doors.set_networks(svc, hal, "pop", ["10.0.0.0/8"])
    with pytest.raises(DirectoryError, match="at least one method"):
        doors.set_methods(svc, SYSTEM, "plan", "standard", "pop", [])
