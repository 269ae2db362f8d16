"""Server-side SASL mechanisms, sans-IO, shared by the POP3, IMAP and SMTP doors.

A mechanism object runs one exchange. The door calls `start()` with the initial response of
its AUTH command (or None when there was none), then `respond()` with each client line, until a
`Credentials` comes back. Server challenges come back as `Challenge` (raw bytes; the door
base64-encodes them into its own continuation syntax). Anything wrong with the exchange raises
`SaslError` (or `SaslCancelled` when the client sent "*"); its message is safe to show clients.

Responses are the base64 text of the client's line; an initial response of "=" means an empty
one (RFC 4954, RFC 5034). `MECHANISMS` is the registry a door offers from: OAUTHBEARER and
XOAUTH2 plug in there.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar


class SaslError(Exception):
    """The exchange failed on the client's side (bad syntax, bad encoding)."""


class SaslCancelled(SaslError):
    """The client cancelled the exchange with "*"."""

    def __init__(self) -> None:
        super().__init__("authentication cancelled")


@dataclass(frozen=True, slots=True)
class Challenge:
    """A server challenge to send to the client (raw bytes, before base64)."""

    data: bytes

    def encoded(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True, slots=True)
class Credentials:
    """The outcome of a completed exchange, for the gate to check."""

    username: str
    secret: str


Step = Challenge | Credentials


def decode_response(text: str, *, initial: bool = False) -> bytes:
    """The bytes of one base64 client response; "*" cancels; "=" is empty when initial."""
    if text == "*":
        raise SaslCancelled()
    if initial and text == "=":
        return b""
    try:
        if len(text) % 4:  # b64decode tolerates stray padding such as "YWJj="
            raise binascii.Error
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise SaslError("invalid base64 in the authentication response") from None


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SaslError(f"the {what} is not valid UTF-8") from None


class ServerMechanism(ABC):
    """One SASL exchange on the server side."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self._done = False

    def start(self, initial_response: str | None) -> Step:
        """Begin the exchange, with the AUTH command's initial response if it had one."""
        if initial_response is None:
            return self._finish(self._first_challenge())
        return self._finish(self._step(decode_response(initial_response, initial=True)))

    def respond(self, response: str) -> Step:
        """Take the client's answer to the last challenge."""
        if self._done:
            raise RuntimeError(f"the {self.name} exchange is already finished")
        return self._finish(self._step(decode_response(response)))

    def _finish(self, step: Step) -> Step:
        self._done = isinstance(step, Credentials)
        return step

    @abstractmethod
    def _first_challenge(self) -> Challenge:
        """The challenge sent when the client gave no initial response."""

    @abstractmethod
    def _step(self, data: bytes) -> Step:
        """Consume one decoded client response."""


class Plain(ServerMechanism):
    """PLAIN (RFC 4616): authzid NUL authcid NUL passwd, in one response."""

    name = "PLAIN"

    def _first_challenge(self) -> Challenge:
        return Challenge(b"")

    def _step(self, data: bytes) -> Step:
        parts = data.split(b"\0")
        if len(parts) != 3:
            raise SaslError("PLAIN expects authzid, authcid and password separated by NUL")
        authzid, authcid, passwd = (_utf8(part, "PLAIN response") for part in parts)
        if not authcid or not passwd:
            raise SaslError("PLAIN needs a user name and a password")
        if authzid and authzid != authcid:
            raise SaslError("signing in as another user is not permitted")
        return Credentials(authcid, passwd)


class Login(ServerMechanism):
    """LOGIN (de-facto): "Username:" then "Password:", one base64 answer each."""

    name = "LOGIN"

    def __init__(self) -> None:
        super().__init__()
        self._username: str | None = None

    def _first_challenge(self) -> Challenge:
        return Challenge(b"Username:")

    def _step(self, data: bytes) -> Step:
        if b"\0" in data:
            raise SaslError("LOGIN responses must not contain NUL")
        if self._username is None:
            username = _utf8(data, "user name")
            if not username:
                raise SaslError("LOGIN needs a user name")
            self._username = username
            return Challenge(b"Password:")
        return Credentials(self._username, _utf8(data, "password"))


#: name -> mechanism class; every door offers these, in this order.
MECHANISMS: dict[str, type[ServerMechanism]] = {"PLAIN": Plain, "LOGIN": Login}


def create_mechanism(name: str) -> ServerMechanism | None:
    """A fresh exchange for a mechanism name (case-insensitive), or None if not offered."""
    mechanism = MECHANISMS.get(name.upper())
    return mechanism() if mechanism is not None else None
