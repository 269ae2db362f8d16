"""Bad input at the SMTP doors against a real `mailgate serve`: CR/LF smuggled into HELO,
MAIL FROM and the AUTH username is refused and never reaches a stored header; invalid UTF-8
in headers without SMTPUTF8 is stored as sent; 10 000 recipients on submission and LMTP are
capped with a clear error and the message is stored once, whole."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import imaplib
from collections.abc import Iterator

import pytest
from live_server import RunningServer
from smtp_clients import Conversation, at_once, mailbox, message, serving, split_trace

ALICE, BOB = "alice@example.test", "bob@example.test"
PASSWORD = "correct-horse-battery"
OUTSIDER = "someone@outside.example"
INJECTED = b"X-Injected"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    for running in serving(tmp_path_factory.mktemp("smtp-bad-input") / "data"):
        at_once(*((running.account, a, PASSWORD) for a in (ALICE, BOB)))
        yield running


def _stored(server: RunningServer, address: str, subject: str, folder: str = "INBOX"
            ) -> list[bytes]:
    return [m for m in mailbox(server, address, PASSWORD, folder)
            if f"Subject: {subject}".encode() in m]


def _header_names(stored: bytes) -> list[str]:
    head = stored.partition(b"\r\n\r\n")[0]
    assert b"\r" not in head.replace(b"\r\n", b"") and b"\n" not in head.replace(b"\r\n", b"")
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    return [name.lower() for name in parsed]


def _signed_in(server: RunningServer) -> Conversation:
    talk = Conversation(server.ports["submission"])
    assert talk.command(b"EHLO client.example").startswith("250 ")
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
    assert talk.command(b"AUTH PLAIN " + token).startswith("235 2.7.0")
    return talk


def _send(talk: Conversation, sender: str, to: str, raw: bytes) -> str:
    assert talk.command(f"MAIL FROM:<{sender}>".encode()).startswith("250")
    assert talk.command(f"RCPT TO:<{to}>".encode()).startswith("250")
    assert talk.command(b"DATA").startswith("354")
    talk.send(raw)
    return talk.command(b".")


def test_cr_or_lf_in_helo_is_refused_and_never_reaches_a_header(server: RunningServer) -> None:
    for port in (server.ports["smtp"], server.ports["submission"]):
        talk = Conversation(port)
        assert talk.command(b"EHLO evil.example\rX-Injected: helo").startswith("501 5.5.4")
        assert talk.command(b"HELO evil.example\rX-Injected: helo").startswith("501 5.5.4")
        assert talk.command(b"MAIL FROM:<x@outside.example>").startswith("503 5.5.1")
        # a bare LF ends a command line: what follows it is another (unknown) command
        assert talk.command(b"EHLO mx.outside.example\nX-Injected: helo").startswith("250 ")
        assert talk.reply()[-1].startswith("500 5.5.2")
        talk.close()
    talk = Conversation(server.ports["smtp"])
    talk.command(b"EHLO mx.outside.example\nX-Injected: helo")
    talk.reply()
    assert _send(talk, OUTSIDER, ALICE, message(OUTSIDER, ALICE, "helo injection")
                 ).startswith("250 2.0.0")
    talk.close()
    (stored,) = _stored(server, ALICE, "helo injection")
    assert b"Received: from mx.outside.example ([127.0.0.1])" in stored
    assert "x-injected" not in _header_names(stored)


def test_cr_or_lf_in_mail_from_is_refused_and_never_reaches_a_header(
        server: RunningServer) -> None:
    talk = Conversation(server.ports["smtp"])
    talk.command(b"EHLO mx.outside.example")
    for line in (b"MAIL FROM:<x\r@outside.example>", b"MAIL FROM:<x\x00@outside.example>"):
        assert talk.command(line).startswith("553 5.1.3 An address cannot contain control"), line
    assert talk.command(b"MAIL FROM:<x\rX-Injected: a@outside.example>").startswith("501 5.5.4")
    assert talk.command(b"MAIL FROM:<x@outside.example> BODY=8BITMIME\rX-Injected: p"
                        ).startswith("501 5.5.4")
    assert talk.command(b"MAIL FROM:<x@outside.example> ENVID=a\rX-Injected: p"
                        ).startswith("501 5.5.4")
    assert talk.command(b"MAIL FROM:<x@outside.example> ENVID=a\rb").startswith("555 5.5.4")
    assert talk.command(b"RCPT TO:<alice@example.test>").startswith("503 5.5.1")
    assert talk.command(b"MAIL FROM:<x@outside.example>").startswith("250")
    assert talk.command(b"RCPT TO:<alice\r@example.test>").startswith("553 5.1.3")
    assert talk.command(b"RSET").startswith("250")
    assert _send(talk, OUTSIDER, ALICE, message(OUTSIDER, ALICE, "mail from injection")
                 ).startswith("250 2.0.0")
    talk.close()
    (stored,) = _stored(server, ALICE, "mail from injection")
    assert stored.startswith(f"Return-Path: <{OUTSIDER}>\r\n".encode())
    assert "x-injected" not in _header_names(stored)


def test_cr_or_lf_in_the_auth_username_is_refused(server: RunningServer) -> None:
    talk = Conversation(server.ports["submission"])
    talk.command(b"EHLO client.example")
    for user in (f"{ALICE}\r\nX-Injected: u", f"{ALICE}\rX-Injected: u", f"{ALICE}\nX: u"):
        token = base64.b64encode(f"\0{user}\0{PASSWORD}".encode())
        assert talk.command(b"AUTH PLAIN " + token).startswith("535 5.7.8"), user
    assert talk.command(b"AUTH LOGIN " + base64.b64encode(f"{ALICE}\r\nX: u".encode())
                        ).startswith("334 ")
    assert talk.command(base64.b64encode(PASSWORD.encode())).startswith("535 5.7.8")
    assert talk.command(f"MAIL FROM:<{ALICE}>".encode()).startswith("530 5.7.0")
    talk.close()
    talk = _signed_in(server)
    assert _send(talk, ALICE, BOB, message(ALICE, BOB, "after injected auth")
                 ).startswith("250 2.0.0")
    talk.close()
    (stored,) = _stored(server, BOB, "after injected auth")
    assert "x-injected" not in _header_names(stored)


def test_invalid_utf8_in_headers_without_smtputf8_is_stored_as_sent(
        server: RunningServer) -> None:
    raw = (f"From: \xff\xfe Alice <{ALICE}>\r\nTo: {BOB}\r\n".encode("latin-1")
           + b"Subject: bad utf8 \xc3\x28 here\r\nX-Note: \xed\xa0\x80\r\n\r\nbody \xff\r\n")
    talk = _signed_in(server)
    assert _send(talk, ALICE, BOB, raw).startswith("250 2.0.0")
    refused = raw.replace(f"<{ALICE}>".encode(), b"<al\xffice@example.test>")
    assert _send(talk, ALICE, BOB, refused).startswith(
        "550 5.7.1 The From: header says <al?ice@example.test>")
    talk.close()
    talk = Conversation(server.ports["smtp"])
    talk.command(b"EHLO mx.outside.example")
    assert _send(talk, OUTSIDER, ALICE, raw.replace(b"bad utf8", b"inbound bad utf8")
                 ).startswith("250 2.0.0")
    talk.close()
    (inbox,) = _stored(server, BOB, "bad utf8")
    assert split_trace(inbox)[1] == raw
    (sent,) = _stored(server, ALICE, "bad utf8", "Sent")
    assert sent == raw
    (inbound,) = _stored(server, ALICE, "inbound bad utf8")
    assert split_trace(inbound)[1] == raw.replace(b"bad utf8", b"inbound bad utf8")
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    client.login(BOB, PASSWORD)
    client.select("INBOX", readonly=True)
    status, _ = client.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")
    assert status == "OK"
    client.logout()


def _ten_thousand_recipients(talk: Conversation, local: str) -> list[str]:
    talk.send(b"".join(b"RCPT TO:<%s+%d@example.test>\r\n" % (local.encode(), n)
                       for n in range(10_000)))
    return [talk.reply()[-1] for _ in range(10_000)]


def test_ten_thousand_recipients_on_submission_are_capped_and_stored_once(
        server: RunningServer) -> None:
    talk = _signed_in(server)
    assert talk.command(f"MAIL FROM:<{ALICE}>".encode()).startswith("250")
    answers = _ten_thousand_recipients(talk, "bob")
    assert all(a.startswith("250 2.1.5") for a in answers[:100])
    assert all(a.startswith("452 4.5.3 Too many recipients: at most 100") for a in answers[100:])
    assert talk.command(b"DATA").startswith("354")
    talk.send(message(ALICE, BOB, "ten thousand via submission"))
    assert talk.command(b".").startswith("250 2.0.0")
    talk.close()
    assert len(_stored(server, BOB, "ten thousand via submission")) == 1
    assert len(_stored(server, ALICE, "ten thousand via submission", "Sent")) == 1


def test_ten_thousand_recipients_on_lmtp_are_capped_and_stored_once(
        server: RunningServer) -> None:
    talk = Conversation(server.ports["lmtp"])
    talk.command(b"LHLO mx.example.test")
    assert talk.command(f"MAIL FROM:<{OUTSIDER}>".encode()).startswith("250")
    answers = _ten_thousand_recipients(talk, "alice")
    assert all(a.startswith("250 2.1.5") for a in answers[:100])
    assert all(a.startswith("452 4.5.3 Too many recipients: at most 100") for a in answers[100:])
    assert talk.command(b"DATA").startswith("354")
    talk.send(message(OUTSIDER, ALICE, "ten thousand via lmtp"))
    first = talk.command(b".")
    replies = [first] + [talk.reply()[-1] for _ in range(99)]
    assert all(r.startswith("250 2.0.0 <alice+") for r in replies), replies[:3]
    assert talk.command(b"NOOP").startswith("250 2.0.0 OK")  # no 101st reply was pending
    talk.close()
    assert len(_stored(server, ALICE, "ten thousand via lmtp")) == 1
