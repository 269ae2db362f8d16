"""A small raw IMAP client for the scripted tests, and the setup before each group.

`Connection` speaks IMAP over one socket: it pipelines commands (each is written at once; a
literal is sent as LITERAL+ when the server offers it, else after the server's `+`), reads
replies with their literals, and tracks what the runner needs (message count, capabilities,
BYE). `prepare` does imaptest's setup: log in, check capabilities, delete every mailbox
matching `imaptest*`, create `imaptest`, APPEND the group's messages and select it, as far as
the group's `state:` asks.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from imaptest.script import MboxMessage, Script, StartState
from imaptest.tokens import Arg, ArgSyntaxError, Kind, Line, Literal, parse_args, show_text

MAILBOX = "imaptest"
TRACE_LINES = 80
_LITERAL_END = re.compile(r"(~?)\{(\d+)\+?\}$")
_CAPABILITY_CODE = re.compile(r"\[CAPABILITY ([^\]]*)\]", re.I)
_STATUS = frozenset({"OK", "NO", "BAD", "BYE", "PREAUTH"})


class ProtocolError(Exception):
    """The server said something a client cannot go on from."""


class SetupError(Exception):
    """A setup command (LOGIN, LIST, DELETE, CREATE, APPEND, SELECT) did not succeed."""


def quote(text: str) -> str:
    """An IMAP quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Response:
    """One server reply: tag (`*`, `+` or a command's tag) and the arguments after it."""

    tag: str
    args: tuple[Arg, ...]
    text: str  # the reply's text without literal data, for capability codes and messages

    @property
    def name(self) -> str:
        """OK, EXISTS, FETCH, ... in upper case."""
        first = self.args[0].atom() if self.args else None
        if first is not None and first.isdigit() and len(self.args) > 1:
            first = self.args[1].atom()
        return (first or "").upper()

    @property
    def number(self) -> int | None:
        first = self.args[0].atom() if self.args else None
        return int(first) if first is not None and first.isdigit() else None


