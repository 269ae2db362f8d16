"""Two-way sync clients against a real `mailgate serve`: mbsync (isync) over STARTTLS and
offlineimap over imaps, each with several folders changed on both sides, then run again
to show that a sync with nothing new changes nothing on either side."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_server import RunningServer
from real_clients import (
    ADDRESS,
    HOST,
    PASSWORD,
    add_maildir_message,
    maildir_file,
    maildir_files,
    maildir_messages,
    message,
    requires,
    run_client,
    server_marks,
    server_messages,
    set_maildir_flags,
    signed_in,
)

from support import FIXTURES


def rich_message() -> bytes:
    """Nested multiparts, a raw UTF-8 header, a 998-octet line and a 200 kB attachment."""
    nested = (FIXTURES / "mime" / "nested-multipart.eml").read_bytes().replace(b"\n", b"\r\n")
    header, _, body = nested.partition(b"\r\n\r\n")
    attachment = base64.encodebytes(random.Random(7).randbytes(150_000)).replace(b"\n", b"\r\n")
    extra = (b"--outer\r\nContent-Type: application/octet-stream; name=blob.bin\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n" + attachment)
    body = body.replace(b"--outer--", extra + b"--outer--")
    return (header + "\r\nX-Note: Grüße aus Köln\r\nX-Long: ".encode() + b"x" * 990 +
            b"\r\n\r\n" + body)


RICH = rich_message()
M2, M3, M4 = message(2, "lunch"), message(3, "plan 2026"), message(4, "arrived later")
M5, M6 = message(5, "deleted on the server"), message(6, "written offline")


def _unchanged(raw: bytes) -> bytes:
    return raw


def _without_tuid(raw: bytes) -> bytes:
    """mbsync marks the copies it writes, on both sides, with an X-TUID header."""
    lines = raw.splitlines(keepends=True)
    return b"".join(line for line in lines if not line.startswith(b"X-TUID: "))


def _as_offlineimap_writes(raw: bytes) -> bytes:
    """offlineimap parses each message it downloads and writes what Python's email
    package generates from it (the same policy as offlineimap's "8bit" one)."""
    policy = email.policy.default.clone(cte_type="8bit", utf8=True, refold_source="none")
    return email.parser.BytesParser(policy=policy).parsebytes(raw).as_bytes(policy=policy)


@dataclass(frozen=True)
class SyncClient:
    """How to run one sync client: write its configuration for a server and a local
    Maildir (nested folders as nested directories), and the command that syncs."""

    binary: str
    configure: Callable[[RunningServer, Path, Path], list[str]]
    #: A copy the client wrote (either side) without the client's own marks.
    unmarked: Callable[[bytes], bytes] = _unchanged
    #: What the client writes locally for a message the server sends byte for byte.
    local_form: Callable[[bytes], bytes] = _unchanged


def _mbsync(server: RunningServer, home: Path, root: Path) -> list[str]:
    config = home / "mbsyncrc"
    config.write_text(
        f"IMAPAccount mailgate\nHost {HOST}\nPort {server.ports['imap']}\nUser {ADDRESS}\n"
        f'Pass "{PASSWORD}"\nSSLType STARTTLS\nCertificateFile {server.cert}\n\n'
        "IMAPStore server\nAccount mailgate\n\n"
        f"MaildirStore local\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n"
        "Channel mail\nFar :server:\nNear :local:\nPatterns *\nCreate Both\n"
        "Expunge Both\nSyncState *\n")
    return ["mbsync", "-c", str(config), "--all"]


def _offlineimap(server: RunningServer, home: Path, root: Path) -> list[str]:
    config = home / "offlineimaprc"
    config.write_text(
        f"[general]\naccounts = mailgate\nmetadata = {home}/metadata\n\n"
        "[Account mailgate]\nlocalrepository = local\nremoterepository = server\n\n"
        f"[Repository local]\ntype = Maildir\nlocalfolders = {root}\nsep = /\n\n"
        f"[Repository server]\ntype = IMAP\nremotehost = {HOST}\n"
        f"remoteport = {server.ports['imaps']}\nremoteuser = {ADDRESS}\n"
        f"remotepass = {PASSWORD}\nssl = yes\nsslcacertfile = {server.cert}\n")
    return ["offlineimap", "-c", str(config), "-o", "-u", "basic"]


CLIENTS = [
    pytest.param(SyncClient("mbsync", _mbsync, unmarked=_without_tuid), id="mbsync",
                 marks=requires("mbsync")),
    pytest.param(SyncClient("offlineimap", _offlineimap, local_form=_as_offlineimap_writes),
                 id="offlineimap", marks=requires("offlineimap")),
]


def _sync(client: SyncClient, argv: list[str], home: Path) -> None:
    done = run_client(argv, home)
    said = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, f"{client.binary}: {said}"
    assert "error" not in said.lower(), said


def _server_copy(server: RunningServer, folder: str, wanted: bytes) -> bytes:
    imap = signed_in(server)
    imap.select_folder(folder, readonly=True)
    bodies = [row[b"BODY[]"] for row in imap.fetch(imap.search(["ALL"]),
                                                    ["BODY.PEEK[]"]).values()]
    imap.logout()
    found = [body for body in bodies if wanted in body.split(b"\r\n\r\n", 1)[0]]
    assert len(found) == 1, (folder, wanted, len(bodies))
    return found[0]


@pytest.mark.parametrize("client", CLIENTS)
def test_two_way_sync_of_several_folders_then_a_sync_that_changes_nothing(
        client: SyncClient, imap_server: RunningServer, tmp_path: Path) -> None:
    imap_server.account(ADDRESS, PASSWORD)
    imap_server.deliver(ADDRESS, RICH)
    imap = signed_in(imap_server)
    for raw in (M2, M5):
        imap.append("INBOX", raw)
    imap.create_folder("Projects/2026")
    imap.append("Projects/2026", M3)
    imap.logout()
    home, root = tmp_path / "home", tmp_path / "home" / "Mail"
    root.mkdir(parents=True)
    argv = client.configure(imap_server, home, root)

    _sync(client, argv, home)
    assert maildir_messages(root) == server_messages(imap_server)
    assert maildir_messages(root)["Projects/2026"] == {"<m3@example.org>": frozenset()}
    rich = maildir_file(root, "INBOX", "<nested@example.org>")
    local = client.unmarked(rich.read_bytes())
    assert local == client.local_form(RICH.replace(b"\r\n", b"\n"))

    # Offline, the user files a new message, flags one and deletes another...
    add_maildir_message(root, "Local Notes", M6)
    set_maildir_flags(rich, "FS")
    maildir_file(root, "INBOX", "<m2@example.org>").unlink()
    # ... while mail arrives, another client answers one and deletes one.
    imap_server.deliver(ADDRESS, M4)
    imap = signed_in(imap_server)
    imap.select_folder("Projects/2026")
    imap.add_flags(imap.search(["ALL"]), [b"\\Answered"])
    imap.select_folder("INBOX")
    envelopes = imap.fetch(imap.search(["ALL"]), ["ENVELOPE"])
    imap.delete_messages([uid for uid, row in envelopes.items()
                          if row[b"ENVELOPE"].subject == b"deleted on the server"])
    imap.expunge()
    imap.logout()

    _sync(client, argv, home)
    on_server = server_messages(imap_server)
    assert maildir_messages(root) == on_server
    assert on_server["INBOX"] == {"<nested@example.org>": {"\\Seen", "\\Flagged"},
                                  "<m4@example.org>": frozenset()}
    assert on_server["Projects/2026"] == {"<m3@example.org>": {"\\Answered"}}
    assert on_server["Local Notes"] == {"<m6@example.org>": frozenset()}
    uploaded = _server_copy(imap_server, "Local Notes", b"<m6@example.org>")
    assert client.unmarked(uploaded) == M6
    recoverable = json.loads(imap_server.cli("recover", "list", ADDRESS, "--json").stdout)
    assert sorted(item["subject"] for item in recoverable) == ["deleted on the server",
                                                               "lunch"]

    files, marks = maildir_files(root), server_marks(imap_server)
    _sync(client, argv, home)
    assert server_marks(imap_server) == marks
    assert maildir_files(root) == files


@requires("mbsync")
def test_mbsync_shows_the_user_why_the_door_is_closed(imap_server: RunningServer,
                                                      tmp_path: Path) -> None:
    """mbsync prints the server's refusal verbatim (SPEC §5): it must read well alone."""
    imap_server.cli("department", "create", "Physics")
    imap_server.account(ADDRESS, PASSWORD, "--department", "Physics")
    imap_server.cli("department", "policy", "Physics", "imap", "deny")
    home, root = tmp_path / "home", tmp_path / "home" / "Mail"
    root.mkdir(parents=True)
    done = run_client(_mbsync(imap_server, home, root), home)
    assert done.returncode == 1
    assert ("NO [CONTACTADMIN] ProtocolDisabled: IMAP is turned off for this account by the "
            "policy of department Physics. Contact the help desk.\n") in done.stderr.decode()
    assert list(root.iterdir()) == []
