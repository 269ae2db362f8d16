"""The one gate: credentials first, then the decision; the same answer for unknown accounts;
a credential cache that dies with any credential change; every attempt recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from mailgate.audit.recorder import Recorder
from mailgate.auth.gate import Gate, Principal
from mailgate.db.schema import audit_log, usage
from mailgate.directory import accounts, doors
from mailgate.directory.authority import Actor
from mailgate.protocols.refusals import Refusal
from mailgate.service import Service

SYSTEM = Actor.system()
PASSWORD = "correct-horse-battery"


class CountingPasswords:
    """Wraps the real hasher to count argon2 verifications."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.verifications = 0

    def verify(self, password_hash, password):  # type: ignore[no-untyped-def]
        self.verifications += 1
        return self.real.verify(password_hash, password)

    def hash(self, password):  # type: ignore[no-untyped-def]
        return self.real.hash(password)

    def prepare_for_unknown_accounts(self) -> None:
        self.real.prepare_for_unknown_accounts()


@pytest.fixture
def gate(svc: Service) -> Iterator[tuple[Gate, Recorder, CountingPasswords]]:
    counting = CountingPasswords(svc.passwords)
    svc.passwords = counting  # type: ignore[assignment]
    recorder = Recorder(svc)
    the_gate = Gate(svc, recorder)
    accounts.create(svc, SYSTEM, "ana@example.test", PASSWORD)
    doors.set_protocol(svc, SYSTEM, "ana@example.test", "pop", True)
    yield the_gate, recorder, counting
    the_gate.close()


async def test_right_password_on_an_open_door_signs_in(gate) -> None:
    the_gate, _, _ = gate
    result = await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD,
                                         "127.0.0.1", tls=True)
    assert isinstance(result, Principal)
    assert result.address == "ana@example.test" and result.method == "password"


async def test_wrong_password_unknown_account_and_garbage_look_alike(gate) -> None:
    the_gate, _, counting = gate
    answers, times = [], []
    for user, secret in (("ana@example.test", "wrong"), ("nobody@example.test", "wrong"),
                         ("not an address", "x"), ("", "")):
        start = time.perf_counter()
        answers.append(await the_gate.authenticate("pop", "PLAIN", user, secret, "127.0.0.1",
                                                   tls=True))
        times.append(time.perf_counter() - start)
    assert all(a == Refusal("credentials") for a in answers)
    assert counting.verifications == 4  # unknown accounts pay one dummy verification too


async def test_the_unknown_account_hash_is_made_with_the_gate_not_at_the_first_sign_in(
        svc: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes: list[str] = []
    real_hash = PasswordHasher.hash

    def counting_hash(self: PasswordHasher, password: str | bytes, **kwargs: object) -> str:
        hashes.append(str(password))
        return real_hash(self, password, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    the_gate = Gate(svc, Recorder(svc))
    try:
        assert len(hashes) == 1  # the dummy, made now
        first = await the_gate.authenticate("pop", "USER", "nobody@example.test", "a-guess",
                                            "127.0.0.1", tls=True)
        assert first == Refusal("credentials")
        assert len(hashes) == 1  # the first unknown sign-in only verifies
    finally:
        the_gate.close()


async def test_closed_door_is_only_told_to_who_proved_the_password(gate, svc: Service) -> None:
    the_gate, _, _ = gate
    doors.set_protocol(svc, SYSTEM, "ana@example.test", "pop", False)
    wrong = await the_gate.authenticate("pop", "USER", "ana@example.test", "bad", "127.0.0.1",
                                        tls=True)
    right = await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD,
                                        "127.0.0.1", tls=True)
    assert wrong == Refusal("credentials")
    assert isinstance(right, Refusal) and right.kind == "door"
    assert right.decision is not None and right.decision.reason == "account_setting"


async def test_password_sign_in_without_tls_is_refused_off_loopback_only(gate) -> None:
    the_gate, _, counting = gate
    off = await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD,
                                      "192.0.2.10", tls=False)
    assert off == Refusal("privacy")
    assert counting.verifications == 0  # the secret is not even looked at
    assert isinstance(await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD,
                                                  "::1", tls=False), Principal)
    assert isinstance(await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD,
                                                  "192.0.2.10", tls=True), Principal)


async def test_cache_skips_argon2_until_the_password_changes(gate, svc: Service) -> None:
    the_gate, _, counting = gate
    for _ in range(3):
        assert isinstance(await the_gate.authenticate(
            "pop", "USER", "ana@example.test", PASSWORD, "127.0.0.1", tls=True), Principal)
    assert counting.verifications == 1
    # a wrong secret never matches the cached one
    assert await the_gate.authenticate("pop", "USER", "ana@example.test", "nope",
                                       "127.0.0.1", tls=True) == Refusal("credentials")
    accounts.set_password(svc, SYSTEM, "ana@example.test", "another-good-password")
    assert await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD,
                                       "127.0.0.1", tls=True) == Refusal("credentials")
    assert isinstance(await the_gate.authenticate(
        "pop", "USER", "ana@example.test", "another-good-password", "127.0.0.1", tls=True),
        Principal)


async def test_compromise_defeats_the_cache_at_once(gate, svc: Service) -> None:
    the_gate, _, _ = gate
    await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD, "127.0.0.1", True)
    accounts.compromise(svc, SYSTEM, "ana@example.test", "phished")
    result = await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD,
                                         "127.0.0.1", True)
    assert isinstance(result, Refusal) and result.decision is not None
    assert result.decision.reason == "account_compromised"


async def test_every_attempt_is_recorded_in_audit_and_usage(gate, svc: Service) -> None:
    the_gate, recorder, _ = gate
    await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD, "127.0.0.1", True)
    await the_gate.authenticate("pop", "USER", "ana@example.test", "bad", "127.0.0.5", True)
    await the_gate.authenticate("pop", "USER", "ghost@example.test", "bad", "127.0.0.6", True)
    recorder.flush()
    with svc.engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "signin")
                            .order_by(audit_log.c.id)).all()
        counters = conn.execute(select(usage)).one()
    details = [json.loads(r.details) for r in rows]
    assert [d["result"] for d in details] == ["allowed", "denied", "denied"]
    assert details[1]["reason"] == "bad_credentials" and details[1]["peer"] == "127.0.0.5"
    assert rows[2].account is None and rows[2].actor == "ghost@example.test"
    assert (counters.protocol, counters.method, counters.successes, counters.failures) == \
        ("pop", "password", 1, 1)
    assert counters.last_success_at is not None


async def test_recheck_ends_a_password_session_whose_password_changed_meanwhile(
        gate, svc: Service) -> None:
    """The gap between sign-in and registration: a password change landing there is caught."""
    the_gate, _, _ = gate
    principal = await the_gate.authenticate("pop", "USER", "ana@example.test", PASSWORD,
                                            "127.0.0.1", tls=True)
    assert isinstance(principal, Principal)
    assert (await the_gate.recheck(principal, "pop", "127.0.0.1")).allowed
    accounts.set_password(svc, SYSTEM, "ana@example.test", "another-password")
    decision = await the_gate.recheck(principal, "pop", "127.0.0.1")
    assert not decision.allowed and decision.reason == "password_changed"
    assert "sign in again with the new password" in decision.detail
