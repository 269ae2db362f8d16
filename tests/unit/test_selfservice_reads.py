"""What the self-service pages and autoconfiguration read: the doors offered to one account or,
proving nothing, to a new account on the default plan; and an account's own sign-ins, which
its owner may read and another user may not."""

from __future__ import annotations

import pytest

from mailgate.audit import log as audit_log
from mailgate.audit import signins
from mailgate.clientconfig.endpoints import offered
from mailgate.directory import accounts, doors
from mailgate.directory.authority import Actor
from mailgate.directory.errors import NotAllowed
from mailgate.directory.views import account_row

SYSTEM = Actor.system()


def _doors(svc, account_id: int | None) -> set[str]:  # type: ignore[no-untyped-def]
    return {e.door for e in offered(svc, account_id)}


def test_offered_doors_per_account_and_for_the_defaults(svc) -> None:  # type: ignore[no-untyped-def]
    accounts.create(svc, SYSTEM, "ann@example.test", "pw-123456789")
    with svc.reader.connect() as conn:
        ann = account_row(conn, "ann@example.test").id
    assert _doors(svc, None) == _doors(svc, ann) == {"imap", "smtp"}
    doors.set_protocol(svc, SYSTEM, "ann@example.test", "pop", True)
    doors.set_protocol(svc, SYSTEM, "ann@example.test", "imap", False)
    assert _doors(svc, ann) == {"pop", "smtp"}
    assert _doors(svc, None) == {"imap", "smtp"}  # nothing about ann leaks into the defaults
    doors.plan_set(svc, SYSTEM, "standard", "pop", True, existing="follow")
    assert _doors(svc, None) == {"imap", "pop", "smtp"}


def test_own_sign_ins_newest_first_and_only_for_the_owner(svc) -> None:  # type: ignore[no-untyped-def]
    for address in ("ann@example.test", "bob@example.test"):
        accounts.create(svc, SYSTEM, address, "pw-123456789")
    with svc.engine.begin() as conn:
        ann = account_row(conn, "ann@example.test")
        bob = account_row(conn, "bob@example.test")
        audit_log.append_many(conn, [
            {"at": 100.0 + i, "actor": "ann@example.test", "role": "user", "action": "signin",
             "account": "ann@example.test",
             "details": {"protocol": protocol, "method": "password", "peer": "192.0.2.7",
                         "client_id": "<b>x</b>", "result": result, "reason": reason}}
            for i, (protocol, result, reason) in enumerate(
                [("imap", "allowed", "signed_in"), ("pop", "denied", "plan_default"),
                 ("imap", "denied", "bad_credentials")])])
    me = Actor.itself(ann.address, ann.id)
    found = signins.recent(svc, me, ann.address)
    assert [(s.protocol, s.allowed, s.reason) for s in found] == [
        ("imap", False, "bad_credentials"), ("pop", False, "plan_default"),
        ("imap", True, "signed_in")]
    assert list(signins.by_door(found)) == ["imap", "pop"]
    assert found[0].client_id == "<b>x</b>" and found[0].peer == "192.0.2.7"
    with pytest.raises(NotAllowed):
        signins.recent(svc, Actor.itself(bob.address, bob.id), ann.address)
    assert signins.recent(svc, SYSTEM, ann.address, limit=1)[0].reason == "bad_credentials"
