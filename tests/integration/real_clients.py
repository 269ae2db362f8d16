"""Helpers for driving installed mail clients (curl, mbsync, offlineimap, fetchmail,
neomutt) against a real `mailgate serve`: the account they sign in as, running a client
the way a user would (its own HOME, a time limit, full-screen ones on a pseudo-terminal),
and what the two sides hold afterwards (a local Maildir, the server's folders over IMAP)."""

from __future__ import annotations

import email.parser
import email.policy
import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient
from live_server import RunningServer

ADDRESS = "alice@example.test"
PASSWORD = "correct horse battery"  # spaces: every client's config must quote it
#: The certificate names localhost (and 127.0.0.1, which not every client checks).
HOST = "localhost"
#: Generous: two shared cores, and a client's own retries, should never fail a test.
CLIENT_TIMEOUT = 90.0

_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def requires(binary: str) -> pytest.MarkDecorator:
    """Skip a test when a Debian client is missing (.ci/run installs every one)."""
    return pytest.mark.skipif(shutil.which(binary) is None,
                              reason=f"{binary} is not installed (.ci/run installs it)")


def message(number: int, subject: str, body: str = "", *, date: str | None = None) -> bytes:
    """A small CRLF message whose Message-ID names it: <m{number}@example.org>."""
    sent = date or f"Tue, 01 Dec 2026 {10 + number % 10:02d}:00:00 +0000"
    return (f"From: Ann Example <ann@example.org>\r\nTo: {ADDRESS}\r\n"
            f"Subject: {subject}\r\nDate: {sent}\r\nMessage-ID: <m{number}@example.org>\r\n"
            f"\r\n{body or subject}\r\n").encode()


def message_id(raw: bytes) -> str:
    return str(_HEADERS.parsebytes(raw)["Message-ID"]).strip()


def client_env(home: Path) -> dict[str, str]:
    """A clean environment: the client reads only the configuration the test wrote."""
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def run_client(argv: list[str], home: Path) -> subprocess.CompletedProcess[bytes]:
    """Run a command-line client to its end; its output is bytes (messages are not text)."""
    return subprocess.run(argv, capture_output=True, timeout=CLIENT_TIMEOUT,
                          env=client_env(home))


def run_on_terminal(argv: list[str], home: Path) -> tuple[int, str]:
    """Run a full-screen client on a pseudo-terminal until it exits by itself; its exit
    code and everything it drew. Killed, and the test failed, past CLIENT_TIMEOUT."""
    env = {**client_env(home), "TERM": "vt100", "LINES": "40", "COLUMNS": "120"}
    terminal, child_side = pty.openpty()
    screen = bytearray()
    deadline = time.monotonic() + CLIENT_TIMEOUT
    with subprocess.Popen(argv, stdin=child_side, stdout=child_side, stderr=child_side,
                          env=env, start_new_session=True) as proc:
        os.close(child_side)
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([terminal], [], [], 0.5)
                if not ready:
                    if proc.poll() is not None:
                        break
                    continue
                try:
                    chunk = os.read(terminal, 65536)
                except OSError:  # EIO: the client closed its terminal
                    break
                if not chunk:
                    break
                screen += chunk
            else:
                proc.kill()
                raise AssertionError(f"{argv[0]} still running after {CLIENT_TIMEOUT}s: "
                                     f"{bytes(screen[-2000:])!r}")
            code = proc.wait(timeout=CLIENT_TIMEOUT)
        finally:
            os.close(terminal)
    return code, screen.decode(errors="replace")


def signed_in(server: RunningServer) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False, timeout=30)
    client.login(ADDRESS, PASSWORD)
    return client


Folders = dict[str, dict[str, frozenset[str]]]


def server_messages(server: RunningServer) -> Folders:
    """Every folder on the server: Message-ID -> stored flags (\\Recent, which belongs to a
    session, left out), read without changing anything."""
    found: Folders = {}
    client = signed_in(server)
    for flags, _, name in client.list_folders():
        if b"\\Noselect" in flags:
            continue
        client.select_folder(name, readonly=True)
        uids = client.search(["ALL"])
        rows = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) \
            if uids else {}
        found[name] = {message_id(row[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]):
                       frozenset(f.decode() for f in row[b"FLAGS"] if f != b"\\Recent")
                       for row in rows.values()}
    client.logout()
    return found


def server_marks(server: RunningServer) -> dict[str, tuple[int, ...]]:
    """Per folder: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and MESSAGES. Any change to a
    folder's messages (even one flag) moves HIGHESTMODSEQ."""
    items = [b"UIDVALIDITY", b"UIDNEXT", b"HIGHESTMODSEQ", b"MESSAGES"]
    client = signed_in(server)
    marks = {name: tuple(client.folder_status(name, items)[item] for item in items)
             for flags, _, name in client.list_folders() if b"\\Noselect" not in flags}
    client.logout()
    return marks


def maildir_flags(path: Path) -> frozenset[str]:
    """The flags of a Maildir file, from its name (…:2,FS) as IMAP flags."""
    _, _, info = path.name.partition(":2,")
    return frozenset(_MAILDIR_FLAGS[letter] for letter in info if letter in _MAILDIR_FLAGS)


_MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                  "T": "\\Deleted"}


def maildir_messages(root: Path) -> Folders:
    """Every Maildir folder under root (nested folders named with '/'):
    Message-ID -> flags."""
    found: Folders = {}
    for cur in sorted(root.rglob("cur")):
        folder = cur.parent
        files = [*cur.iterdir(), *(folder / "new").iterdir()]
        found[folder.relative_to(root).as_posix()] = {
            message_id(path.read_bytes()): maildir_flags(path) for path in files}
    return found


def maildir_files(root: Path) -> dict[str, bytes]:
    """Every file under root (state files included) and its content: equal before and
    after a run means the run changed nothing locally."""
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


def maildir_file(root: Path, folder: str, wanted: str) -> Path:
    """The one file of `folder` whose Message-ID is `wanted`."""
    matches = [path for sub in ("cur", "new") for path in (root / folder / sub).iterdir()
               if message_id(path.read_bytes()) == wanted]
    assert len(matches) == 1, (folder, wanted, matches)
    return matches[0]


def set_maildir_flags(path: Path, flags: str) -> Path:
    """What a mail reader does to flag a message: move it to cur/ with new info letters."""
    base = path.name.partition(":2,")[0]
    moved = path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(flags))}"
    path.rename(moved)
    return moved


def add_maildir_message(root: Path, folder: str, raw: bytes) -> None:
    """What a local mail program does to file a new message (LF line ends, in new/)."""
    for sub in ("cur", "new", "tmp"):
        (root / folder / sub).mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}.{os.getpid()}.test"
    (root / folder / "tmp" / name).write_bytes(raw.replace(b"\r\n", b"\n"))
    (root / folder / "tmp" / name).rename(root / folder / "new" / name)
