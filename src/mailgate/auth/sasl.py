"""Server-side SASL mechanisms, sans-IO, shared by the POP3, IMAP and SMTP doors.

A mechanism object runs one exchange. The door calls `start()` with the initial response of
its AUTH command (or None when there was none), then `respond()` with each client line, until a
`Credentials` comes back. Server challenges come back as `Challenge` (raw bytes; the door
base64-encodes them into its own continuation syntax). Anything wrong with the exchange raises
`SaslError` (or `SaslCancelled` when the client sent "*"); its message is safe to show clients.

Responses are the base64 text of the client's line; an initial response of "=" means an empty
one (RFC 4954, RFC 5034). `MECHANISMS` is the registry a door offers from.

The bearer-token mechanisms (OAUTHBEARER, RFC 7628, and XOAUTH2) end a failed exchange in two
steps: when the gate refuses the token the door asks `refused()` for an error challenge (JSON
with a status and the scope the door needs), sends it, and the client answers with a dummy
response (`\x01` for OAUTHBEARER, empty for XOAUTH2); `respond()` then returns `Rejected`
and the door sends its usual refusal.
"""

from __future__ import annotations

import base64
import binascii
import json
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


@dataclass(frozen=True, slots=True)
class Rejected:
    """The client acknowledged the error challenge: the door now sends its refusal."""


Step = Challenge | Credentials | Rejected


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
        self._done = not isinstance(step, Challenge)
        return step

    def refused(self, status: str, scope: str) -> Challenge | None:
        """The gate refused the credentials: an error challenge to send before the door's
        refusal, or None to refuse at once (every mechanism but the bearer-token ones)."""
        return None

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


class _BearerMechanism(ServerMechanism):
    """What OAUTHBEARER and XOAUTH2 share: the token in one response, the JSON error."""

    def __init__(self) -> None:
        super().__init__()
        self._failing = False

    def _first_challenge(self) -> Challenge:
        return Challenge(b"")

    def refused(self, status: str, scope: str) -> Challenge:
        self._done, self._failing = False, True
        return Challenge(json.dumps({"status": status, "scope": scope},
                                    separators=(",", ":")).encode())

    def _step(self, data: bytes) -> Step:
        if self._failing:  # the dummy response ("\x01", or empty for XOAUTH2) or anything else
            return Rejected()
        return self._credentials(data)

    @abstractmethod
    def _credentials(self, data: bytes) -> Credentials:
        """The user name (may be empty: the token names the account) and the token."""


def _kvpairs(text: str, mechanism: str) -> dict[str, str]:
    """`key=value\x01` pairs ending with an empty one: "k=v\x01k=v\x01\x01"."""
    if not text.endswith("\x01\x01"):
        raise SaslError(f"{mechanism} response must end with two ^A separators")
    pairs: dict[str, str] = {}
    for pair in text[:-2].split("\x01"):
        key, equals, value = pair.partition("=")
        if not equals or not key.isascii() or not key.isalpha():
            raise SaslError(f"{mechanism} response has a malformed key=value pair")
        if key in pairs:
            raise SaslError(f"{mechanism} response repeats the key {key[:20]}")
        pairs[key] = value
    return pairs


def _bearer_token(pairs: dict[str, str], mechanism: str) -> str:
    scheme, _, token = pairs.get("auth", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SaslError(f"{mechanism} needs auth=Bearer <token>")
    return token.strip()


def _saslname(text: str) -> str:
    """RFC 5801 saslname: "," and "=" are written =2C and =3D; any other "=" is invalid."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "=":
            code = text[i + 1:i + 3]
            if code not in ("2C", "3D"):
                raise SaslError("OAUTHBEARER authzid has an invalid =XX escape")
            out.append("," if code == "2C" else "=")
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class OAuthBearer(_BearerMechanism):
    """OAUTHBEARER (RFC 7628): GS2 header "n,a=user,", then host/port/auth pairs."""

    name = "OAUTHBEARER"

    def _credentials(self, data: bytes) -> Credentials:
        text = _utf8(data, "OAUTHBEARER response")
        if "\0" in text:
            raise SaslError("OAUTHBEARER responses must not contain NUL")
        flag, sep, rest = text.partition(",")
        if not sep or flag not in ("n", "y"):
            raise SaslError("OAUTHBEARER needs a GS2 header without channel binding "
                            '("n,a=user,")')
        authzid, sep, rest = rest.partition(",")
        if not sep or (authzid and not authzid.startswith("a=")):
            raise SaslError("OAUTHBEARER GS2 header is malformed")
        if not rest.startswith("\x01"):
            raise SaslError("OAUTHBEARER GS2 header must be followed by ^A")
        pairs = _kvpairs(rest[1:], self.name)
        return Credentials(_saslname(authzid[2:]), _bearer_token(pairs, self.name))


class XOAuth2(_BearerMechanism):
    """XOAUTH2 (Google's): "user=ADDRESS^Aauth=Bearer TOKEN^A^A"."""

    name = "XOAUTH2"

    def _credentials(self, data: bytes) -> Credentials:
        text = _utf8(data, "XOAUTH2 response")
        if "\0" in text:
            raise SaslError("XOAUTH2 responses must not contain NUL")
        pairs = _kvpairs(text, self.name)
        return Credentials(pairs.get("user", ""), _bearer_token(pairs, self.name))


#: name -> mechanism class; every door offers these, in this order.
MECHANISMS: dict[str, type[ServerMechanism]] = {
    "PLAIN": Plain, "LOGIN": Login, "OAUTHBEARER": OAuthBearer, "XOAUTH2": XOAuth2}

#: the mechanisms whose secret is an OAuth access token (method `oauth` at the gate)
TOKEN_MECHANISMS = frozenset({"OAUTHBEARER", "XOAUTH2"})


def create_mechanism(name: str) -> ServerMechanism | None:
    """A fresh exchange for a mechanism name (case-insensitive), or None if not offered."""
    mechanism = MECHANISMS.get(name.upper())
    return mechanism() if mechanism is not None else None
