"""WebAuthn as a second factor, on every backend, against a software authenticator with a
real ES256 key ("none" attestation): registration, sign-in, the sign count, single-use
challenges, other origins and relying parties, and whatever a browser might send instead."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.directory import accounts, mfa, webauthn_credentials
from mailgate.directory.authority import Actor
from mailgate.directory.errors import Conflict, DirectoryError
from mailgate.directory.mfa_state import Outcome
from soft_authenticator import SoftAuthenticator

T0 = 1_750_000_000.0
ANN, BOB = "ann@example.test", "bob@example.test"
ORIGIN = "https://localhost"  # the default issuer: https://<server.hostname>


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(svc):
    svc.clock = Clock()
    accounts.create(svc, Actor.system(), ANN, "ann-pass-1")
    accounts.create(svc, Actor.system(), BOB, "bob-pass-1")
    return svc


def register(svc, address: str, key: SoftAuthenticator, label: str = "key") -> list[str]:
    options = webauthn_credentials.register_begin(svc, address)
    return webauthn_credentials.register_finish(svc, address, key.register(options), label)


def sign_in(svc, address: str, key: SoftAuthenticator) -> Outcome:
    options = webauthn_credentials.authenticate_begin(svc, address)
    assert options is not None
    return webauthn_credentials.authenticate_finish(svc, address, key.assert_(options)).outcome


def test_register_then_sign_in(world) -> None:
    key = SoftAuthenticator(ORIGIN)
    options = json.loads(webauthn_credentials.register_begin(world, ANN))
    assert options["rp"] == {"name": "example.test", "id": "localhost"}
    assert options["user"]["name"] == ANN and ANN not in options["user"]["id"]
    assert options["attestation"] == "none"
    codes = webauthn_credentials.register_finish(world, ANN, key.register(json.dumps(options)),
                                                 "desk key")
    assert len(codes) == 10  # the first second factor
    enrolment = mfa.status(world, Actor.system(), ANN)[1].enrolment
    assert enrolment.methods == ("webauthn",)
    assert [a.label for a in enrolment.authenticators] == ["desk key"]
    world.clock.now = T0 + 5
    assert sign_in(world, ANN, key) is Outcome.ACCEPTED
    assert mfa.status(world, Actor.system(), ANN)[1].enrolment.authenticators[0].last_used_at \
        == T0 + 5
    assert register(world, ANN, SoftAuthenticator(ORIGIN), "spare") == []  # not the first
    assert sign_in(world, ANN, key) is Outcome.ACCEPTED


def test_a_registered_key_is_offered_as_excluded_and_cannot_be_registered_twice(world) -> None:
    key = SoftAuthenticator(ORIGIN)
    register(world, ANN, key)
    options = json.loads(webauthn_credentials.register_begin(world, ANN))
    assert [c["id"] for c in options["excludeCredentials"]] == [
        json.loads(key.register(json.dumps(options)))["id"]]
    with pytest.raises(Conflict):
        webauthn_credentials.register_finish(world, ANN, key.register(json.dumps(options)))
    options = webauthn_credentials.register_begin(world, BOB)
    with pytest.raises(Conflict):  # nor by another account
        webauthn_credentials.register_finish(world, BOB, key.register(options))


def test_an_answer_serves_once_and_a_cloned_key_is_refused(world) -> None:
    key = SoftAuthenticator(ORIGIN)
    register(world, ANN, key)
    options = webauthn_credentials.authenticate_begin(world, ANN)
    answer = key.assert_(options)
    assert webauthn_credentials.authenticate_finish(world, ANN, answer).accepted
    assert webauthn_credentials.authenticate_finish(world, ANN, answer).outcome is Outcome.WRONG
    clone = SoftAuthenticator(ORIGIN, key.key, key.credential_id, sign_count=0)
    assert sign_in(world, ANN, clone) is Outcome.WRONG  # its count is behind the original's
    assert sign_in(world, ANN, key) is Outcome.ACCEPTED


def test_challenges_expire_and_belong_to_one_account(world) -> None:
    key = SoftAuthenticator(ORIGIN)
    register(world, ANN, key)
    options = webauthn_credentials.authenticate_begin(world, ANN)
    world.clock.now = T0 + webauthn_credentials.CHALLENGE_LIFETIME + 1
    assert webauthn_credentials.authenticate_finish(world, ANN, key.assert_(options)).outcome \
        is Outcome.WRONG
    assert webauthn_credentials.authenticate_begin(world, BOB) is None
    bob_key = SoftAuthenticator(ORIGIN)
    register(world, BOB, bob_key)
    options = webauthn_credentials.authenticate_begin(world, BOB)
    assert webauthn_credentials.authenticate_finish(world, ANN, key.assert_(options)).outcome \
        is Outcome.WRONG  # ann has no open challenge
    options = webauthn_credentials.authenticate_begin(world, ANN)
    assert webauthn_credentials.authenticate_finish(world, ANN, bob_key.assert_(options)).outcome\
        is Outcome.WRONG  # bob's key is not ann's
    options = webauthn_credentials.register_begin(world, ANN)
    world.clock.now += webauthn_credentials.CHALLENGE_LIFETIME + 1
    with pytest.raises(DirectoryError, match="start again"):
        webauthn_credentials.register_finish(world, ANN, SoftAuthenticator(ORIGIN).register(
            options))


def test_another_origin_or_relying_party_is_refused(world) -> None:
    phished = SoftAuthenticator("https://mailgate.evil.example")
    options = webauthn_credentials.register_begin(world, ANN)
    with pytest.raises(DirectoryError, match="origin"):
        webauthn_credentials.register_finish(world, ANN, phished.register(options))
    key = SoftAuthenticator(ORIGIN)
    register(world, ANN, key)
    options = webauthn_credentials.authenticate_begin(world, ANN)
    answer = key.assert_(options, rp_id="evil.example")
    assert webauthn_credentials.authenticate_finish(world, ANN, answer).outcome is Outcome.WRONG
    on_the_phishing_site = SoftAuthenticator("https://evil.example", key.key, key.credential_id,
                                             key.sign_count)
    options = webauthn_credentials.authenticate_begin(world, ANN)
    assert webauthn_credentials.authenticate_finish(
        world, ANN, on_the_phishing_site.assert_(options)).outcome is Outcome.WRONG


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=8)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_whatever_a_browser_sends_is_a_refusal_not_an_error(world, data) -> None:
    key = SoftAuthenticator(ORIGIN)
    register(world, ANN, key)
    real = json.loads(key.assert_(webauthn_credentials.authenticate_begin(world, ANN)))
    field = data.draw(st.sampled_from(["", "id", "rawId", "type", "clientDataJSON",
                                       "authenticatorData", "signature"]))
    if field == "":
        answer = data.draw(st.text(max_size=60) | JSONISH.map(json.dumps))
    else:
        target = real if field in ("id", "rawId", "type") else real["response"]
        target[field] = data.draw(JSONISH | st.binary(max_size=80).map(
            lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")))
        answer = json.dumps(real)
    outcome = webauthn_credentials.authenticate_finish(world, ANN, answer).outcome
    assert outcome is Outcome.WRONG
    webauthn_credentials.register_begin(world, ANN)
    with pytest.raises(DirectoryError):
        webauthn_credentials.register_finish(world, ANN, answer)
