"""The IMAP door driven by clients nobody here wrote, as their users run them, against a
real `mailgate serve`: curl (imap:// with STARTTLS, imaps://), imap-tools, fetchmail,
neomutt (on a pseudo-terminal, driven by `push`) and IMAPClient for what
test_imap_clients.py does not cover. Every TLS connection verifies the server's
self-signed certificate from the data directory. (mbsync and offlineimap:
test_imap_sync_clients.py.)"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from pathlib import Path

from imap_tools import AND, MailBox, MailBoxStartTls, MailMessageFlags
from imapclient import IMAPClient
from live_server import RunningServer
from real_clients import (
    ADDRESS,
    HOST,
    PASSWORD,
    message,
    requires,
    run_client,
    run_on_terminal,
    server_messages,
    signed_in,
)

from support import FIXTURES

#: Nested multiparts and raw 8-bit header bytes, CRLF throughout.
RICH = ((FIXTURES / "mime" / "nested-multipart.eml").read_bytes().replace(b"\n", b"\r\n")
        .replace(b"MIME-Version: 1.0\r\n", "MIME-Version: 1.0\r\nX-Note: Grüße\r\n".encode()))
RICH_ID = "<nested@example.org>"


def _tls(server: RunningServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.cert))


def _recoverable(server: RunningServer) -> list[str]:
    listed = json.loads(server.cli("recover", "list", ADDRESS, "--json").stdout)
    return sorted(item["subject"] for item in listed)


# -- curl ----------------------------------------------------------------------------------

def _curl(server: RunningServer, home: Path, url: str, *extra: str,
          password: str = PASSWORD) -> subprocess.CompletedProcess[bytes]:
    return run_client(["curl", "--silent", "--show-error", "--ssl-reqd", "--cacert",
                       str(server.cert), "--user", f"{ADDRESS}:{password}", *extra, url], home)


def _curl_ok(server: RunningServer, home: Path, url: str, *extra: str) -> bytes:
    done = _curl(server, home, url, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout


@requires("curl")
def test_curl_lists_searches_fetches_byte_identical_and_uploads(
        imap_server: RunningServer, tmp_path: Path) -> None:
    imap_server.account(ADDRESS, PASSWORD)
    imap_server.deliver(ADDRESS, RICH)
    imaps = f"imaps://{HOST}:{imap_server.ports['imaps']}"
    starttls = f"imap://{HOST}:{imap_server.ports['imap']}"

    listed = _curl_ok(imap_server, tmp_path, f"{imaps}/")
    assert b'* LIST (\\HasNoChildren \\Trash) "/" "Deleted Items"\r\n' in listed
    assert _curl_ok(imap_server, tmp_path, f"{imaps}/INBOX?UNSEEN") == b"* SEARCH 1\r\n"
    for base in (imaps, starttls):
        assert _curl_ok(imap_server, tmp_path, f"{base}/INBOX;UID=1") == RICH
    assert _curl_ok(imap_server, tmp_path, f"{imaps}/INBOX?UNSEEN") == b"* SEARCH\r\n"
    part = _curl_ok(imap_server, tmp_path, f"{imaps}/INBOX;UID=1;SECTION=1.1")
    assert part == b"Plain text."

    draft = tmp_path / "draft.eml"
    draft.write_bytes(message(1, "uploaded by curl"))
    _curl_ok(imap_server, tmp_path, f"{starttls}/Drafts", "--upload-file", str(draft))
    assert _curl_ok(imap_server, tmp_path, f"{imaps}/Drafts;UID=1") == draft.read_bytes()
    refused = _curl(imap_server, tmp_path, f"{imaps}/INBOX;UID=1", password="wrong")
    assert refused.returncode == 67  # CURLE_LOGIN_DENIED


# -- imap-tools ------------------------------------------------------------------------------

def test_imap_tools_everyday_flow(imap_server: RunningServer) -> None:
    imap_server.account(ADDRESS, PASSWORD)
    imap_server.deliver(ADDRESS, RICH)
    with MailBox(HOST, imap_server.ports["imaps"], ssl_context=_tls(imap_server)).login(
            ADDRESS, PASSWORD, initial_folder="INBOX") as mailbox:
        mailbox.append(message(2, "status report"), "INBOX", dt=None)
        fetched = list(mailbox.fetch(mark_seen=False))
        assert [m.subject for m in fetched] == ["Nested multiparts", "status report"]
        assert fetched[0].from_ == "ann@example.org"
        assert "data.bin" in [a.filename for a in fetched[0].attachments]
        assert fetched[0].size_rfc822 == len(RICH)
        assert mailbox.uids(AND(seen=False)) == ["1", "2"]

        mailbox.flag("1", MailMessageFlags.FLAGGED, True)
        mailbox.copy("1", "Archive")
        mailbox.move("2", "Archive")
        mailbox.folder.create("Clients/imap-tools")
        mailbox.folder.rename("Clients/imap-tools", "Clients/renamed")
        assert mailbox.folder.exists("Clients/renamed")
        assert not mailbox.folder.exists("Clients/imap-tools")
        mailbox.append(message(3, "draft"), "Clients/renamed", dt=None,
                       flag_set=[MailMessageFlags.DRAFT])
        assert mailbox.folder.status("Clients/renamed")["MESSAGES"] == 1
        mailbox.folder.set("INBOX")
        mailbox.delete(mailbox.uids())

        mailbox.idle.start()
        imap_server.deliver(ADDRESS, message(4, "arrived while idle"))
        responses = mailbox.idle.poll(timeout=30)
        mailbox.idle.stop()
        assert b"* 1 EXISTS" in responses
    with MailBoxStartTls(HOST, imap_server.ports["imap"], ssl_context=_tls(imap_server)
                         ).login(ADDRESS, PASSWORD) as mailbox:
        assert [m.subject for m in mailbox.fetch()] == ["arrived while idle"]
    held = server_messages(imap_server)
    assert held["Archive"] == {RICH_ID: {"\\Flagged"}, "<m2@example.org>": frozenset()}
    assert held["Clients/renamed"] == {"<m3@example.org>": {"\\Draft"}}
    assert held["INBOX"] == {"<m4@example.org>": {"\\Seen"}}
    # imaplib keeps the capabilities it saw before LOGIN (no MOVE there), so imap-tools
    # moves by COPY, \Deleted and EXPUNGE: the moved original is recoverable too.
    assert _recoverable(imap_server) == ["Nested multiparts", "status report"]


def test_imap_tools_searches_by_subject_sender_and_text(imap_server: RunningServer) -> None:
    imap_server.account(ADDRESS, PASSWORD)
    with MailBox(HOST, imap_server.ports["imaps"], ssl_context=_tls(imap_server)).login(
            ADDRESS, PASSWORD) as mailbox:
        mailbox.append(message(1, "status report", "numbers inside"), "INBOX", dt=None)
        mailbox.append(RICH, "INBOX", dt=None)
        assert mailbox.uids(AND(subject="report")) == ["1"]
        assert mailbox.uids(AND(from_="ann@example.org")) == ["1", "2"]
        assert mailbox.uids(AND(text="numbers")) == ["1"]


# -- fetchmail -------------------------------------------------------------------------------

def _fetchmail(server: RunningServer, home: Path, keep: str) -> subprocess.CompletedProcess[bytes]:
    """One poll over STARTTLS; each message to its own file in home/delivered."""
    delivered = home / "delivered"
    delivered.mkdir(parents=True, exist_ok=True)
    rc = home / "fetchmailrc"
    rc.write_text(
        f"poll {HOST} via 127.0.0.1 protocol imap service {server.ports['imap']}\n"
        f"  user '{ADDRESS}' password '{PASSWORD}'\n"
        f"  sslproto 'tls1.2+' sslcertck sslcertfile '{server.cert}' sslcommonname {HOST}\n"
        f"  {keep}\n"
        f"  mda 'cat > \"$(mktemp {delivered}/message.XXXXXX)\"'\n")
    rc.chmod(0o600)
    return run_client(["fetchmail", "-f", str(rc), "--nodetach", "--pidfile",
                       str(home / "fetchmail.pid")], home)


def _fetched(home: Path) -> list[bytes]:
    """What fetchmail handed its MDA, without the Received line it puts on top."""
    found = []
    for path in sorted((home / "delivered").iterdir()):
        lines = path.read_bytes().splitlines(keepends=True)
        assert lines[0].startswith(b"Received: from 127.0.0.1")
        rest = 1
        while lines[rest][:1] in (b" ", b"\t"):
            rest += 1
        found.append(b"".join(lines[rest:]))
        path.unlink()
    return found


@requires("fetchmail")
def test_fetchmail_keeps_then_fetches_nothing_new_then_deletes(
        imap_server: RunningServer, tmp_path: Path) -> None:
    imap_server.account(ADDRESS, PASSWORD)
    imap_server.deliver(ADDRESS, RICH)
    imap = signed_in(imap_server)
    imap.append("INBOX", message(2, "second"))
    imap.logout()

    first = _fetchmail(imap_server, tmp_path, "keep")
    assert first.returncode == 0, first.stderr
    assert sorted(_fetched(tmp_path)) == sorted([RICH.replace(b"\r\n", b"\n"),
                                                 message(2, "second").replace(b"\r\n", b"\n")])
    assert server_messages(imap_server)["INBOX"] == {RICH_ID: {"\\Seen"},
                                                     "<m2@example.org>": {"\\Seen"}}
    again = _fetchmail(imap_server, tmp_path, "keep")
    assert again.returncode == 1, again.stderr  # 1: no new mail
    assert _fetched(tmp_path) == []

    imap_server.deliver(ADDRESS, message(3, "third"))
    last = _fetchmail(imap_server, tmp_path, "fetchall nokeep")
    assert last.returncode == 0, last.stderr
    assert len(_fetched(tmp_path)) == 3
    assert server_messages(imap_server)["INBOX"] == {}
    assert _recoverable(imap_server) == ["Nested multiparts", "second", "third"]


# -- neomutt ---------------------------------------------------------------------------------

@requires("neomutt")
def test_neomutt_reads_a_message_and_moves_it(imap_server: RunningServer,
                                               tmp_path: Path) -> None:
    imap_server.account(ADDRESS, PASSWORD)
    imap_server.deliver(ADDRESS, RICH)  # dated 2024: the first entry sorted by date
    imap = signed_in(imap_server)
    imap.append("INBOX", message(1, "newer"))
    imap.logout()
    home = tmp_path / "home"
    home.mkdir()
    read = home / "read.eml"
    muttrc = home / "muttrc"
    muttrc.write_text(
        f'set folder="imaps://{ADDRESS.replace("@", "%40")}@{HOST}:'
        f'{imap_server.ports["imaps"]}/"\n'
        f'set spoolfile="+INBOX"\nset imap_pass="{PASSWORD}"\n'
        f'set ssl_ca_certificates_file="{imap_server.cert}"\nset ssl_force_tls=yes\n'
        f'set certificate_file="{home}/certificates"\nset header_cache="{home}/cache"\n'
        "set imap_condstore=yes\nset sort=date\nset pipe_decode=no\nset wait_key=no\n"
        "set mark_old=no\n"
        "set confirmappend=no\nset delete=yes\nset move=no\nset quit=yes\nset record=\"\"\n")
    keys = (f"<first-entry><display-message><exit><pipe-message>cat > {read}<enter>"
            "<save-message>=Archive<enter><sync-mailbox><quit>")
    code, screen = run_on_terminal(["neomutt", "-n", "-F", str(muttrc), "-e",
                                    f'push "{keys}"'], home)
    assert code == 0, screen
    assert read.read_bytes() == RICH.replace(b"\r\n", b"\n")
    held = server_messages(imap_server)
    assert held["INBOX"] == {"<m1@example.org>": frozenset()}
    assert held["Archive"] == {RICH_ID: {"\\Seen"}}


# -- IMAPClient: what test_imap_clients.py leaves out ------------------------------------------

def test_imapclient_over_imaps_idles_through_another_clients_flag_and_move(
        imap_server: RunningServer) -> None:
    imap_server.account(ADDRESS, PASSWORD)
    imap_server.deliver(ADDRESS, RICH)
    other = signed_in(imap_server)
    other.append("INBOX", message(2, "second"))
    watcher = IMAPClient(HOST, port=imap_server.ports["imaps"], ssl_context=_tls(imap_server),
                         timeout=30)
    watcher.login(ADDRESS, PASSWORD)
    assert watcher.enable("CONDSTORE") == [b"CONDSTORE"]
    before = watcher.select_folder("INBOX")[b"HIGHESTMODSEQ"]
    watcher.idle()
    other.select_folder("INBOX")
    other.add_flags([2], [b"\\Flagged"])
    other.move([1], "Archive")
    other.logout()
    seen: list[tuple[object, ...]] = []
    deadline = time.monotonic() + 30
    while (1, b"EXPUNGE") not in seen or not any(b"FETCH" in row for row in seen):
        assert time.monotonic() < deadline, seen
        seen += [tuple(row) for row in watcher.idle_check(timeout=1)]
    watcher.idle_done()
    flagged = next(row for row in seen if row[1] == b"FETCH")
    assert b"\\Flagged" in flagged[2][flagged[2].index(b"FLAGS") + 1]
    assert b"MODSEQ" in flagged[2]  # CONDSTORE is on: unsolicited FETCH carries MODSEQ
    changed = watcher.fetch([1, 2], ["FLAGS"], modifiers=[f"CHANGEDSINCE {before}"])
    assert list(changed) == [2] and b"\\Flagged" in changed[2][b"FLAGS"]
    watcher.logout()


def test_serve_stops_cleanly_while_an_imaps_client_stays_connected(
        imap_server: RunningServer) -> None:
    """A client that keeps its TLS connection open and never answers the server's
    close_notify (RFC 8446 §6.1 does not require waiting for it) must not hold up
    `serve` on SIGTERM: it used to wait asyncio's 30 s SSL shutdown timeout and be killed."""
    imap_server.account(ADDRESS, PASSWORD)
    silent = IMAPClient(HOST, port=imap_server.ports["imaps"], ssl_context=_tls(imap_server),
                        timeout=30)
    silent.login(ADDRESS, PASSWORD)
    silent.select_folder("INBOX")
    assert imap_server.stop() == 0  # not -9: killed after 15 s of waiting
    silent.shutdown()
