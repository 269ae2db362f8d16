"""NOTIFY (RFC 5465) against a real `mailgate serve`, driven by IMAPClient and imaplib: one
connection asks to be told, another changes the account, and the first hears of it."""

from __future__ import annotations

import imaplib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from live_server import RunningServer, start_server

ADDRESS, PASSWORD = "alice@example.test", "correct horse battery"
MESSAGE = (b"From: Ann <ann@example.org>\r\nTo: alice@example.test\r\n"
           b"Subject: quarterly numbers\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
           b"Message-ID: <q1@example.org>\r\n\r\nThe numbers are in.\r\n")
imaplib.Commands["NOTIFY"] = ("AUTH", "SELECTED")  # imaplib does not know the command
EVERYWHERE = ("SET (INBOXES (MessageNew MessageExpunge)) (PERSONAL (MessageNew MessageExpunge "
              "FlagChange MailboxName SubscriptionChange))")


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data", ("imap", "http"))
    running.account(ADDRESS, PASSWORD)
    yield running
    running.stop_cleanly()


def _imapclient(server: RunningServer) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False, timeout=10)
    client.login(ADDRESS, PASSWORD)
    return client


def _imaplib(server: RunningServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    client.login(ADDRESS, PASSWORD)
    return client


def _idle_until(client: IMAPClient, wanted: int, timeout: float = 10.0) -> list[tuple]:
    """IDLE responses until `wanted` of them came (or the time is up)."""
    seen: list[tuple] = []
    deadline = time.monotonic() + timeout
    while len(seen) < wanted and time.monotonic() < deadline:
        seen += client.idle_check(timeout=max(0.1, deadline - time.monotonic()))
    return seen


def _noop_until(client: imaplib.IMAP4, kind: str, timeout: float = 10.0) -> list[bytes]:
    """NOOP until untagged `kind` responses came; their data."""
    deadline = time.monotonic() + timeout
    while True:
        client.noop()
        _, data = client.response(kind)
        if data != [None]:
            return data
        assert time.monotonic() < deadline, f"no {kind} response in time"
        time.sleep(0.05)


def test_notify_is_advertised_once_signed_in(imap_server: RunningServer) -> None:
    client = IMAPClient("127.0.0.1", port=imap_server.ports["imap"], ssl=False, timeout=10)
    assert b"NOTIFY" not in client.capabilities()
    client.login(ADDRESS, PASSWORD)
    assert b"NOTIFY" in client.capabilities()
    client.logout()


def test_idle_hears_of_an_append_elsewhere_and_a_new_folder(imap_server: RunningServer) -> None:
    watcher = _imapclient(imap_server)
    typ, _ = watcher._imap.xatom("NOTIFY", EVERYWHERE)
    assert typ == "OK"
    watcher.select_folder("INBOX")
    watcher.idle()
    other = _imapclient(imap_server)
    other.append("Archive", MESSAGE)  # an existing folder, not selected by the watcher
    other.create_folder("Projects")
    heard = _idle_until(watcher, 2)
    watcher.idle_done()
    statuses = [r for r in heard if r[0] == b"STATUS"]
    lists = [r for r in heard if r[0] == b"LIST"]
    assert statuses and statuses[0][1] == b"Archive", heard
    items = statuses[0][2]
    assert dict(zip(items[::2], items[1::2], strict=True))[b"MESSAGES"] == 1
    assert [b"HIGHESTMODSEQ" in items] == [True]  # FlagChange asked for
    assert lists == [(b"LIST", (), b"/", b"Projects")], heard
    other.logout()
    watcher.logout()


def test_noop_reports_renames_deletes_subscriptions_and_flag_changes(
        imap_server: RunningServer) -> None:
    watcher = _imaplib(imap_server)
    other = _imaplib(imap_server)
    other.create("Lists")
    other.append("Lists", None, None, MESSAGE)
    typ, _ = watcher.xatom("NOTIFY", "SET STATUS (subtree Lists/Quiet NONE) "
                                        "(subtree Lists (MessageNew MessageExpunge FlagChange "
                                        "MailboxName SubscriptionChange))")
    assert typ == "OK"
    told = watcher.response("STATUS")[1]
    typ, asked = other.status("Lists", "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
    assert told == asked
    other.select("Lists")
    other.store("1", "+FLAGS", "\\Flagged")
    assert b'"Lists" (MESSAGES 1 UIDNEXT 2' in _noop_until(watcher, "STATUS")[0]
    other.close()
    other.subscribe("Lists")
    assert _noop_until(watcher, "LIST") == [b'(\\Subscribed) "/" "Lists"']
    other.rename("Lists", "Lists2")  # the subscription follows: Lists is not subscribed now
    listed = _noop_until(watcher, "LIST")
    while len(listed) < 2:
        listed += _noop_until(watcher, "LIST")
    assert listed == [b'() "/" "Lists2" ("OLDNAME" ("Lists"))', b'() "/" "Lists"']
    other.delete("Lists2")  # outside the subtree now: not told
    other.create("Lists/Quiet")  # the first group that matches counts: NONE here
    other.create("Lists/Loud")  # (CREATE makes the parent Lists again)
    listed = _noop_until(watcher, "LIST")
    while len(listed) < 2:
        listed += _noop_until(watcher, "LIST")
    assert listed == [b'() "/" "Lists"', b'() "/" "Lists/Loud"']
    other.logout()
    watcher.logout()


def test_selected_gets_new_messages_with_their_fetch_items(imap_server: RunningServer) -> None:
    watcher = _imaplib(imap_server)
    watcher.select("INBOX")
    typ, _ = watcher.xatom("NOTIFY", "SET (selected (MessageNew (UID FLAGS "
                                     "BODY[HEADER.FIELDS (SUBJECT)]) MessageExpunge))")
    assert typ == "OK"
    imap_server.deliver(ADDRESS, MESSAGE)
    assert _noop_until(watcher, "EXISTS")[-1] == b"1"  # after SELECT's 0
    fetched = watcher.response("FETCH")[1]
    assert fetched[0][0] == b"1 (UID 1 FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {30}"
    assert fetched[0][1] == b"Subject: quarterly numbers\r\n\r\n"
    typ, flags = watcher.fetch("1", "(FLAGS)")
    assert flags == [b"1 (FLAGS (\\Recent))"]  # telling did not set \Seen
    watcher.logout()


class _Wire:
    """A bare connection, to see what the server sends while the client says nothing."""

    def __init__(self, server: RunningServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10)
        self.buffer = b""
        self.until(b"\r\n")
        self.command(f'l LOGIN "{ADDRESS}" "{PASSWORD}"')

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, self.buffer
            self.buffer += chunk
        end = self.buffer.index(marker) + len(marker)
        seen, self.buffer = self.buffer[:end], self.buffer[end:]
        return seen

    def command(self, line: str) -> bytes:
        tag = line.split(" ", 1)[0]
        self.sock.sendall(line.encode() + b"\r\n")
        seen = b""
        while not (last := self.until(b"\r\n")).startswith(f"{tag} ".encode()):
            seen += last
        assert last.startswith(f"{tag} OK".encode()), seen + last
        return seen


def test_selected_changes_are_pushed_without_a_command(imap_server: RunningServer) -> None:
    imap_server.deliver(ADDRESS, MESSAGE)
    imap_server.deliver(ADDRESS, MESSAGE)
    wire = _Wire(imap_server)
    wire.command("s SELECT INBOX")
    wire.command("n NOTIFY SET (selected (MessageNew (UID) MessageExpunge FlagChange))")
    other = _imaplib(imap_server)
    other.select("INBOX")
    imap_server.deliver(ADDRESS, MESSAGE)
    pushed = wire.until(b"* 3 FETCH (UID 3)\r\n")
    assert pushed == b"* 3 EXISTS\r\n* 3 RECENT\r\n* 3 FETCH (UID 3)\r\n"
    other.store("1", "+FLAGS", "\\Deleted")
    other.expunge()
    wire.until(b"* 1 EXPUNGE\r\n")
    wire.command("d NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
    other.store("1", "+FLAGS", "\\Deleted")
    other.expunge()  # held back until a command may tell it
    imap_server.deliver(ADDRESS, MESSAGE)
    told = wire.command("f FETCH 2 (UID)")  # message 1 is gone: nothing to show for it
    assert told.endswith(b"* 2 FETCH (UID 3)\r\n")  # perhaps after its \Deleted, pushed
    assert b"EXPUNGE" not in told and b"EXISTS" not in told
    assert b"* 1 EXPUNGE\r\n* 2 EXISTS" in wire.command("z NOOP")
    other.logout()
    wire.command("o LOGOUT")


def test_unsupported_events_get_badevent_and_bad_syntax_bad(imap_server: RunningServer) -> None:
    client = _imaplib(imap_server)
    typ, data = client.xatom("NOTIFY", "SET (personal (MessageNew MessageExpunge "
                                       "AnnotationChange))")
    assert (typ, data) == ("NO", [b"[BADEVENT (MessageNew MessageExpunge FlagChange "
                                  b"MailboxName SubscriptionChange)] Unsupported NOTIFY events"])
    with pytest.raises(imaplib.IMAP4.error, match="MessageNew and MessageExpunge go together"):
        client.xatom("NOTIFY", "SET (personal (MessageNew))")
    typ, _ = client.xatom("NOTIFY", "NONE")
    assert typ == "OK"
    client.logout()
