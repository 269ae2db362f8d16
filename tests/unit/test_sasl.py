"""The sans-IO SASL server mechanisms: PLAIN (RFC 4616), LOGIN, and the registry."""

from __future__ import annotations

import base64

import pytest

from mailgate.auth.sasl import (
    MECHANISMS,
    Challenge,
    Credentials,
    Login,
    Plain,
    SaslCancelled,
    SaslError,
    create_mechanism,
    decode_response,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- PLAIN ---------------------------------------------------------------------------------


def test_plain_initial_response_yields_credentials() -> None:
    assert Plain().start(b64(b"\0alice\0s3cret")) == Credentials("alice", "s3cret")


def test_plain_without_initial_response_sends_empty_challenge_then_accepts() -> None:
    plain = Plain()
    challenge = plain.start(None)
    assert challenge == Challenge(b"")
    assert isinstance(challenge, Challenge) and challenge.encoded() == ""
    assert plain.respond(b64(b"\0alice\0pw")) == Credentials("alice", "pw")


def test_plain_authzid_equal_to_authcid_is_accepted() -> None:
    assert Plain().start(b64(b"alice\0alice\0pw")) == Credentials("alice", "pw")


def test_plain_authzid_for_another_user_fails() -> None:
    with pytest.raises(SaslError, match="another user"):
        Plain().start(b64(b"bob\0alice\0pw"))


@pytest.mark.parametrize(
    "payload",
    [b"alice\0pw", b"\0alice\0pw\0", b"no-nul-at-all", b"", b"\0\0pw", b"\0alice\0"],
    ids=["one-nul", "three-nuls", "no-nul", "empty", "empty-authcid", "empty-password"],
)
def test_plain_malformed_messages_fail(payload: bytes) -> None:
    with pytest.raises(SaslError):
        Plain().start(b64(payload) if payload else "=")


def test_plain_password_with_spaces_and_unicode_is_kept_exactly() -> None:
    secret = " pässwörd with spaces "
    response = b64(b"\0alice@example.org\0" + secret.encode())
    assert Plain().start(response) == Credentials("alice@example.org", secret)


def test_plain_invalid_utf8_fails() -> None:
    with pytest.raises(SaslError, match="UTF-8"):
        Plain().start(b64(b"\0alice\0\xff\xfe"))


def test_plain_cannot_be_continued_after_it_finished() -> None:
    plain = Plain()
    plain.start(b64(b"\0a\0b"))
    with pytest.raises(RuntimeError):
        plain.respond(b64(b"\0a\0b"))


# -- LOGIN ---------------------------------------------------------------------------------


def test_login_asks_username_then_password() -> None:
    login = Login()
    assert login.start(None) == Challenge(b"Username:")
    assert login.respond(b64(b"alice")) == Challenge(b"Password:")
    assert login.respond(b64(b"pw")) == Credentials("alice", "pw")


def test_login_challenges_are_base64_of_the_prompts() -> None:
    login = Login()
    first = login.start(None)
    assert isinstance(first, Challenge)
    assert first.encoded() == "VXNlcm5hbWU6"


def test_login_initial_response_is_the_username() -> None:
    login = Login()
    assert login.start(b64(b"alice")) == Challenge(b"Password:")
    assert login.respond(b64(b"pw")) == Credentials("alice", "pw")


def test_login_empty_username_fails() -> None:
    login = Login()
    login.start(None)
    with pytest.raises(SaslError, match="user name"):
        login.respond("")


def test_login_empty_initial_response_fails_as_empty_username() -> None:
    with pytest.raises(SaslError, match="user name"):
        Login().start("=")


@pytest.mark.parametrize("step", [0, 1])
def test_login_nul_in_a_response_fails(step: int) -> None:
    login = Login()
    login.start(None)
    if step:
        login.respond(b64(b"alice"))
    with pytest.raises(SaslError, match="NUL"):
        login.respond(b64(b"a\0b"))


def test_login_invalid_utf8_fails() -> None:
    login = Login()
    login.start(None)
    with pytest.raises(SaslError, match="UTF-8"):
        login.respond(b64(b"\xc3\x28"))


# -- responses -------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", [Plain, Login])
def test_star_cancels_at_any_step(mechanism: type[Plain] | type[Login]) -> None:
    exchange = mechanism()
    exchange.start(None)
    with pytest.raises(SaslCancelled, match="cancelled"):
        exchange.respond("*")


def test_star_as_initial_response_cancels() -> None:
    with pytest.raises(SaslCancelled):
        Plain().start("*")


@pytest.mark.parametrize("text", ["not base64!", "YWJj=", "YW", "YWJj\tZA==", "ä", "=="])
def test_malformed_base64_fails(text: str) -> None:
    with pytest.raises(SaslError, match="base64"):
        decode_response(text)


def test_equals_sign_is_empty_only_as_initial_response() -> None:
    assert decode_response("=", initial=True) == b""
    with pytest.raises(SaslError):
        decode_response("=")


def test_empty_continuation_is_empty_data() -> None:
    assert decode_response("") == b""


def test_sasl_errors_never_mention_lock_so_pop3_may_show_them() -> None:
    texts = [str(SaslCancelled())]
    for attempt in (
        lambda: Plain().start("!"),
        lambda: Plain().start(b64(b"a")),
        lambda: Plain().start(b64(b"b\0a\0p")),
        lambda: Plain().start(b64(b"\0\0")),
        lambda: Plain().start(b64(b"\0\xff\0p")),
        lambda: Login().start("="),
        lambda: Login().start(b64(b"\0")),
    ):
        with pytest.raises(SaslError) as caught:
            attempt()
        texts.append(str(caught.value))
    assert all("lock" not in text.lower() for text in texts)


# -- registry --------------------------------------------------------------------------------


def test_registry_offers_plain_login_then_the_bearer_token_mechanisms() -> None:
    assert list(MECHANISMS) == ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"]


def test_create_mechanism_is_case_insensitive_and_fresh() -> None:
    first, second = create_mechanism("plain"), create_mechanism("PLAIN")
    assert isinstance(first, Plain) and isinstance(second, Plain) and first is not second
    assert isinstance(create_mechanism("Login"), Login)


def test_create_mechanism_unknown_is_none() -> None:
    assert create_mechanism("CRAM-MD5") is None
    assert create_mechanism("") is None
