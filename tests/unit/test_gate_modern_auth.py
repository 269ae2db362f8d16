"""The gate with tokens (method oauth) and app passwords (method app_password): revocation one
by one and all at once, the method policy, an app password's doors, expiry and networks, its
last use; the CLI's authority over both."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from mailgate.audit.recorder import Recorder
from mailgate.auth.gate import Gate, Principal
from mailgate.db.schema import app_passwords as app_passwords_table
from mailgate.db.schema import audit_log
from mailgate.directory import accounts, app_passwords, doors, tokens
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotAllowed
from mailgate.directory.views import load_actor
from mailgate.protocols.refusals import Refusal
from mailgate.service import Service

SYSTEM = Actor.system()
ANA = "ana@example.test"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def gate(svc: Service) -> Iterator[tuple[Gate, Recorder]]:
    recorder = Recorder(svc)
    the_gate = Gate(svc, recorder)
    accounts.create(svc, SYSTEM, ANA, PASSWORD)
    doors.set_protocol(svc, SYSTEM, ANA, "pop", True)
    yield the_gate, recorder
    the_gate.close()


async def sign_in(the_gate: Gate, protocol: str, secret: str, mechanism: str = "PLAIN",
                  username: str = ANA, peer: str = "127.0.0.1") -> Principal | Refusal:
    return await the_gate.authenticate(protocol, mechanism, username, secret, peer, tls=True)


def reason(result: Principal | Refusal) -> str:
    assert isinstance(result, Refusal) and result.decision is not None, result
    return result.decision.reason


async def test_a_token_signs_in_with_method_oauth_on_its_doors_only(gate, svc) -> None:
    the_gate, _ = gate
    token = tokens.issue(svc, SYSTEM, ANA, ["imap", "pop"]).token
    for protocol in ("imap", "pop"):
        result = await sign_in(the_gate, protocol, token, "OAUTHBEARER")
        assert isinstance(result, Principal) and result.method == "oauth"
    assert await sign_in(the_gate, "smtp", token, "XOAUTH2") == Refusal("credentials")
    assert await sign_in(the_gate, "imap", token, "XOAUTH2", username="bob@example.test") \
        == Refusal("credentials")
    assert isinstance(await sign_in(the_gate, "imap", token, "XOAUTH2", username=""),
                      Principal)
    assert await sign_in(the_gate, "imap", token + "x", "OAUTHBEARER") == Refusal("credentials")
    # a token is a bearer secret: not in clear off loopback either
    assert await the_gate.authenticate("imap", "OAUTHBEARER", "", token, "192.0.2.1",
                                       tls=False) == Refusal("privacy")


async def test_a_revoked_token_is_refused_and_others_still_work(gate, svc) -> None:
    the_gate, _ = gate
    first = tokens.issue(svc, SYSTEM, ANA, ["imap"])
    second = tokens.issue(svc, SYSTEM, ANA, ["imap"])
    tokens.revoke(svc, SYSTEM, ANA, first.claims.token_id)
    assert await sign_in(the_gate, "imap", first.token, "OAUTHBEARER") == Refusal("credentials")
    assert isinstance(await sign_in(the_gate, "imap", second.token, "OAUTHBEARER"), Principal)
    with pytest.raises(DirectoryError):
        tokens.revoke(svc, SYSTEM, ANA, "not a token id")


async def test_compromise_revokes_every_token_and_app_password(gate, svc) -> None:
    the_gate, _ = gate
    token = tokens.issue(svc, SYSTEM, ANA, ["imap"]).token
    _, secret = app_passwords.create(svc, SYSTEM, ANA, ["imap"])
    accounts.compromise(svc, SYSTEM, ANA, "phished")
    assert await sign_in(the_gate, "imap", token, "OAUTHBEARER") == Refusal("credentials")
    assert await sign_in(the_gate, "imap", secret) == Refusal("credentials")
    assert reason(await sign_in(the_gate, "imap", PASSWORD)) == "account_compromised"
    accounts.restore(svc, SYSTEM, ANA, "a-brand-new-password", "checked the passport")
    assert await sign_in(the_gate, "imap", token, "OAUTHBEARER") == Refusal("credentials")
    assert await sign_in(the_gate, "imap", secret) == Refusal("credentials")


async def test_the_method_policy_applies_to_tokens_and_app_passwords(gate, svc) -> None:
    the_gate, _ = gate
    token = tokens.issue(svc, SYSTEM, ANA, ["imap"]).token
    _, secret = app_passwords.create(svc, SYSTEM, ANA, ["imap"])
    doors.set_methods(svc, SYSTEM, "account", ANA, "imap", ["oauth"])
    assert reason(await sign_in(the_gate, "imap", PASSWORD)) == "modern_auth_required"
    refused = await sign_in(the_gate, "imap", secret)
    assert reason(refused) == "modern_auth_required"
    assert isinstance(refused, Refusal) and refused.title == "ModernAuthRequired"
    assert "IMAP does not accept an app password sign-in" in refused.decision.detail
    assert isinstance(await sign_in(the_gate, "imap", token, "OAUTHBEARER"), Principal)
    doors.set_methods(svc, SYSTEM, "account", ANA, "imap", ["app_password"])
    assert reason(await sign_in(the_gate, "imap", token, "OAUTHBEARER")) == \
        "modern_auth_required"
    result = await sign_in(the_gate, "imap", secret)
    assert isinstance(result, Principal) and result.method == "app_password"


async def test_an_app_password_opens_only_its_doors(gate, svc) -> None:
    the_gate, _ = gate
    _, secret = app_passwords.create(svc, SYSTEM, ANA, ["smtp"], label="printer")
    for protocol in ("imap", "pop"):
        refused = await sign_in(the_gate, protocol, secret, "LOGIN")
        assert reason(refused) == "app_password_scope"
        assert isinstance(refused, Refusal) and refused.title == "ProtocolDisabled"
    assert isinstance(await sign_in(the_gate, "smtp", secret), Principal)
    # typed without dashes, in capitals, with spaces: the same secret
    typed = secret.replace("-", " ").upper()
    assert isinstance(await sign_in(the_gate, "smtp", typed), Principal)
    # another account's user name with this secret is just a wrong password
    accounts.create(svc, SYSTEM, "bob@example.test", PASSWORD)
    assert await sign_in(the_gate, "smtp", secret, username="bob@example.test") == \
        Refusal("credentials")


async def test_an_app_password_expires_and_keeps_to_its_networks(gate, svc) -> None:
    the_gate, _ = gate
    _, netted = app_passwords.create(svc, SYSTEM, ANA, ["imap"], networks=["10.1.0.0/16"])
    assert reason(await sign_in(the_gate, "imap", netted)) == "network_not_allowed"
    assert isinstance(await sign_in(the_gate, "imap", netted, peer="10.1.2.3"), Principal)
    _, brief = app_passwords.create(svc, SYSTEM, ANA, ["imap"], expires_in=60)
    assert isinstance(await sign_in(the_gate, "imap", brief), Principal)
    real_clock = svc.clock
    svc.clock = lambda: real_clock() + 120
    assert await sign_in(the_gate, "imap", brief) == Refusal("credentials")
    listed = app_passwords.list_for(svc, SYSTEM, ANA)
    assert [entry.status(svc.clock()) for entry in listed] == ["active", "expired"]


async def test_revoking_an_app_password_and_its_last_use(gate, svc) -> None:
    the_gate, recorder = gate
    made, secret = app_passwords.create(svc, SYSTEM, ANA, ["pop"])
    assert isinstance(await sign_in(the_gate, "pop", secret, "USER"), Principal)
    recorder.flush()
    used = app_passwords.list_for(svc, SYSTEM, ANA)[0]
    assert used.last_used_at is not None
    with svc.engine.connect() as conn:
        last = conn.execute(select(audit_log.c.details).where(audit_log.c.action == "signin")
                            .order_by(audit_log.c.id.desc())).scalar_one()
        stored = conn.execute(select(app_passwords_table.c.secret_hash)).scalar_one()
    assert json.loads(last)["method"] == "app_password"
    assert secret not in stored and secret.replace("-", "") not in stored
    app_passwords.revoke(svc, SYSTEM, ANA, made.id)
    assert await sign_in(the_gate, "pop", secret, "USER") == Refusal("credentials")
    with pytest.raises(DirectoryError, match="already revoked"):
        app_passwords.revoke(svc, SYSTEM, ANA, made.id)


def test_users_manage_their_own_app_passwords_for_open_doors_only(svc) -> None:
    accounts.create(svc, SYSTEM, ANA, PASSWORD)
    accounts.create(svc, SYSTEM, "bob@example.test", PASSWORD)
    with svc.reader.connect() as conn:
        ana = load_actor(conn, ANA)
        bob = load_actor(conn, "bob@example.test")
    made, _ = app_passwords.create(svc, ana, ANA, ["imap"], label="phone")
    with pytest.raises(NotAllowed, match="POP is off by default"):
        app_passwords.create(svc, ana, ANA, ["pop"])
    with pytest.raises(NotAllowed):
        app_passwords.create(svc, bob, ANA, ["imap"])
    with pytest.raises(NotAllowed):
        app_passwords.revoke(svc, bob, ANA, made.id)
    with pytest.raises(NotAllowed, match="mail team"):
        tokens.issue(svc, bob, ANA, ["imap"])
    assert tokens.issue(svc, ana, ANA, ["imap"]).claims.subject == ANA
    with pytest.raises(DirectoryError, match="at most 128"):
        app_passwords.create(svc, SYSTEM, ANA, ["imap"], label="x" * 129)
    with pytest.raises(DirectoryError, match="invalid network"):
        app_passwords.create(svc, SYSTEM, ANA, ["imap"], networks=["not-a-net"])
    with pytest.raises(DirectoryError, match="30 days"):
        tokens.issue(svc, SYSTEM, ANA, ["imap"], 31 * 86400)
