"""The inbound listeners (`smtp` in the MX role, `lmtp`): local mail only, durable, and clean
answers to whatever a sender throws at them."""

from __future__ import annotations

import shutil
import smtplib
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from live_server import RunningServer
from smtp_clients import Conversation, at_once, mailbox, message, serving, split_trace

ALICE, BOB, DORA = "alice@example.test", "bob@example.test", "dora@example.test"
PASSWORD = "correct-horse-battery"
LIMIT = 200_000  # storage.max_message_bytes of this server
OUTSIDER = "someone@outside.example"
CARL, GONE = "carl@example.test", "gone@example.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"MAILGATE_STORAGE_MAX_MESSAGE_BYTES": str(LIMIT)}
    for running in serving(tmp_path_factory.mktemp("smtp-inbound") / "data", env):
        at_once(*((running.account, a, PASSWORD) for a in (ALICE, BOB, DORA, CARL, GONE)))
        yield running


def _count(server: RunningServer, address: str = ALICE) -> int:
    return len(mailbox(server, address, PASSWORD))


def _swaks(server: RunningServer, to: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{server.ports['smtp']}",
                           "--from", OUTSIDER, "--to", to, "--data", str(data)],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_delivers_locally_and_is_refused_relay_and_unknown_users(
        server: RunningServer, tmp_path: Path) -> None:
    raw = message(OUTSIDER, ALICE, "inbound via swaks")
    (tmp_path / "m.eml").write_bytes(raw)
    delivered = _swaks(server, "alice+lists@example.test", tmp_path / "m.eml")
    assert delivered.returncode == 0, delivered.stdout
    stored = [m for m in mailbox(server, ALICE, PASSWORD) if b"inbound via swaks" in m]
    fields, rest = split_trace(stored[0])
    assert rest.rstrip(b"\r\n") == raw.rstrip(b"\r\n")
    assert fields[0] == f"Return-Path: <{OUTSIDER}>\r\n".encode()
    assert fields[1].startswith(b"Authentication-Results: localhost;")
    assert b"with ESMTP id" in fields[2] and b"for <alice+lists@example.test>" in fields[2]

    relay = _swaks(server, "victim@elsewhere.example", tmp_path / "m.eml")
    assert relay.returncode != 0 and "554 5.7.1 Relaying denied" in relay.stdout
    unknown = _swaks(server, "nobody@example.test", tmp_path / "m.eml")
    assert unknown.returncode != 0 and "550 5.1.1 <nobody@example.test>" in unknown.stdout


def test_locked_and_compromised_accounts_receive_deactivated_ones_do_not(
        server: RunningServer) -> None:
    at_once((server.cli, "account", "compromise", CARL, "--reason", "phished"),
            (server.cli, "account", "deactivate", GONE, "--now"))
    client = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
    client.ehlo("mx.outside.example")
    client.mail(OUTSIDER)
    assert client.rcpt(CARL)[0] == 250
    code, text = client.rcpt(GONE)
    assert (code, text.split()[0]) == (550, b"5.1.1")
    code, text = client.data(message(OUTSIDER, CARL, "for a compromised box"))
    assert code == 250, text
    client.quit()


def test_lmtp_answers_once_per_recipient(server: RunningServer) -> None:
    before = {a: _count(server, a) for a in (ALICE, BOB)}
    client = smtplib.LMTP("127.0.0.1", server.ports["lmtp"], timeout=10)
    assert client.ehlo_or_helo_if_needed() is None and client.does_esmtp
    client.mail(OUTSIDER)
    for rcpt in (ALICE, "bob+x@example.test", DORA):
        assert client.rcpt(rcpt)[0] == 250
    assert client.rcpt("nobody@example.test")[0] == 550
    server.cli("account", "deactivate", DORA, "--now")  # between RCPT and DATA
    first = client.data(message(OUTSIDER, ALICE, "lmtp fan-out"))
    replies = [first, client.getreply(), client.getreply()]
    assert [code for code, _ in replies] == [250, 250, 550]
    assert b"dora@example.test" in replies[2][1]
    client.quit()
    assert {a: _count(server, a) for a in (ALICE, BOB)} == {a: n + 1 for a, n in before.items()}
    stored = mailbox(server, BOB, PASSWORD)[-1]
    fields, _ = split_trace(stored)
    assert b"with LMTP id" in fields[1] and b" for <" not in fields[1]


