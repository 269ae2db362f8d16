"""What the SMTP door tests share: a server with every SMTP listener, and reading mail back."""

from __future__ import annotations

import imaplib
import socket
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from live_server import RunningServer, start_server

LISTENERS = ("imap", "submission", "submissions", "smtp", "lmtp", "http")
TRACE_FIELDS = (b"Return-Path:", b"Authentication-Results:", b"Received:")


def serving(data: Path, extra_env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """A server for one test module; it must stop cleanly with no traceback logged."""
    running = start_server(data, LISTENERS, extra_env)
    yield running
    running.stop_cleanly()


def at_once(*calls: tuple[Any, ...]) -> list[Any]:
    """Run independent CLI steps `(function, *args)` side by side (each is a process that
    mostly starts up); their results in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(call[0], *call[1:]) for call in calls]]


def tls(server: RunningServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.cert))


def message(sender: str, to: str, subject: str, body: str = "Hello.\r\n") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.test>\r\n\r\n{body}").encode()


def mailbox(server: RunningServer, address: str, password: str, folder: str = "INBOX"
            ) -> list[bytes]:
    """Every message of a folder, as IMAP serves it."""
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    try:
        client.login(address, password)
        client.select(f'"{folder}"', readonly=True)
        _, found = client.uid("SEARCH", "ALL")
        uids = found[0].split()
        if not uids:
            return []
        _, data = client.uid("FETCH", b",".join(uids).decode(), "(BODY.PEEK[])")
        return [part[1] for part in data if isinstance(part, tuple)]
    finally:
        client.logout()


def split_trace(stored: bytes) -> tuple[list[bytes], bytes]:
    """(the trace header fields on top, the message below them)."""
    fields: list[bytes] = []
    rest = stored
    while rest.startswith(TRACE_FIELDS):
        end = rest.index(b"\r\n")
        while rest[end + 2:end + 3] in (b" ", b"\t"):  # folded continuation lines
            end = rest.index(b"\r\n", end + 2)
        fields.append(rest[:end + 2])
        rest = rest[end + 2:]
    return fields, rest


class Conversation:
    """A raw SMTP/LMTP connection, for input no client library would send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> list[str]:
        """One whole reply (every line of a multi-line one)."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if line[3:4] != b"-":
                return lines

    def command(self, line: bytes) -> str:
        self.send(line + b"\r\n")
        return self.reply()[-1]

    def close(self) -> None:
        self.file.close()
        self.sock.close()
