"""A raw IMAP client over a plain socket, for tests that must send what no client library
would (garbage, wrong literals, wrong states) and see every octet the server answers."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from live_server import RunningServer

_TAGGED = re.compile(rb"^([^\s*+]+) (OK|NO|BAD)\b", re.MULTILINE)


@dataclass
class Reply:
    """What the server sent up to (and including) a tagged response, or up to its close."""

    data: bytes
    closed: bool = False

    def tagged(self, tag: bytes) -> list[bytes]:
        """The tagged status lines for `tag` ("OK ...", "NO ...", "BAD ...")."""
        return [line[len(tag) + 1:] for line in self.data.split(b"\r\n")
                if line.startswith(tag + b" ") and line[len(tag) + 1:].startswith(
                    (b"OK", b"NO", b"BAD"))]

    def status(self, tag: bytes) -> bytes:
        """The one status word of `tag`'s tagged response."""
        found = self.tagged(tag)
        assert len(found) == 1, self.data
        return found[0].split(b" ", 1)[0]


class RawImap:
    """One connection; `command` sends octets and reads until the tag is answered."""

    def __init__(self, server: RunningServer, *, timeout: float = 15.0,
                 receive_buffer: int | None = None) -> None:
        sock = socket.socket()
        if receive_buffer is not None:  # before connecting, so the window stays small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", server.ports["imap"]))
        self.sock = sock
        self.pending = bytearray()
        self.greeting = self.line()
        assert self.greeting.startswith(b"* OK"), self.greeting

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        """One line (CRLF included); b"" once the server closed the connection."""
        end = self.pending.find(b"\r\n")
        while end == -1:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                rest, self.pending = self.pending, bytearray()
                return bytes(rest)
            searched = max(0, len(self.pending) - 1)
            self.pending += chunk
            end = self.pending.find(b"\r\n", searched)
        line = bytes(self.pending[:end + 2])
        del self.pending[:end + 2]
        return line

    def until_tagged(self, tag: bytes) -> Reply:
        seen: list[bytes] = []
        while True:
            line = self.line()
            if not line:
                return Reply(b"".join(seen), closed=True)
            seen.append(line)
            if line.startswith(tag + b" ") and line[len(tag) + 1:].startswith(
                    (b"OK", b"NO", b"BAD")):
                return Reply(b"".join(seen))

    def command(self, tag: bytes, text: bytes) -> Reply:
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tagged(tag)

    def login(self, address: str, password: str) -> None:
        reply = self.command(b"L", b'LOGIN "' + address.encode() + b'" "' +
                             password.encode() + b'"')
        assert reply.status(b"L") == b"OK", reply.data

    def until_closed(self) -> bytes:
        """Everything until the server closes the connection."""
        seen: list[bytes] = []
        while line := self.line():
            seen.append(line)
        return b"".join(seen)

    def close(self) -> None:
        self.sock.close()


def tagged_lines(data: bytes) -> list[tuple[bytes, bytes]]:
    """(tag, status) of every tagged response in `data`, in order."""
    return [(match[1], match[2]) for match in _TAGGED.finditer(data)]