def test_a_recipient_deactivated_after_a_delivery_is_refused_at_once(
        server: RunningServer) -> None:
    """RCPT may answer from the listener's memory of the last second (`KnownRecipients`);
    the delivery's transaction checks again, so nothing reaches a mailbox deactivated
    meanwhile, whichever of the two refuses it."""
    fred = "fred@example.test"
    server.account(fred, PASSWORD)
    client = smtplib.LMTP("127.0.0.1", server.ports["lmtp"], timeout=10)
    client.ehlo_or_helo_if_needed()
    client.mail(OUTSIDER)
    assert client.rcpt(fred)[0] == 250
    assert client.data(message(OUTSIDER, fred, "before"))[0] == 250
    held = _stored(server, fred)
    server.cli("account", "deactivate", fred, "--now")
    client.mail(OUTSIDER)
    code, text = client.rcpt(fred)
    if code == 250:  # from memory: refused after DATA instead
        code, text = client.data(message(OUTSIDER, fred, "after"))
    assert (code, text.split()[0]) == (550, b"5.1.1")
    client.quit()
    assert _stored(server, fred) == held == 1


def _stored(server: RunningServer, address: str) -> int:
    """Messages in the account's folders, read from the database file (a deactivated
    account has no door to look through)."""
    with closing(sqlite3.connect(server.data / "mailgate.db")) as db:
        return int(db.execute(
            "SELECT count(*) FROM messages JOIN folders ON folders.id = messages.folder_id "
            "JOIN accounts ON accounts.id = folders.account_id WHERE accounts.address = ?",
            (address,)).fetchone()[0])


def test_malformed_commands_get_clean_errors_and_the_session_goes_on(
        server: RunningServer) -> None:
    talk = Conversation(server.ports["smtp"])
    assert talk.greeting[0].startswith("220 ")
    assert talk.command(b"MAIL FROM:<x@y.example>").startswith("503 5.5.1")
    assert talk.command(b"EHLO mx.outside.example").startswith("250 ENHANCEDSTATUSCODES")
    assert talk.command(b"RCPT TO:<alice@example.test>").startswith("503 5.5.1")
    assert talk.command(b"MAIL FROM:<<<>").startswith("553 5.1.3")
    assert talk.command(b"MAIL FROM:<\xff\xfe@outside.example>").startswith("553 5.6.7")
    assert talk.command("MAIL FROM:<jos\u00e9@outside.example>".encode()).startswith(
        "553 5.6.7")
    assert talk.command(b"X" * 2000).startswith("500 5.5.6")
    assert talk.command(b"DATA").startswith("503 5.5.1")
    assert talk.command(b"MAIL FROM:<x@outside.example> SIZE=999999999").startswith(
        "552 5.3.4")
    assert talk.command(b"NOOP").startswith("250 2.0.0")
    talk.close()


def test_oversize_message_is_refused_and_nothing_is_stored(server: RunningServer) -> None:
    before = _count(server)
    talk = Conversation(server.ports["smtp"])
    talk.command(b"EHLO mx.outside.example")
    assert talk.command(b"MAIL FROM:<x@outside.example>").startswith("250")
    assert talk.command(b"RCPT TO:<alice@example.test>").startswith("250")
    assert talk.command(b"DATA").startswith("354")
    line = b"y" * 998 + b"\r\n"
    talk.send(b"Subject: big\r\n\r\n" + line * (LIMIT // len(line) + 10))
    assert talk.command(b".").startswith("552 5.3.4 Message too big: the limit is")
    assert talk.command(b"QUIT").startswith("221")
    talk.close()
    assert _count(server) == before


def test_bare_lf_is_stored_as_crlf_and_never_ends_the_data(server: RunningServer) -> None:
    talk = Conversation(server.ports["smtp"])
    talk.command(b"EHLO mx.outside.example")
    talk.command(b"MAIL FROM:<x@outside.example>")
    talk.command(b"RCPT TO:<alice@example.test>")
    talk.command(b"DATA")
    talk.send(b"Subject: bare lf\nX-Test: 1\n\nline one\n.\nMAIL FROM:<smuggled@x>\r\n")
    assert talk.command(b".").startswith("250 2.0.0")
    talk.close()
    stored = [m for m in mailbox(server, ALICE, PASSWORD) if b"bare lf" in m]
    _, rest = split_trace(stored[0])
    assert rest == (b"Subject: bare lf\r\nX-Test: 1\r\n\r\nline one\r\n.\r\n"
                    b"MAIL FROM:<smuggled@x>\r\n")


def test_ten_thousand_recipients_are_capped_with_a_clear_error(server: RunningServer) -> None:
    talk = Conversation(server.ports["smtp"])
    talk.command(b"EHLO mx.outside.example")
    talk.command(b"MAIL FROM:<x@outside.example>")
    talk.send(b"".join(b"RCPT TO:<alice+%d@example.test>\r\n" % n for n in range(10_000)))
    answers = [talk.reply()[-1] for _ in range(10_000)]
    assert all(a.startswith("250 2.1.5") for a in answers[:100])
    assert all(a.startswith("452 4.5.3 Too many recipients: at most 100") for a in answers[100:])
    assert talk.command(b"DATA").startswith("354")
    talk.send(message(OUTSIDER, ALICE, "many recipients"))
    assert talk.command(b".").startswith("250 2.0.0")
    talk.close()
    assert len([m for m in mailbox(server, ALICE, PASSWORD) if b"many recipients" in m]) == 1
