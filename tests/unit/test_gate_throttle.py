"""The gate with the failed sign-in throttle: password attempts after failures wait (and are
counted), with the door's constant answer; token sign-ins never wait. Revoking one app
password or token denies the sessions it opened on recheck, and no other."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mailgate import metrics
from mailgate.audit.recorder import Recorder
from mailgate.auth.gate import Gate, Principal
from mailgate.auth.throttle import SigninThrottle
from mailgate.directory import accounts, app_passwords, tokens
from mailgate.directory.authority import Actor
from mailgate.protocols.refusals import Refusal
from mailgate.service import Service

SYSTEM = Actor.system()
ANA = "ana@example.test"
PASSWORD = "correct-horse-battery"
ATTACKER = "192.0.2.66"
CAP = 0.3


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gate(svc: Service) -> Iterator[Gate]:
    the_gate = Gate(svc, Recorder(svc))
    the_gate.throttle = SigninThrottle(2, CAP, clock=FakeClock())
    accounts.create(svc, SYSTEM, ANA, PASSWORD)
    yield the_gate
    the_gate.close()


async def timed(the_gate: Gate, mechanism: str, secret: str, peer: str = ATTACKER
                ) -> tuple[Principal | Refusal, float]:
    start = time.perf_counter()
    result = await the_gate.authenticate("imap", mechanism, ANA, secret, peer, tls=True)
    return result, time.perf_counter() - start


def throttled() -> float:
    return metrics.SIGNINS_THROTTLED.labels(protocol="imap")._value.get()


async def test_passwords_wait_after_failures_with_the_same_answer_but_tokens_never(
        gate: Gate, svc: Service) -> None:
    for _ in range(6):
        assert await gate.authenticate("imap", "PLAIN", ANA, "wrong", ATTACKER, tls=True) \
            == Refusal("credentials")
    before = throttled()
    wrong, waited = await timed(gate, "PLAIN", "still-wrong")
    assert wrong == Refusal("credentials") and waited >= CAP
    assert throttled() == before + 1
    bearer = tokens.issue(svc, SYSTEM, ANA, ["imap"]).token
    signed_in, waited = await timed(gate, "OAUTHBEARER", bearer)
    assert isinstance(signed_in, Principal) and waited < CAP
    assert throttled() == before + 1
    right, waited = await timed(gate, "PLAIN", PASSWORD, peer="198.51.100.1")
    assert isinstance(right, Principal) and waited >= CAP  # the account is being guessed
    _, waited = await timed(gate, "PLAIN", PASSWORD, peer="198.51.100.1")
    assert waited < CAP  # the right password forgave the account


async def test_app_passwords_are_throttled_like_passwords(gate: Gate, svc: Service) -> None:
    secret = app_passwords.create(svc, SYSTEM, ANA, ["imap"])[1]
    for _ in range(3):
        await gate.authenticate("imap", "PLAIN", "x@example.test", "wrong", ATTACKER, tls=True)
    result, waited = await timed(gate, "PLAIN", secret)
    assert isinstance(result, Principal) and result.method == "app_password"
    assert waited >= gate.throttle.delay("nobody@example.test", ATTACKER) > 0


async def test_revoking_one_credential_denies_only_the_sessions_it_opened(
        gate: Gate, svc: Service) -> None:
    ids = [app_passwords.create(svc, SYSTEM, ANA, ["imap"]) for _ in range(2)]
    issued = tokens.issue(svc, SYSTEM, ANA, ["imap"])
    by_app = [await gate.authenticate("imap", "PLAIN", ANA, secret, "127.0.0.1", tls=True)
              for _, secret in ids]
    by_token = await gate.authenticate("imap", "OAUTHBEARER", ANA, issued.token, "127.0.0.1",
                                       tls=True)
    by_password = await gate.authenticate("imap", "PLAIN", ANA, PASSWORD, "127.0.0.1", tls=True)
    principals = [*by_app, by_token, by_password]
    assert all(isinstance(p, Principal) for p in principals)
    assert [p.credential_id for p in principals] == [  # type: ignore[union-attr]
        str(ids[0][0].id), str(ids[1][0].id), issued.claims.token_id, None]

    app_passwords.revoke(svc, SYSTEM, ANA, ids[0][0].id)
    tokens.revoke(svc, SYSTEM, ANA, issued.claims.token_id)
    decisions = [await gate.recheck(p, "imap", "127.0.0.1") for p in principals]  # type: ignore[arg-type]
    assert [d.reason if not d.allowed else "allowed" for d in decisions] == [
        "credential_revoked", "allowed", "credential_revoked", "allowed"]
    assert "app password this IMAP session signed in with was revoked" in decisions[0].detail
    assert "access token" in decisions[2].detail