class Connection:
    """One IMAP connection of a group run (index 0 is the one imaptest calls `1`)."""

    def __init__(self, host: str, port: int, index: int, timeout: float,
                 tls: bool = False, trace: deque[str] | None = None) -> None:
        self.index = index
        self.timeout = timeout
        self.trace = trace if trace is not None else deque(maxlen=TRACE_LINES)
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.buffer = b""
        self.tags = 0
        self.exists = 0
        self.capabilities: set[str] = set()
        self.capabilities_seen = False
        self.seen_bye = False
        self.logout_sent = False
        self.closed = False
        self.mailbox = MAILBOX  # the last SELECTed/EXAMINEd name: where a bare `append` goes
        greeting = self.read(time.monotonic() + timeout)
        if greeting is None or greeting.tag != "*" or greeting.name not in ("OK", "PREAUTH"):
            raise ProtocolError("bad greeting: "
                                + (show_text(greeting.text[:200]) if greeting else "none"))
        self.greeting = greeting

    # -- wire

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _log(self, direction: str, text: str) -> None:
        self.trace.append(f"{direction}{self.index + 1}: {show_text(text[:300])}")

    def write(self, data: str) -> None:
        try:
            self.sock.sendall(data.encode("latin-1"))
        except OSError as exc:
            self.closed = True
            raise ProtocolError(f"connection {self.index + 1} lost while sending: {exc}") from exc

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionError, ssl.SSLError):
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buffer += chunk
        return True

    def _line(self, deadline: float) -> str | None:
        while b"\n" not in self.buffer:
            if not self._fill(deadline):
                return None
        raw, _, self.buffer = self.buffer.partition(b"\n")
        return raw.decode("latin-1").removesuffix("\r")

    def _bytes(self, size: int, deadline: float) -> str | None:
        while len(self.buffer) < size:
            if not self._fill(deadline):
                return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data.decode("latin-1")

    def read(self, deadline: float) -> Response | None:
        """The next reply, None when the server has closed the connection.
        Raises TimeoutError past the deadline and ProtocolError on an unparsable reply."""
        line = self._line(deadline)
        if line is None:
            return None
        self._log("S", line)
        parts: list[str | Literal] = []
        texts = []
        while (marker := _LITERAL_END.search(line)) is not None:
            parts.append(line[:marker.start()])
            texts.append(line[:marker.start()])
            data = self._bytes(int(marker[2]), deadline)
            if data is None:
                return None
            parts.append(Literal(data, binary=bool(marker[1])))
            line = self._line(deadline)
            if line is None:
                return None
            self._log("S", line)
        parts.append(line)
        texts.append(line)
        tag, _, rest = str(parts[0]).partition(" ")
        parts[0] = rest
        response = Response(tag, self._parse(tag, parts), " ".join(texts))
        self._observe(response)
        return response

    def _parse(self, tag: str, parts: list[str | Literal]) -> tuple[Arg, ...]:
        if tag == "+":
            return parse_args(parts, lenient=True)
        try:
            return parse_args(parts)
        except ArgSyntaxError as exc:
            first = str(parts[0]).split(" ", 1)[0].upper()
            if first in _STATUS:  # human-readable text may hold anything
                return parse_args(parts, lenient=True)
            raise ProtocolError(f"unparsable reply ({exc}): {show_text(str(parts[0])[:200])}") \
                from exc

    def _observe(self, response: Response) -> None:
        code = _CAPABILITY_CODE.search(response.text)
        if code and response.tag != "+":
            self._capabilities(code[1].split())
        if response.tag != "*":
            return
        name, number = response.name, response.number
        if name == "EXISTS" and number is not None:
            self.exists = number
        elif name == "EXPUNGE" and number is not None:
            self.exists = max(0, self.exists - 1)
        elif name == "VANISHED" and not (response.args[1:2]
                                          and response.args[1].kind is Kind.LIST):
            self.exists = max(0, self.exists - _set_size(response.args[-1].text))
        elif name == "BYE":
            self.seen_bye = True
        elif name == "CAPABILITY":
            self._capabilities([a.text for a in response.args[1:] if a.atom() is not None])

    def _capabilities(self, names: list[str]) -> None:
        self.capabilities = {n.upper() for n in names}
        self.capabilities_seen = True

    # -- commands

    def next_tag(self) -> str:
        self.tags += 1
        return f"{self.index + 1}.{self.tags}"

    def send(self, tag: str, line: Line, on_reply: Callable[[Response], None],
             deadline: float) -> None:
        """Write one command (line parts, literals included). Replies that arrive while
        waiting for a `+` go to on_reply; a tagged one ends the command early."""
        words = "".join(p for p in line if isinstance(p, str)).split(" ", 1)
        verb = words[0].upper()
        if verb in ("SELECT", "EXAMINE") and len(words) > 1:
            named = parse_args((words[1],), lenient=True)
            if named and named[0].is_astring:
                self.mailbox = named[0].text
        if verb == "LOGOUT":
            self.logout_sent = True
        plus = "LITERAL+" in self.capabilities
        out = [f"{tag} "]
        for part in line:
            if isinstance(part, str):
                out.append(part)
                continue
            out.append(f"{'~' if part.binary else ''}{{{len(part.data)}{'+' if plus else ''}}}\r\n")
            if not plus:
                self._flush(out)
                if not self._await_continuation(tag, on_reply, deadline):
                    return
            out.append(part.data)
        out.append("\r\n")
        self._flush(out)

    def _flush(self, out: list[str]) -> None:
        data = "".join(out)
        out.clear()
        for text in data.split("\r\n")[:-1] if data.endswith("\r\n") else [data]:
            self._log("C", text)
        self.write(data)

    def _await_continuation(self, tag: str, on_reply: Callable[[Response], None],
                            deadline: float) -> bool:
        while True:
            response = self.read(deadline)
            if response is None:
                raise ProtocolError(f"connection {self.index + 1} closed before '+'")
            if response.tag == "+":
                return True
            on_reply(response)
            if response.tag == tag:
                return False

    def call(self, line: Line, timeout: float | None = None) -> tuple[Response, list[Response]]:
        """Send one command and wait for its tagged reply: (tagged, untagged replies)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        untagged: list[Response] = []
        done: list[Response] = []

        def collect(response: Response) -> None:
            (done if response.tag == tag else untagged).append(response)

        tag = self.next_tag()
        self.send(tag, line, collect, deadline)
        while not done:
            response = self.read(deadline)
            if response is None:
                raise ProtocolError(f"connection {self.index + 1} closed during "
                                    f"{show_text(str(line[0])[:60])}")
            if response.tag == "+":
                raise ProtocolError(f"unexpected '+' to {show_text(str(line[0])[:60])}")
            collect(response)
        return done[0], untagged


def _set_size(uidset: str) -> int:
    total = 0
    for item in uidset.split(","):
        low, _, high = item.partition(":")
        if low.isdigit() and (not high or high.isdigit()):
            total += abs(int(high or low) - int(low)) + 1
    return total


# ---------------------------------------------------------------------------- messages

class MboxSource:
    """The group's messages in order, starting over after the last (as imaptest does)."""

    def __init__(self, messages: list[MboxMessage]) -> None:
        self.messages = messages
        self.position = 0
        self.wrapped = False

    def next(self) -> MboxMessage:
        message = self.messages[self.position]
        self.position += 1
        if self.position == len(self.messages):
            self.position, self.wrapped = 0, True
        return message


