"""OAUTHBEARER (RFC 7628) and XOAUTH2: decoding, malformed payloads, the JSON error challenge
and the client's dummy reply; hypothesis properties over every mechanism's decoder."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.auth.sasl import (
    Challenge,
    Credentials,
    OAuthBearer,
    Rejected,
    SaslCancelled,
    SaslError,
    XOAuth2,
)
from sasl_properties import NAMES, check_exchange, check_raw_line, check_token_error

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2ln"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bearer(authzid: str = "ana@example.test", token: str = TOKEN) -> bytes:
    a = f"a={authzid}" if authzid else ""
    return f"n,{a},\x01host=mail.example.test\x01port=143\x01auth=Bearer {token}\x01\x01".encode()


def test_oauthbearer_initial_response_yields_the_token_and_authzid() -> None:
    assert OAuthBearer().start(b64(bearer())) == Credentials("ana@example.test", TOKEN)


def test_oauthbearer_without_initial_response_sends_an_empty_challenge() -> None:
    mechanism = OAuthBearer()
    assert mechanism.start(None) == Challenge(b"")
    assert mechanism.respond(b64(bearer(""))) == Credentials("", TOKEN)


def test_oauthbearer_authzid_escapes_are_decoded() -> None:
    payload = bearer("odd=3Dname=2Cx@example.test")
    assert OAuthBearer().start(b64(payload)).username == "odd=name,x@example.test"


def test_oauthbearer_auth_scheme_is_case_insensitive_and_only_bearer() -> None:
    payload = bearer().replace(b"Bearer", b"bEaReR")
    assert OAuthBearer().start(b64(payload)).secret == TOKEN
    with pytest.raises(SaslError, match="auth=Bearer"):
        OAuthBearer().start(b64(bearer().replace(b"Bearer", b"Basic")))


@pytest.mark.parametrize("payload", [
    b"",
    b"\x01",  # the dummy reply is not a first response
    b"p=tls-unique,a=ana,\x01auth=Bearer t\x01\x01",  # channel binding: not offered
    b"n,a=ana\x01auth=Bearer t\x01\x01",  # the GS2 header lacks its second comma
    b"n,x=ana,\x01auth=Bearer t\x01\x01",  # not an authzid
    b"n,,auth=Bearer t\x01\x01",  # no ^A after the header
    b"n,,\x01auth=Bearer t\x01",  # one ^A at the end
    b"n,,\x01auth=Bearer t",  # none
    b"n,,\x01host\x01auth=Bearer t\x01\x01",  # a pair without "="
    b"n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01",  # a key twice
    b"n,,\x01h\xc3st=x\x01auth=Bearer t\x01\x01",  # a key that is not ASCII letters
    b"n,,\x01host=x\x01\x01",  # no auth
    b"n,,\x01auth=Bearer \x01\x01",  # an empty token
    b"n,a=a=ZZ,\x01auth=Bearer t\x01\x01",  # a bad =XX escape
    b"n,,\x01auth=Bearer t\x00\x01\x01",  # NUL
    b"n,,\x01auth=Bearer \xff\x01\x01",  # not UTF-8
], ids=lambda p: repr(p)[:30])
def test_oauthbearer_malformed_payloads_fail(payload: bytes) -> None:
    with pytest.raises(SaslError):
        OAuthBearer().start(b64(payload) if payload else "=")


def test_oauthbearer_refusal_sends_json_then_rejects_after_the_dummy_reply() -> None:
    mechanism = OAuthBearer()
    assert isinstance(mechanism.start(b64(bearer())), Credentials)
    challenge = mechanism.refused("invalid_token", "mail.pop")
    assert json.loads(challenge.data) == {"status": "invalid_token", "scope": "mail.pop"}
    assert mechanism.respond(b64(b"\x01")) == Rejected()


def test_oauthbearer_refusal_ends_the_same_whatever_the_client_answers() -> None:
    mechanism = OAuthBearer()
    mechanism.start(b64(bearer()))
    mechanism.refused("insufficient_scope", "mail.imap")
    assert mechanism.respond(b64(b"something else")) == Rejected()
    with pytest.raises(RuntimeError):
        mechanism.respond(b64(b"\x01"))  # the exchange is over


def test_oauthbearer_refusal_can_be_cancelled() -> None:
    mechanism = OAuthBearer()
    mechanism.start(b64(bearer()))
    mechanism.refused("invalid_token", "mail.imap")
    with pytest.raises(SaslCancelled):
        mechanism.respond("*")


def test_xoauth2_yields_the_user_and_token() -> None:
    payload = f"user=ana@example.test\x01auth=Bearer {TOKEN}\x01\x01".encode()
    assert XOAuth2().start(b64(payload)) == Credentials("ana@example.test", TOKEN)


def test_xoauth2_refusal_takes_the_empty_reply() -> None:
    mechanism = XOAuth2()
    mechanism.start(b64(f"user=a@example.test\x01auth=Bearer {TOKEN}\x01\x01".encode()))
    challenge = mechanism.refused("invalid_token", "mail.smtp")
    assert json.loads(challenge.data)["scope"] == "mail.smtp"
    assert mechanism.respond("") == Rejected()


@pytest.mark.parametrize("payload", [
    b"user=a\x01auth=Bearer t\x01",
    b"user=a\x01auth=Bearer t",
    b"user=a\x01\x01",
    b"user=a\x01auth=Token t\x01\x01",
    b"=a\x01auth=Bearer t\x01\x01",
    b"user=a\x00\x01auth=Bearer t\x01\x01",
    b"user=\xff\x01auth=Bearer t\x01\x01",
])
def test_xoauth2_malformed_payloads_fail(payload: bytes) -> None:
    with pytest.raises(SaslError):
        XOAuth2().start(b64(payload))


def test_password_mechanisms_refuse_at_once() -> None:
    from mailgate.auth.sasl import Plain

    plain = Plain()
    plain.start(b64(b"\0ana\0pw"))
    assert plain.refused("invalid_token", "mail.imap") is None


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.sampled_from(NAMES), st.lists(st.binary(max_size=200), min_size=1, max_size=4),
       st.booleans())
def test_any_responses_end_in_a_step_or_a_sasl_error(name: str, responses: list[bytes],
                                                      initial: bool) -> None:
    check_exchange(name, responses, initial)


@settings(max_examples=300)
@given(st.sampled_from(NAMES), st.text(max_size=200))
def test_any_line_that_is_not_base64_is_a_sasl_error(name: str, line: str) -> None:
    check_raw_line(name, line)


_pair_text = st.text(st.characters(blacklist_characters="\x00\x01", codec="utf-8"),
                     max_size=40)


@settings(max_examples=300)
@given(st.sampled_from(["", "ana@example.test"]), _pair_text, st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=80))
def test_well_formed_oauthbearer_payloads_round_trip(authzid: str, host: str,
                                                     token: str) -> None:
    payload = f"n,{'a=' + authzid if authzid else ''},\x01host={host}\x01auth=Bearer " \
              f"{token}\x01\x01"
    assert OAuthBearer().start(b64(payload.encode())) == Credentials(authzid, token)


@settings(max_examples=200)
@given(st.sampled_from(["OAUTHBEARER", "XOAUTH2"]), st.binary(max_size=200),
       st.sampled_from([b"\x01", b"", b"junk"]))
def test_a_refused_bearer_exchange_always_ends_rejected(name: str, payload: bytes,
                                                         acknowledgement: bytes) -> None:
    check_token_error(name, payload, acknowledgement)
