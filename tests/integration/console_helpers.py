"""What the console tests share: one real `mailgate serve` with staff of every role, signing
a browser page in, and an IMAP client left in IDLE in a thread."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from live_server import RunningServer, start_server

DOMAIN = "example.org"
STAFF = {"help": "helpdesk", "admin": "admin", "phys": "dept-admin"}


def address(who: str) -> str:
    return f"{who}@{DOMAIN}"


def password(who: str) -> str:
    return f"pw-{who}-correct-horse"


def console_server(data: Path) -> RunningServer:
    """A server with IMAP, POP3 and HTTP, department Physics, and staff of every role:
    help (helpdesk), admin, phys (dept-admin of Physics), and a plain user."""
    server = start_server(data, ("imap", "pop3", "http"))
    server.cli("department", "create", "Physics")
    for who in (*STAFF, "user"):
        server.account(address(who), password(who), "--name", who.title())
    for who, role in STAFF.items():
        extra = ("--department", "Physics") if role == "dept-admin" else ()
        server.cli("role", "grant", address(who), role, *extra)
    return server


def base(server: RunningServer) -> str:
    return f"http://127.0.0.1:{server.ports['http']}"


def sign_in(page, server: RunningServer, who: str, path: str = "/console") -> None:  # type: ignore[no-untyped-def]
    """Open `path` in the console; the sign-in page comes first and leads back to it."""
    page.goto(base(server) + path)
    assert "/signin" in page.url
    page.fill("#address", address(who))
    page.fill("#password", password(who))
    page.click("button[type=submit]")
    page.wait_for_load_state()


def door(server: RunningServer, who: str, protocol: str) -> dict[str, object]:
    shown = json.loads(server.cli("account", "show", address(who), "--json").stdout)
    return dict(shown["protocols"][protocol])


@dataclass
class IdleClient:
    """An IMAP client signed in, INBOX selected, in IDLE in a thread that notes when the
    server's BYE arrives."""

    server: RunningServer
    who: str
    lines: list[bytes] = field(default_factory=list)
    bye_at: float | None = None
    _sock: socket.socket | None = None

    def start(self) -> None:
        self._sock = socket.create_connection(("127.0.0.1", self.server.ports["imap"]),
                                              timeout=15)
        self._reader = self._sock.makefile("rb")
        self._reader.readline()
        for tag, command in ((b"a", f'LOGIN {address(self.who)} "{password(self.who)}"'),
                             (b"b", "SELECT INBOX")):
            self._sock.sendall(tag + b" " + command.encode() + b"\r\n")
            while not (line := self._reader.readline()).startswith(tag + b" "):
                assert line, "the server closed the connection"
            assert line.startswith(tag + b" OK"), line
        self._sock.sendall(b"c IDLE\r\n")
        assert self._reader.readline().startswith(b"+")
        self._sock.settimeout(None)  # IDLE waits as long as the server lets it
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        try:
            while line := self._reader.readline():
                self.lines.append(line)
                if line.startswith(b"* BYE"):
                    self.bye_at = time.monotonic()
        except (OSError, ValueError):  # closed by `close`
            pass

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def close(self) -> None:
        """Hang up (the file object holds the socket open too: both are closed)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._reader.close()
            self._sock.close()
