"""Failed sign-in throttling and single-credential revocation against a real `mailgate serve`:
after wrong passwords from one address the next answer comes later (and is still the
constant AUTHENTICATIONFAILED), while a token from `mailgate token issue` for the same account
signs in at once; `mailgate app-password revoke` ends the IDLE session signed in with that app
password within a second, and a password session of the same account stays."""

from __future__ import annotations

import imaplib
import json
import time
from collections.abc import Iterator

import pytest
from live_server import RunningServer, start_server

PASSWORD = "correct-horse-battery"
FREE_FAILURES = 3
MAX_DELAY_MS = 1000
THROTTLED = 'mailgate_signins_throttled_total{protocol="imap"}'


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("throttle") / "data", ("imap", "http"),
                           {"MAILGATE_AUTH_THROTTLE_FREE_FAILURES": str(FREE_FAILURES),
                            "MAILGATE_AUTH_THROTTLE_MAX_DELAY_MS": str(MAX_DELAY_MS)})
    yield running
    running.stop_cleanly()


def timed_login(live: RunningServer, address: str, secret: str) -> tuple[str, float]:
    """The answer to LOGIN ("OK" or the refusal) and how long it took."""
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    start = time.monotonic()
    try:
        client.login(address, secret)
        answer = "OK"
    except imaplib.IMAP4.error as error:
        answer = str(error)
    took = time.monotonic() - start
    client.shutdown()
    return answer, took


def idle(client: imaplib.IMAP4) -> None:
    client.select("INBOX")
    client.send(b"i1 IDLE\r\n")
    assert client.readline().startswith(b"+ ")


def test_revoking_an_app_password_ends_its_idle_session_but_not_a_password_session(
        live: RunningServer) -> None:
    ada = "ada@example.test"
    live.account(ada, PASSWORD)
    secret = live.cli("app-password", "create", ada, "--protocol", "imap").stdout.split()[-1]
    by_app = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    by_app.login(ada, secret)
    by_password = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    by_password.login(ada, PASSWORD)
    idle(by_app)
    idle(by_password)
    app_id = json.loads(live.cli("app-password", "list", ada, "--json").stdout)[0]["id"]

    live.cli("app-password", "revoke", ada, str(app_id))
    revoked = time.monotonic()
    bye = by_app.readline()
    assert time.monotonic() - revoked < 1.0
    assert bye.startswith(b"* BYE [CONTACTADMIN] CredentialRevoked: The app password this "
                          b"IMAP session signed in with was revoked"), bye
    by_app.shutdown()

    by_password.send(b"DONE\r\n")
    assert by_password.readline().startswith(b"i1 OK")
    assert by_password.noop()[0] == "OK"
    by_password.logout()


def test_wrong_passwords_slow_the_next_answer_but_not_a_token_sign_in(
        live: RunningServer) -> None:
    bob = "bob@example.test"
    live.account(bob, PASSWORD)
    answer, unthrottled = timed_login(live, bob, "wrong-1")
    assert "AUTHENTICATIONFAILED" in answer
    for n in range(2, FREE_FAILURES + 3):
        timed_login(live, bob, f"wrong-{n}")
    counted = live.metrics().get(THROTTLED, 0.0)

    answer, throttled = timed_login(live, bob, "wrong-again")
    assert "[AUTHENTICATIONFAILED]" in answer and "lock" not in answer.lower()
    assert throttled >= unthrottled + 0.4 * MAX_DELAY_MS / 1000, (unthrottled, throttled)
    assert live.metrics()[THROTTLED] == counted + 1

    bearer = live.cli("token", "issue", bob, "--protocol", "imap").stdout.splitlines()[-1]
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    start = time.monotonic()
    client.authenticate("XOAUTH2",
                        lambda _: f"user={bob}\x01auth=Bearer {bearer}\x01\x01".encode())
    took = time.monotonic() - start
    assert took < throttled - unthrottled, (took, throttled)
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    assert live.metrics()[THROTTLED] == counted + 1  # the token never waited
