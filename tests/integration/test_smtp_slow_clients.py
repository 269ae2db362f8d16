"""Slow SMTP clients against a real `mailgate serve`: a client trickling one byte a second
before it signs in ends at the sign-in deadline; after sign-in, a DATA that stalls ends at
the idle timeout with a clean `421 4.4.2` and nothing stored, while a slow DATA that keeps
moving is not cut."""

from __future__ import annotations

import base64
import select
import time
from collections.abc import Iterator

import pytest
from live_server import RunningServer
from smtp_clients import Conversation, at_once, mailbox, message, serving

ALICE, BOB = "alice@example.test", "bob@example.test"
PASSWORD = "correct-horse-battery"
DEADLINE, IDLE = 2, 3  # auth.signin_deadline_seconds, server.smtp_idle_timeout_seconds


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    limits = {"MAILGATE_AUTH_SIGNIN_DEADLINE_SECONDS": str(DEADLINE),
              "MAILGATE_SERVER_SMTP_IDLE_TIMEOUT_SECONDS": str(IDLE)}
    for running in serving(tmp_path_factory.mktemp("smtp-slow") / "data", limits):
        at_once(*((running.account, a, PASSWORD) for a in (ALICE, BOB)))
        yield running


def _in_data(server: RunningServer) -> Conversation:
    """A submission signed in as Alice, inside DATA for a message to Bob."""
    talk = Conversation(server.ports["submission"])
    assert talk.command(b"EHLO client.example").startswith("250 ")
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
    assert talk.command(b"AUTH PLAIN " + token).startswith("235 2.7.0")
    assert talk.command(f"MAIL FROM:<{ALICE}>".encode()).startswith("250")
    assert talk.command(f"RCPT TO:<{BOB}>".encode()).startswith("250")
    assert talk.command(b"DATA").startswith("354")
    return talk


def _subjects(server: RunningServer) -> str:
    return b"".join(mailbox(server, BOB, PASSWORD)).decode(errors="replace")


def test_one_byte_a_second_before_sign_in_ends_at_the_deadline(server: RunningServer) -> None:
    talk = Conversation(server.ports["submission"])
    started = time.monotonic()
    for byte in b"EHLO slow.example\r\n":
        talk.send(bytes([byte]))
        readable, _, _ = select.select([talk.sock], [], [], 1.0)
        if readable:
            break
    assert talk.reply() == ["421 4.4.2 Sign-in took too long; closing the connection"]
    assert time.monotonic() - started < DEADLINE + 1
    assert talk.file.readline() == b""  # closed
    talk.close()


def test_a_stalled_data_ends_with_421_and_nothing_is_stored(server: RunningServer) -> None:
    talk = _in_data(server)
    talk.send(message(ALICE, BOB, "stalled upload")[:60])
    started = time.monotonic()
    assert talk.reply() == ["421 4.4.2 Nothing received for too long; closing (an unfinished "
                            "message is not stored)"]
    assert IDLE - 0.5 < time.monotonic() - started < IDLE + 1.5
    assert talk.file.readline() == b""  # closed
    talk.close()
    assert "stalled upload" not in _subjects(server)


def test_a_slow_data_that_keeps_moving_is_not_cut(server: RunningServer) -> None:
    talk = _in_data(server)
    head, _, body = message(ALICE, BOB, "slow upload").partition(b"\r\n\r\n")
    talk.send(head + b"\r\n\r\n")
    started = time.monotonic()
    while time.monotonic() - started < IDLE + 2:  # one line a second, longer than IDLE
        talk.send(b"still coming\r\n")
        readable, _, _ = select.select([talk.sock], [], [], 1.0)
        assert not readable, talk.reply()
    talk.send(body)
    assert talk.command(b".").startswith("250 2.0.0")
    talk.close()
    assert "slow upload" in _subjects(server)
