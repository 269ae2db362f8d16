"""The IMAP door driven by clients nobody here wrote (imaplib, IMAPClient) against a real
`mailgate serve`: everyday flows, the policy (SPEC §5, §7) and bad input."""

from __future__ import annotations

import imaplib
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from live_server import RunningServer, start_server

LISTENERS = ("imap", "imaps", "http")
PASSWORD = "correct horse battery"
MESSAGE = (b"From: Ann <ann@example.org>\r\nTo: alice@example.test\r\n"
           b"Subject: quarterly numbers\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
           b"Message-ID: <q1@example.org>\r\n\r\nThe numbers are in.\r\n")


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data", LISTENERS)
    running.account("alice@example.test", PASSWORD)
    yield running
    running.stop_cleanly()


def _client(server: RunningServer) -> IMAPClient:
    return IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False, timeout=10)


def _signed_in(server: RunningServer) -> IMAPClient:
    client = _client(server)
    client.login("alice@example.test", PASSWORD)
    return client


def _until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_delivered_message_is_fetched_byte_identical(imap_server: RunningServer) -> None:
    imap_server.deliver("alice@example.test", MESSAGE)
    client = imaplib.IMAP4("127.0.0.1", imap_server.ports["imap"])
    client.login("alice@example.test", PASSWORD)
    typ, data = client.select("INBOX")
    assert (typ, data) == ("OK", [b"1"])
    typ, fetched = client.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and fetched[0][1] == MESSAGE
    typ, fetched = client.fetch("1", "(FLAGS)")
    assert fetched == [b"1 (FLAGS (\\Recent))"]  # BODY.PEEK leaves \Seen alone
    typ, fetched = client.fetch("1", "(BODY[TEXT])")
    assert fetched[0][1] == b"The numbers are in.\r\n"
    typ, fetched = client.fetch("1", "(FLAGS)")
    assert fetched == [b"1 (FLAGS (\\Recent \\Seen))"]
    typ, fetched = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert fetched[0][1] == b"Subject: quarterly numbers\r\n\r\n"
    client.logout()


def test_imapclient_everyday_flow(imap_server: RunningServer) -> None:
    imap_server.deliver("alice@example.test", MESSAGE)
    client = _signed_in(imap_server)
    assert client.namespace().personal == (("", "/"),)
    folders = {name: flags for flags, _, name in client.list_folders()}
    assert b"\\Sent" in folders["Sent"] and b"\\Trash" in folders["Deleted Items"]
    client.select_folder("INBOX")
    envelope = client.fetch([1], ["ENVELOPE"])[1][b"ENVELOPE"]
    assert envelope.subject == b"quarterly numbers"
    client.add_flags([1], [b"\\Flagged", b"project-x"])
    assert set(client.get_flags([1])[1]) == {b"\\Recent", b"\\Flagged", b"project-x"}
    assert client.search(["FLAGGED"]) == [1]
    client.create_folder("Projects/2026")
    client.move([1], "Projects/2026")
    assert client.search(["ALL"]) == []
    assert client.folder_status("Projects/2026", ["MESSAGES"])[b"MESSAGES"] == 1
    uid = client.append("Drafts", b"Subject: draft\r\n\r\nlater\r\n", flags=[b"\\Draft"])
    assert b"APPENDUID" in uid
    client.logout()


def test_condstore_reports_modseq_and_changes_since(imap_server: RunningServer) -> None:
    imap_server.deliver("alice@example.test", MESSAGE)
    imap_server.deliver("alice@example.test", MESSAGE.replace(b"q1@", b"q2@"))
    client = _signed_in(imap_server)
    selected = client.select_folder("INBOX")
    before = selected[b"HIGHESTMODSEQ"]
    client.add_flags([2], [b"\\Answered"])
    changed = client.fetch([1, 2], ["FLAGS"], modifiers=[f"CHANGEDSINCE {before}"])
    assert list(changed) == [2] and changed[2][b"MODSEQ"][0] > before
    client.logout()


def test_two_sessions_see_each_others_changes(imap_server: RunningServer) -> None:
    imap_server.deliver("alice@example.test", MESSAGE)
    first, second = _signed_in(imap_server), _signed_in(imap_server)
    first.select_folder("INBOX")
    second.select_folder("INBOX")
    first.add_flags([1], [b"\\Seen"])
    noop = second.noop()
    assert (1, b"FETCH", (b"FLAGS", (b"\\Seen",))) in [tuple(r) for r in noop[1]]
    imap_server.deliver("alice@example.test", MESSAGE)
    assert (2, b"EXISTS") in second.noop()[1]
    first.add_flags([1], [b"\\Deleted"])
    first.expunge()
    assert (1, b"EXPUNGE") in second.noop()[1]
    assert second.search(["ALL"]) == [2]  # IMAPClient searches by UID
    first.logout()
    second.logout()


