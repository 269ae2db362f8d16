"""The gate's sign-in for the OAuth server's page: the account's own password only (never an
app password), unknown accounts answered like wrong passwords, only active accounts, the
failed sign-in throttle, and every attempt recorded as protocol `web`, method `password`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailgate.audit.recorder import Recorder
from mailgate.auth.gate import Gate, Principal
from mailgate.auth.throttle import SigninThrottle
from mailgate.directory import accounts, app_passwords
from mailgate.directory.authority import Actor
from mailgate.protocols.refusals import Refusal
from mailgate.service import Service

SYSTEM = Actor.system()
ANA = "ana@example.test"
PASSWORD = "correct-horse-battery"
PEER = "192.0.2.7"


@pytest.fixture
def recorded(svc: Service) -> Iterator[tuple[Gate, Recorder]]:
    recorder = Recorder(svc)
    the_gate = Gate(svc, recorder)
    accounts.create(svc, SYSTEM, ANA, PASSWORD)
    yield the_gate, recorder
    the_gate.close()


async def test_the_password_signs_in_and_is_recorded_as_web(recorded) -> None:
    gate, recorder = recorded
    result = await gate.sign_in_page(ANA.upper(), PASSWORD, PEER, tls=True)
    assert isinstance(result, Principal) and result.method == "password"
    attempt = recorder._attempts[-1]
    assert (attempt.protocol, attempt.method, attempt.allowed) == ("web", "password", True)


async def test_app_passwords_and_unknown_accounts_fail_like_a_wrong_password(
        recorded, svc: Service) -> None:
    gate, recorder = recorded
    _, secret = app_passwords.create(svc, SYSTEM, ANA, ["imap", "smtp"])
    for address, password in ((ANA, secret), (ANA, "wrong"), ("nobody@example.test",
                                                                PASSWORD)):
        assert await gate.sign_in_page(address, password, PEER, tls=True) == \
            Refusal("credentials")
    assert [a.reason for a in recorder._attempts] == ["bad_credentials"] * 3
    assert await gate.sign_in_page(ANA, PASSWORD, PEER, tls=False) == Refusal("privacy")


async def test_only_an_active_account_signs_in_and_says_why_after_the_password(
        recorded, svc: Service) -> None:
    gate, _ = recorded
    accounts.compromise(svc, SYSTEM, ANA, "phished")
    assert await gate.sign_in_page(ANA, "wrong", PEER, tls=True) == Refusal("credentials")
    refused = await gate.sign_in_page(ANA, PASSWORD, PEER, tls=True)
    assert isinstance(refused, Refusal) and refused.decision is not None
    assert refused.decision.reason == "account_compromised"
    assert "ProtocolDisabled" in refused.text


async def test_failures_on_the_page_feed_the_throttle_of_every_door(recorded) -> None:
    gate, _ = recorded
    gate.throttle = SigninThrottle(2, 0.01)
    for _ in range(3):
        await gate.sign_in_page(ANA, "wrong", PEER, tls=True)
    assert gate.throttle.delay(ANA, PEER) > 0
    assert isinstance(await gate.sign_in_page(ANA, PASSWORD, PEER, tls=True), Principal)
