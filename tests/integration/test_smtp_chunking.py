"""CHUNKING (RFC 3030, BDAT) on submission, inbound SMTP and LMTP against a real
`mailgate serve`: chunks taken as they come (no dot-stuffing) end in the same delivery as
DATA (trace headers, Sent copy, one reply per LMTP recipient), and bad chunks get clean
errors with nothing stored half-way. Of the clients in Debian only Exim sends BDAT (Postfix's
smtp/lmtp clients never do); its test runs where `exim4` is on PATH or MAILGATE_TEST_EXIM
names the binary."""

from __future__ import annotations

import base64
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer
from smtp_clients import Conversation, at_once, mailbox, message, serving, split_trace

ALICE, BOB = "alice@example.test", "bob@example.test"
PASSWORD = "correct-horse-battery"
OUTSIDER = "someone@outside.example"
LIMIT = 200_000  # storage.max_message_bytes of this server
EXIM = os.environ.get("MAILGATE_TEST_EXIM") or shutil.which("exim4")
#: a throwaway Exim that hands every message to one loopback port, BDAT when offered
EXIM_CONF = """\
exim_path = {exim}
spool_directory = {spool}
log_file_path = {spool}/%slog
primary_hostname = exim.client.example
begin routers
to_mailgate:
  driver = manualroute
  transport = to_mailgate
  route_list = * 127.0.0.1
  self = send
begin transports
to_mailgate:
  driver = smtp
  protocol = {protocol}
  port = {port}
  hosts_try_chunking = *
  hosts_avoid_tls = {avoid_tls}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"MAILGATE_STORAGE_MAX_MESSAGE_BYTES": str(LIMIT)}
    for running in serving(tmp_path_factory.mktemp("smtp-chunking") / "data", env):
        at_once(*((running.account, a, PASSWORD) for a in (ALICE, BOB)))
        yield running


def _stored(server: RunningServer, address: str, subject: str, folder: str = "INBOX"
            ) -> list[bytes]:
    return [m for m in mailbox(server, address, PASSWORD, folder)
            if f"Subject: {subject}\r\n".encode() in m]


def _bdat(client: smtplib.SMTP, chunk: bytes, last: bool = False) -> tuple[int, bytes]:
    """One BDAT chunk through smtplib, which has no BDAT of its own."""
    client.putcmd("BDAT", f"{len(chunk)}{' LAST' if last else ''}")
    client.send(chunk)
    return client.getreply()


def _inbound(server: RunningServer, port: str = "smtp") -> Conversation:
    talk = Conversation(server.ports[port])
    hello = b"LHLO" if port == "lmtp" else b"EHLO"
    assert talk.command(hello + b" mx.outside.example").startswith("250 ")
    return talk


def _transaction(talk: Conversation, to: str = ALICE) -> None:
    assert talk.command(f"MAIL FROM:<{OUTSIDER}>".encode()).startswith("250")
    assert talk.command(f"RCPT TO:<{to}>".encode()).startswith("250")


def test_smtplib_submits_in_chunks_and_the_message_arrives_byte_identical(
        server: RunningServer) -> None:
    raw = message(ALICE, BOB, "in chunks", "Hi.\r\n.a line that DATA would stuff\r\n.\r\n")
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as client:
        client.ehlo("client.example")
        assert client.has_extn("chunking") and not client.has_extn("binarymime")
        client.login(ALICE, PASSWORD)
        assert client.mail(ALICE)[0] == 250 and client.rcpt(BOB)[0] == 250
        assert _bdat(client, raw[:50]) == (250, b"2.0.0 50 octets received")
        assert _bdat(client, raw[50:-7])[0] == 250
        code, said = _bdat(client, raw[-7:], last=True)
        assert code == 250 and said.startswith(b"2.0.0 Message accepted and stored as "), said
    [stored] = _stored(server, BOB, "in chunks")
    fields, rest = split_trace(stored)
    assert rest == raw
    assert fields[0] == f"Return-Path: <{ALICE}>\r\n".encode()
    assert b"with ESMTPA id " in fields[1]
    assert _stored(server, ALICE, "in chunks", "Sent") == [raw]


def test_pipelined_chunks_on_inbound_smtp_are_stored_with_trace_headers(
        server: RunningServer) -> None:
    raw = message(OUTSIDER, ALICE, "pipelined chunks")
    talk = _inbound(server)
    talk.send(f"MAIL FROM:<{OUTSIDER}>\r\nRCPT TO:<{ALICE}>\r\n".encode()
              + b"BDAT 20\r\n" + raw[:20] + b"BDAT 0\r\n"
              + f"BDAT {len(raw) - 20} LAST\r\n".encode() + raw[20:] + b"QUIT\r\n")
    answers = [talk.reply()[-1] for _ in range(6)]
    assert [a[:9] for a in answers] == ["250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0",
                                        "250 2.0.0", "221 2.0.0"], answers
    talk.close()
    [stored] = _stored(server, ALICE, "pipelined chunks")
    fields, rest = split_trace(stored)
    assert rest == raw
    assert fields[1].startswith(b"Authentication-Results: localhost;")
    assert b"with ESMTP id" in fields[2]


@pytest.mark.parametrize("quit_first", [True, False], ids=["quit", "no-quit"])
def test_a_client_that_shuts_its_side_after_pipelining_still_gets_every_reply(
        server: RunningServer, quit_first: bool) -> None:
    subject = f"half closed {quit_first}"
    raw = message(OUTSIDER, ALICE, subject)
    talk = _inbound(server)
    talk.send(f"MAIL FROM:<{OUTSIDER}>\r\nRCPT TO:<{ALICE}>\r\n".encode()
              + b"BDAT %d LAST\r\n" % len(raw) + raw + (b"QUIT\r\n" if quit_first else b""))
    talk.sock.shutdown(socket.SHUT_WR)
    answers = [talk.reply()[-1][:9] for _ in range(4)]
    assert answers == ["250 2.1.0", "250 2.1.5", "250 2.0.0",
                       "221 2.0.0" if quit_first else "421 4.4.0"]
    with pytest.raises(ConnectionError):
        talk.reply()
    talk.close()
    assert len(_stored(server, ALICE, subject)) == 1


def test_bdat_last_on_lmtp_answers_once_per_recipient(server: RunningServer) -> None:
    raw = message(OUTSIDER, ALICE, "lmtp chunks")
    talk = _inbound(server, "lmtp")
    _transaction(talk)
    assert talk.command(f"RCPT TO:<{BOB}>".encode()).startswith("250")
    assert talk.command(b"RCPT TO:<nobody@example.test>").startswith("550 5.1.1")
    talk.send(f"BDAT {len(raw)} LAST\r\n".encode() + raw)
    assert talk.reply() == [f"250 2.0.0 <{ALICE}> message stored"]
    assert talk.reply() == [f"250 2.0.0 <{BOB}> message stored"]
    _transaction(talk)
    assert talk.command(f"RCPT TO:<{BOB}>".encode()).startswith("250")
    huge = b"x" * (LIMIT + 1)
    talk.send(b"BDAT %d\r\n" % len(huge) + huge + b"BDAT 5 LAST\r\nlast\n")
    assert talk.reply()[-1].startswith("552 5.3.4")
    assert [talk.reply()[-1][:9] for _ in range(2)] == ["552 5.3.4"] * 2  # one per recipient
    assert talk.command(b"NOOP").startswith("250 2.0.0")
    talk.close()
    assert len(_stored(server, ALICE, "lmtp chunks")) == 1
    assert len(_stored(server, BOB, "lmtp chunks")) == 1


def test_a_chunk_past_the_size_limit_is_refused_discarded_and_fails_the_transaction(
        server: RunningServer) -> None:
    talk = _inbound(server)
    _transaction(talk)
    head = b"Subject: too big\r\n\r\n"
    talk.send(b"BDAT %d\r\n" % len(head) + head)
    assert talk.reply()[-1].startswith("250 2.0.0")
    huge = b"NOOP\r\n" * (LIMIT // 6)  # commands inside a chunk are never run
    talk.send(b"BDAT %d\r\n" % len(huge) + huge)
    assert talk.reply()[-1].startswith("552 5.3.4 Message too big: the limit is")
    tail = b"the end\r\n"  # already pipelined by the client: refused the same way
    talk.send(b"BDAT %d LAST\r\n" % len(tail) + tail)
    assert talk.reply()[-1].startswith("552 5.3.4")
    assert talk.command(b"NOOP").startswith("250 2.0.0")
    raw = message(OUTSIDER, ALICE, "after a refused chunk")
    _transaction(talk)
    talk.send(b"BDAT %d LAST\r\n" % len(raw) + raw)
    assert talk.reply()[-1].startswith("250 2.0.0 Message accepted")
    talk.close()
    assert _stored(server, ALICE, "too big") == []
    assert len(_stored(server, ALICE, "after a refused chunk")) == 1


def test_bdat_out_of_order_is_refused_and_its_chunk_never_runs_as_commands(
        server: RunningServer) -> None:
    talk = _inbound(server)
    smuggled = b"MAIL FROM:<x@outside.example>\r\n"
    talk.send(b"BDAT %d\r\n" % len(smuggled) + smuggled)
    assert talk.reply()[-1].startswith("503 5.5.1 Send MAIL FROM first")
    assert talk.command(f"MAIL FROM:<{OUTSIDER}>".encode()).startswith("250")
    talk.send(b"BDAT 5 LAST\r\nhello")
    assert talk.reply()[-1].startswith("503 5.5.1 Send RCPT TO first")
    assert talk.command(f"RCPT TO:<{ALICE}>".encode()).startswith("250")
    talk.send(b"BDAT 16\r\nSubject: mixed\r\n")
    assert talk.reply()[-1].startswith("250 2.0.0")
    assert talk.command(b"DATA").startswith("503 5.5.1 DATA cannot follow BDAT")
    assert talk.command(b"RSET").startswith("250")
    _transaction(talk)
    assert talk.command(b"DATA").startswith("354")  # RSET ended the chunked transaction
    talk.send(message(OUTSIDER, ALICE, "data after rset"))
    assert talk.command(b".").startswith("250 2.0.0")
    talk.close()
    assert _stored(server, ALICE, "mixed") == []
    assert len(_stored(server, ALICE, "data after rset")) == 1

    plain = Conversation(server.ports["smtp"])
    assert plain.command(b"HELO mx.outside.example").startswith("250")
    plain.send(b"BDAT 4\r\nNOOP")
    assert plain.reply()[-1].startswith("503 5.5.1 Send EHLO first")
    plain.close()


@pytest.mark.parametrize("argument", [b"", b"abc", b"-1", b"10 NOTLAST", b"1" * 30, b"1 2"])
def test_a_garbage_chunk_size_is_refused_and_the_connection_closes(
        server: RunningServer, argument: bytes) -> None:
    talk = _inbound(server)
    _transaction(talk)
    assert talk.command(b"BDAT " + argument).startswith("501 5.5.4 Syntax: BDAT <size>")
    with pytest.raises(ConnectionError):
        talk.reply()
    talk.close()


def test_a_long_line_or_a_connection_closed_mid_chunk_stores_nothing(
        server: RunningServer) -> None:
    talk = _inbound(server)
    _transaction(talk)
    long_line = b"Subject: long line\r\n\r\n" + b"x" * 1200 + b"\r\n"
    talk.send(b"BDAT %d LAST\r\n" % len(long_line) + long_line)
    assert talk.reply()[-1].startswith("500 5.5.6 A line of the message is longer")
    _transaction(talk)
    cut = message(OUTSIDER, ALICE, "cut off")
    talk.send(b"BDAT %d LAST\r\n" % (len(cut) + 10) + cut)
    talk.close()
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
    later = Conversation(server.ports["submission"])  # the server is still serving
    assert later.command(b"EHLO client.example").startswith("250 ")
    assert later.command(b"AUTH PLAIN " + token).startswith("235")
    later.close()
    assert _stored(server, ALICE, "long line") == []
    assert _stored(server, ALICE, "cut off") == []


@pytest.mark.skipif(EXIM is None, reason="no Exim, the Debian client that sends BDAT")
@pytest.mark.parametrize(("listener", "tls"), [("smtp", True), ("smtp", False), ("lmtp", False)],
                         ids=["smtp-starttls", "smtp", "lmtp"])
def test_exim_sends_in_chunks_and_the_message_arrives_byte_identical(
        server: RunningServer, listener: str, tls: bool) -> None:
    """Without TLS Exim pipelines BDAT LAST and QUIT, then shuts its side of the connection
    before it reads the replies: they still come."""
    assert EXIM is not None
    spool = Path(tempfile.mkdtemp(prefix="mailgate-exim-"))  # where Exim's own user reaches
    shutil.chown(spool, "Debian-exim")
    conf = spool / "exim.conf"  # read again by the delivery, run as Exim's user
    conf.write_text(EXIM_CONF.format(exim=EXIM, spool=spool, protocol=listener,
                                     port=server.ports[listener], avoid_tls="" if tls else "*"))
    subject = f"exim over {listener} {tls}"
    raw = message(OUTSIDER, ALICE, subject, "Hi.\r\n.a dot line\r\n")
    chunked_before = server.log.read_text().count("BDAT chunk(s)")
    try:
        sent = subprocess.run([EXIM, "-C", str(conf), "-odf", "-oi", "-f", OUTSIDER, ALICE],
                              input=raw.replace(b"\r\n", b"\n"), capture_output=True,
                              timeout=60)
        exim_log = (spool / "mainlog").read_text()
    finally:
        shutil.rmtree(spool)
    assert sent.returncode == 0, sent.stderr
    assert f"=> {ALICE}" in exim_log and " K " in exim_log, exim_log  # K: sent by BDAT
    [stored] = _stored(server, ALICE, subject)
    fields, rest = split_trace(stored)  # mailgate's trace fields, then Exim's Received
    assert rest == raw
    protocol = {"lmtp": b"with LMTP id", "smtp": b"with ESMTPS id" if tls else b"with ESMTP id"
                }[listener]
    assert any(protocol in f for f in fields), fields
    assert server.log.read_text().count("BDAT chunk(s)") == chunked_before + 1