def test_idle_sees_a_delivery_from_another_process(imap_server: RunningServer) -> None:
    client = _signed_in(imap_server)
    client.select_folder("INBOX")
    client.idle()
    imap_server.deliver("alice@example.test", MESSAGE)
    responses = client.idle_check(timeout=10)
    assert (1, b"EXISTS") in responses
    client.idle_done()
    client.logout()


def test_compromise_ends_an_idle_session_within_a_second(imap_server: RunningServer) -> None:
    client = _signed_in(imap_server)
    client.select_folder("INBOX")
    client.idle()
    imap_server.cli("account", "compromise", "alice@example.test", "--reason", "phished")
    started = time.monotonic()
    sock = client.socket()
    sock.settimeout(5)
    seen = b""
    while not seen.endswith(b"\r\n") or b"BYE" not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            break
        seen += chunk
    assert time.monotonic() - started < 1.0
    assert b"* BYE [CONTACTADMIN] ProtocolDisabled: IMAP" in seen
    assert b"compromised" in seen
    with pytest.raises(IMAPClient.Error) as refused:
        _signed_in(imap_server)
    assert "[CONTACTADMIN] ProtocolDisabled" in str(refused.value)
    imap_server.cli("account", "restore", "alice@example.test", "--password-stdin", "--note",
                    "verified by phone", stdin="a brand new password\n")
    shown = json.loads(imap_server.cli("account", "show", "alice@example.test", "--json").stdout)
    door = shown["protocols"]["imap"]
    assert (door["enabled"], door["reason"], door["served"]) == (True, "plan_default", True)
    restored = _client(imap_server)
    restored.login("alice@example.test", "a brand new password")
    assert restored.select_folder("INBOX")[b"EXISTS"] == 0
    restored.logout()


def test_refusals_speak_spec_words(imap_server: RunningServer) -> None:
    with pytest.raises(imaplib.IMAP4.error) as wrong:
        imaplib.IMAP4("127.0.0.1", imap_server.ports["imap"]).login(
            "alice@example.test", "wrong")
    assert "[AUTHENTICATIONFAILED]" in str(wrong.value)
    with pytest.raises(imaplib.IMAP4.error) as unknown:
        imaplib.IMAP4("127.0.0.1", imap_server.ports["imap"]).login("nobody@example.test", "x")
    assert str(unknown.value) == str(wrong.value)
    imap_server.cli("department", "create", "Physics")
    imap_server.account("bob@example.test", PASSWORD, "--department", "Physics")
    imap_server.cli("department", "policy", "Physics", "imap", "deny")
    with pytest.raises(imaplib.IMAP4.error) as closed:
        imaplib.IMAP4("127.0.0.1", imap_server.ports["imap"]).login("bob@example.test",
                                                                     PASSWORD)
    assert "[CONTACTADMIN] ProtocolDisabled: IMAP" in str(closed.value)
    assert "Physics" in str(closed.value)


def test_imaps_and_starttls(imap_server: RunningServer) -> None:
    context = ssl.create_default_context(cafile=str(imap_server.cert))
    implicit = imaplib.IMAP4_SSL("127.0.0.1", imap_server.ports["imaps"], ssl_context=context)
    assert implicit.login("alice@example.test", PASSWORD)[0] == "OK"
    implicit.logout()
    upgraded = imaplib.IMAP4("127.0.0.1", imap_server.ports["imap"])
    assert "STARTTLS" in upgraded.capabilities
    upgraded.starttls(ssl_context=context)
    assert "STARTTLS" not in upgraded.capabilities
    assert upgraded.login("alice@example.test", PASSWORD)[0] == "OK"
    upgraded.logout()


def _raw(server: RunningServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10)
    assert sock.recv(4096).startswith(b"* OK")
    return sock


def _exchange(sock: socket.socket, line: bytes, tag: bytes) -> bytes:
    sock.sendall(line)
    seen = b""
    while not any(row.startswith(tag + b" ") for row in seen.split(b"\r\n")):
        chunk = sock.recv(65536)
        assert chunk, seen
        seen += chunk
    return seen