def append_line(source: MboxSource, mailbox: str, args: str | None) -> Line:
    """APPEND of the next mbox message: `append` alone goes to the selected mailbox with the
    message's internal date; `append ARGS` (no message data given) sends ARGS as they are."""
    message = source.next()
    if args is None:
        return (f"APPEND {quote(mailbox)} {quote(message.internaldate)} ", Literal(message.data))
    return (f"APPEND {args} ", Literal(message.data))


# ---------------------------------------------------------------------------- setup

def _expect_ok(conn: Connection, line: Line, allow_no: bool = False) -> list[Response]:
    tagged, untagged = conn.call(line)
    status = tagged.args[0].text.upper() if tagged.args else ""
    if status != "OK" and not (allow_no and status == "NO"):
        raise SetupError(f"{show_text(str(line[0])[:80])} -> {show_text(tagged.text[:200])}")
    return untagged


def _listed(replies: list[Response], name: str) -> Iterator[str]:
    for reply in replies:
        args = reply.args
        if reply.name == name and len(args) >= 4 and args[3].is_astring:
            yield args[3].text


def missing_capabilities(conn: Connection, script: Script) -> list[str]:
    return [c for c in script.capabilities if c.upper() not in conn.capabilities]


def prepare(conns: list[Connection], script: Script, source: MboxSource, user: str,
            password: str) -> str | None:
    """Bring the connections to the group's start state; return why the group is skipped
    (a missing capability or second user), None when it can run. A `user N:` header logs
    connection N in as that user (with the same password)."""
    first = conns[0]
    if script.state is StartState.NONAUTH:
        if not first.capabilities_seen:
            _expect_ok(first, ("CAPABILITY",))
        return _skip_reason(first, script)
    for conn in conns:
        conn.capabilities_seen = False
        login = script.users.get(conn.index + 1, user)
        _expect_ok(conn, (f"LOGIN {quote(login)} {quote(password)}",))
    if not first.capabilities_seen:
        _expect_ok(first, ("CAPABILITY",))
    reason = _skip_reason(first, script)
    if reason is not None:
        return reason
    pattern = quote(MAILBOX + "*")
    listed = sorted(set(_listed(_expect_ok(first, (f'LIST "" {pattern}',)), "LIST")),
                    key=str.lower, reverse=True)
    subscribed = sorted(set(_listed(_expect_ok(first, (f'LSUB "" {pattern}',)), "LSUB")),
                        key=str.lower, reverse=True)
    for name in listed:
        _expect_ok(first, (f"DELETE {quote(name)}",), allow_no=True)
    for name in subscribed:
        _expect_ok(first, (f"UNSUBSCRIBE {quote(name)}",), allow_no=True)
    if script.state >= StartState.CREATED:
        _expect_ok(first, (f"CREATE {quote(MAILBOX)}",))
    if script.state >= StartState.APPENDED:
        count = len(source.messages) if script.messages is None else script.messages
        for _ in range(count):
            _expect_ok(first, append_line(source, MAILBOX, None))
    if script.state >= StartState.SELECTED:
        for conn in conns:
            _expect_ok(conn, (f"SELECT {quote(MAILBOX)}",))
    return None


def _skip_reason(conn: Connection, script: Script) -> str | None:
    missing = missing_capabilities(conn, script)
    if missing:
        return "server lacks " + " ".join(missing)
    if script.needs_user2:
        return "needs a second user (header 'user N: $user2'), which the runner does not have"
    return None
