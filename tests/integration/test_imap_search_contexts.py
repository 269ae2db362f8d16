"""Live searches (RFC 5267 CONTEXT=SEARCH) over a real `mailgate serve`, with two imaplib
connections: one keeps `SEARCH RETURN (UPDATE)` results and listens (NOOP, IDLE), the other
appends, stores and expunges. The listener must hear ADDTO / REMOVEFROM for exactly the
messages that start or stop matching, REMOVEFROM before the EXPUNGE it numbers."""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer, start_server

ADDRESS, PASSWORD = "alice@example.test", "correct horse battery"
MESSAGE = b"From: Ann <ann@example.org>\r\nSubject: note %d\r\n\r\nbody %d\r\n"
_TAG = re.compile(rb'\(TAG "([^"]+)"\)')


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data", ("imap", "http"))
    running.account(ADDRESS, PASSWORD)
    for number in (1, 2, 3):
        running.deliver(ADDRESS, MESSAGE % (number, number))
    yield running
    running.stop_cleanly()


def _selected(server: RunningServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    client.login(ADDRESS, PASSWORD)
    assert client.select("INBOX")[0] == "OK"
    return client


def _esearch(client: imaplib.IMAP4) -> list[bytes]:
    """The ESEARCH responses imaplib has collected since the last call."""
    return [line for line in client.response("ESEARCH")[1] if line is not None]


def _live_search(client: imaplib.IMAP4, *program: str, uid: bool = False) -> tuple[str, bytes]:
    """Run a SEARCH RETURN (UPDATE ...) and give its tag and ESEARCH reply."""
    _esearch(client)
    if uid:
        typ, _ = client.uid("SEARCH", *program)
    else:
        typ, _ = client.search(None, *program)
    assert typ == "OK"
    (reply,) = _esearch(client)
    match = _TAG.match(reply)
    assert match is not None, reply
    return match[1].decode(), reply


def test_updates_follow_appends_stores_and_expunges(imap_server: RunningServer) -> None:
    watcher, changer = _selected(imap_server), _selected(imap_server)
    assert "CONTEXT=SEARCH" in watcher.capability()[1][0].decode().split()
    uids = changer.uid("SEARCH", "ALL")[1][0].split()
    flagged, first = _live_search(watcher, "RETURN", "(UPDATE ALL)", "FLAGGED", uid=True)
    assert first == f'(TAG "{flagged}") UID'.encode()  # nothing flagged yet: no ALL
    unseen, first = _live_search(watcher, "RETURN", "(UPDATE COUNT)", "UNSEEN")
    assert first == f'(TAG "{unseen}") COUNT 3'.encode()

    changer.store("1,3", "+FLAGS", "(\\Flagged \\Seen)")
    watcher.noop()
    assert sorted(_esearch(watcher)) == sorted([
        f'(TAG "{flagged}") UID ADDTO (0 {uids[0].decode()},{uids[2].decode()})'.encode(),
        f'(TAG "{unseen}") REMOVEFROM (0 1,3)'.encode(),
    ])

    changer.append("INBOX", "(\\Flagged)", None, MESSAGE % (4, 4))
    watcher.noop()
    assert watcher.response("EXISTS")[1][-1] == b"4"
    new_uid = watcher.uid("SEARCH", "UNSEEN", "FLAGGED")[1][0].decode()
    assert sorted(_esearch(watcher)) == sorted([
        f'(TAG "{flagged}") UID ADDTO (0 {new_uid})'.encode(),
        f'(TAG "{unseen}") ADDTO (0 4)'.encode(),
    ])

    # While the watcher idles, message 2 becomes flagged and message 1 is expunged: the
    # REMOVEFROM numbering message 1 comes before its EXPUNGE.
    watcher.send(b"I1 IDLE\r\n")
    assert watcher.readline().startswith(b"+ ")
    changer.store("2", "+FLAGS", "(\\Flagged)")
    changer.store("1", "+FLAGS", "(\\Deleted)")
    changer.expunge()
    added = f'* ESEARCH (TAG "{flagged}") UID ADDTO (0 {uids[1].decode()})'.encode()
    lines = _read_until(watcher, lambda seen: {added, b"* 1 EXPUNGE"} <= set(seen))
    removed = f'* ESEARCH (TAG "{flagged}") UID REMOVEFROM (0 {uids[0].decode()})'.encode()
    assert lines.index(removed) < lines.index(b"* 1 EXPUNGE")
    watcher.send(b"DONE\r\n")
    assert _read_until(watcher, lambda seen: seen[-1].startswith(b"I1 "))[-1] == \
        b"I1 OK IDLE terminated"

    # CANCELUPDATE ends one context; the other goes on.
    assert watcher.xatom("CANCELUPDATE", f'"{flagged}"')[0] == "OK"
    changer.store("2", "-FLAGS", "(\\Flagged \\Seen)")  # was message 3
    watcher.noop()
    assert _esearch(watcher) == [f'(TAG "{unseen}") ADDTO (0 2)'.encode()]
    for client in (watcher, changer):
        client.logout()


def test_tag_reuse_unknown_tags_and_the_end_of_a_context(imap_server: RunningServer) -> None:
    client = _selected(imap_server)
    tag, _ = _live_search(client, "RETURN", "(UPDATE)", "SEEN")
    # Reusing a live search's tag is BAD (RFC 5267 §4.3); imaplib never reuses, so raw.
    client.send(f"{tag} SEARCH RETURN (UPDATE) ALL\r\n".encode())
    assert client.readline().startswith(f"{tag} BAD ".encode())
    with pytest.raises(imaplib.IMAP4.error, match="No live search"):
        client.xatom("CANCELUPDATE", '"nosuchtag"')
    assert client.unselect()[0] == "OK"  # ends the context
    client.select("INBOX")
    with pytest.raises(imaplib.IMAP4.error, match="No live search"):
        client.xatom("CANCELUPDATE", f'"{tag}"')
    # A SORT cannot stay live without CONTEXT=SORT: it answers, and says NOUPDATE.
    typ, _ = client.xatom("SORT", "RETURN", "(UPDATE COUNT)", "(DATE)", "UTF-8", "ALL")
    assert typ == "OK"
    (reply,) = _esearch(client)
    match = _TAG.match(reply)
    assert match is not None and reply.endswith(b" COUNT 3")
    assert client.response("NOUPDATE")[1] == [b'"%s"' % match[1]]
    client.logout()


def test_partial_windows_count_from_either_end(imap_server: RunningServer) -> None:
    client = _selected(imap_server)
    _, reply = _live_search(client, "RETURN", "(PARTIAL 2:3)", "ALL")
    assert reply.endswith(b"PARTIAL (2:3 2:3)")
    _, reply = _live_search(client, "RETURN", "(PARTIAL -1:-2)", "ALL")
    assert reply.endswith(b"PARTIAL (-1:-2 2:3)")
    _, reply = _live_search(client, "RETURN", "(PARTIAL 3:9)", "ALL")
    assert reply.endswith(b"PARTIAL (3:9 3)")
    with pytest.raises(imaplib.IMAP4.error, match="one PARTIAL or one ALL"):
        client.search(None, "RETURN", "(PARTIAL 1:2 ALL)", "ALL")
    client.logout()


def _read_until(client: imaplib.IMAP4, done) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Lines from the server (CRLF stripped) until `done(lines)`; the socket's timeout
    bounds the wait."""
    lines: list[bytes] = []
    while not lines or not done(lines):
        lines.append(client.readline().rstrip(b"\r\n"))
    return lines