def test_bad_input_gets_bad_and_changes_nothing(imap_server: RunningServer) -> None:
    imap_server.deliver("alice@example.test", MESSAGE)
    sock = _raw(imap_server)
    assert b"a1 BAD" in _exchange(sock, b"a1 FROBNICATE\r\n", b"a1")
    assert b"a2 BAD" in _exchange(sock, b"a2 SELECT INBOX\r\n", b"a2")  # wrong state
    assert b"a3 BAD" in _exchange(sock, b"a3 LOGIN (unbalanced\r\n", b"a3")
    big = b"a4 LOGIN alice@example.test {99999999}\r\n"
    assert b"a4 NO [TOOBIG]" in _exchange(sock, big, b"a4")  # refused before it is sent
    assert b"a5 OK" in _exchange(sock, b'a5 LOGIN "alice@example.test" "' +
                                 PASSWORD.encode() + b'"\r\n', b"a5")
    assert b"a6 OK" in _exchange(sock, b"a6 SELECT INBOX\r\n", b"a6")
    assert b"a7 BAD" in _exchange(sock, b"a7 FETCH 0:5 FLAGS\r\n", b"a7")
    assert b"a8 BAD" in _exchange(sock, b"a8 FETCH 2 FLAGS\r\n", b"a8")  # beyond the mailbox
    assert b"a9 " in _exchange(sock, b"a9 CREATE \"\xff\xfe\"\r\n", b"a9")
    assert b"b1 BAD" in _exchange(sock, b"b1 STORE 1 +FLAGS (\\Recent)\r\n", b"b1")
    assert b"b2 BAD" in _exchange(sock, b"b2 UID FETCH 1 (BODY[1.0])\r\n", b"b2")
    answer = _exchange(sock, b"b3 FETCH 1 (FLAGS)\r\n", b"b3")
    assert b"FLAGS (\\Recent)" in answer and b"b3 OK" in answer
    sock.close()
    client = _signed_in(imap_server)
    assert "\xff" not in "".join(name for _, _, name in client.list_folders())
    client.logout()


def test_compress_deflate_both_ways(imap_server: RunningServer) -> None:
    import zlib

    sock = _raw(imap_server)
    _exchange(sock, b'c1 LOGIN "alice@example.test" "' + PASSWORD.encode() + b'"\r\n', b"c1")
    assert b"c2 OK" in _exchange(sock, b"c2 COMPRESS DEFLATE\r\n", b"c2")
    deflate, inflate = zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15)
    sock.sendall(deflate.compress(b"c3 SELECT INBOX\r\n") + deflate.flush(zlib.Z_SYNC_FLUSH))
    seen = b""
    while b"c3 OK" not in seen:
        chunk = sock.recv(65536)
        assert chunk, seen
        seen += inflate.decompress(chunk)
    assert b"* 0 EXISTS" in seen
    sock.sendall(deflate.compress(b"c4 COMPRESS DEFLATE\r\n") + deflate.flush(zlib.Z_SYNC_FLUSH))
    seen = b""
    while b"c4 " not in seen:
        seen += inflate.decompress(sock.recv(65536))
    assert b"c4 NO [COMPRESSIONACTIVE]" in seen
    sock.close()


def test_imap_shares_the_pre_sign_in_deadline_and_cap_with_pop3(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", ("imap", "imaps", "pop3", "http"), extra_env={
        "MAILGATE_AUTH_SIGNIN_DEADLINE_SECONDS": "2",
        "MAILGATE_AUTH_MAX_UNAUTHENTICATED_PER_ADDRESS": "2"})
    opened: list[socket.socket] = []
    try:
        def connect(listener: str) -> bytes:
            sock = socket.create_connection(("127.0.0.1", server.ports[listener]), timeout=15)
            opened.append(sock)
            return sock.makefile("rb").readline()

        started = time.monotonic()
        assert connect("imap").startswith(b"* OK")
        assert connect("pop3").startswith(b"+OK")
        assert connect("imap") == b"* BYE [UNAVAILABLE] Too many connections from your address.\r\n"
        first = opened[0].makefile("rb")
        assert first.readline() == b"* BYE Sign-in took too long.\r\n"
        assert first.read() == b""
        assert 2 <= time.monotonic() - started < 15
    finally:
        for sock in opened:
            sock.close()
        server.stop()
    server.assert_clean_exit()
