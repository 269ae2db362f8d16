"""Submission (`submission` with STARTTLS, `submissions` with TLS) by smtplib, swaks, msmtp.

What arrives in the local recipient's INBOX (read back over IMAP) is the message byte for
byte under the trace headers; the sender keeps the same bytes in Sent.
"""

from __future__ import annotations

import base64
import shutil
import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer
from smtp_clients import Conversation, at_once, mailbox, message, serving, split_trace, tls

ALICE, BOB = "alice@example.test", "bob@example.test"
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    for running in serving(tmp_path_factory.mktemp("smtp-submission") / "data"):
        at_once(*((running.account, a, PASSWORD) for a in (ALICE, BOB)))
        yield running


def _arrived(server: RunningServer, subject: str) -> bytes:
    found = [m for m in mailbox(server, BOB, PASSWORD) if f"Subject: {subject}".encode() in m]
    assert len(found) == 1, found
    return found[0]


def _assert_identical_under_trace(stored: bytes, sent: bytes) -> None:
    fields, rest = split_trace(stored)
    assert rest == sent
    assert fields[0] == f"Return-Path: <{ALICE}>\r\n".encode()
    assert fields[1].startswith(b"Received: from ") and b"with ESMTPSA id " in fields[1]


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_smtplib_submits_and_the_message_arrives_byte_identical(
        server: RunningServer, implicit: bool) -> None:
    subject = f"smtplib {'tls' if implicit else 'starttls'}"
    raw = message(ALICE, BOB, subject, "Line one.\r\n.leading dot\r\n\r\nbye\r\n")
    if implicit:
        client: smtplib.SMTP = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"],
                                                context=tls(server), timeout=10)
        client.ehlo()
    else:
        client = smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10)
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=tls(server))
        client.ehlo()
    for keyword in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes"):
        assert client.has_extn(keyword), keyword
    assert client.esmtp_features["auth"].split() == ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"]
    client.login(ALICE, PASSWORD)
    assert client.sendmail(ALICE, [BOB], raw) == {}
    client.quit()
    _assert_identical_under_trace(_arrived(server, subject), raw)
    sent = [m for m in mailbox(server, ALICE, PASSWORD, "Sent") if subject.encode() in m]
    assert sent == [raw]


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
@pytest.mark.parametrize("mode", ["--tls", "--tlsc"], ids=["starttls", "implicit-tls"])
def test_swaks_submits_with_auth(server: RunningServer, tmp_path: Path, mode: str) -> None:
    subject = f"swaks {mode}"
    raw = message(ALICE, BOB, subject)
    (tmp_path / "m.eml").write_bytes(raw)
    port = server.ports["submissions" if mode == "--tlsc" else "submission"]
    run = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", mode, "--auth", "PLAIN",
                          "--auth-user", ALICE, "--auth-password", PASSWORD, "--from", ALICE,
                          "--to", BOB, "--data", str(tmp_path / "m.eml")],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    fields, rest = split_trace(_arrived(server, subject))
    assert rest.rstrip(b"\r\n") == raw.rstrip(b"\r\n")  # swaks ends DATA with one more CRLF
    assert len(fields) == 2


@pytest.mark.skipif(shutil.which("msmtp") is None, reason="msmtp is not installed")
@pytest.mark.parametrize("starttls", ["on", "off"], ids=["starttls", "implicit-tls"])
def test_msmtp_submits_with_auth(server: RunningServer, starttls: str) -> None:
    subject = f"msmtp starttls {starttls}"
    raw = message(ALICE, BOB, subject)
    port = server.ports["submission" if starttls == "on" else "submissions"]
    run = subprocess.run(["msmtp", "--file=/dev/null", "--host=127.0.0.1", f"--port={port}",
                          "--tls=on", f"--tls-starttls={starttls}",
                          f"--tls-trust-file={server.cert}", "--auth=plain", f"--user={ALICE}",
                          f"--passwordeval=echo {PASSWORD}", f"--from={ALICE}", BOB],
                         input=raw, capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr.decode()
    _assert_identical_under_trace(_arrived(server, subject), raw)


def test_bad_credentials_get_one_answer_whether_or_not_the_account_exists(
        server: RunningServer) -> None:
    answers = []
    for user, password in ((ALICE, "wrong-password"), ("nobody@example.test", PASSWORD)):
        client = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"],
                                  context=tls(server), timeout=10)
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(user, password)
        answers.append((refused.value.smtp_code, refused.value.smtp_error))
        client.close()
    assert answers[0] == answers[1]
    assert answers[0][0] == 535 and answers[0][1].startswith(b"5.7.8 ")


def test_sender_must_be_the_account_in_envelope_and_from_header(server: RunningServer) -> None:
    client = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=tls(server),
                              timeout=10)
    client.login(ALICE, PASSWORD)
    code, text = client.mail("dean@example.test")
    assert (code, text.split()[0]) == (553, b"5.7.1"), text
    client.rset()
    assert client.mail(ALICE)[0] == 250
    assert client.rcpt(BOB)[0] == 250
    code, text = client.data(message("dean@example.test", BOB, "forged"))
    assert (code, text.split()[0]) == (550, b"5.7.1"), text
    assert b"dean@example.test" in text
    client.quit()
    assert not [m for m in mailbox(server, BOB, PASSWORD) if b"forged" in m]


def test_other_domains_are_taken_for_the_outbound_queue(server: RunningServer) -> None:
    """Sending them is test_smtp_queue's part."""
    client = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=tls(server),
                              timeout=10)
    client.login(ALICE, PASSWORD)
    client.mail(ALICE)
    code, text = client.rcpt("friend@elsewhere.example")
    assert (code, text.split()[0]) == (250, b"2.1.5"), text
    client.rset()
    client.quit()


def test_no_mail_before_sign_in_and_auth_is_not_offered_twice(server: RunningServer) -> None:
    talk = Conversation(server.ports["submission"])
    assert talk.command(b"EHLO client.example").startswith("250 ")
    assert talk.command(b"MAIL FROM:<alice@example.test>").startswith("530 5.7.0")
    assert talk.command(b"AUTH CRAM-MD5").startswith("504 5.5.4")
    assert talk.command(b"AUTH PLAIN !!!").startswith("501 5.5.2")
    long_plain = base64.b64encode(b"\0alice@example.test\0" + b"p" * 600)
    assert talk.command(b"AUTH PLAIN " + long_plain).startswith("535 5.7.8")
    assert talk.command(b"AUTH LOGIN").startswith("334 ")
    assert talk.command(b"*").startswith("501 5.7.0")
    assert talk.command(b"QUIT").startswith("221 2.0.0")
    talk.close()
