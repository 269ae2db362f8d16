"""Received bytes framed into whole IMAP commands, literals included (RFC 9051 §4.3, RFC 7888).

A command is one or more CRLF-terminated lines; a line ending in a literal marker (`{n}`,
`{n+}`, `~{n}`, `~{n+}`) is followed by exactly n octets and then by the rest of the command
on the next line. `CommandFramer` turns bytes, chunked any way, into events:

- `Received(RawCommand)`: a whole command (all its lines and literals) for `parse_command`.
- `NeedContinuation`: a synchronizing literal `{n}` was announced and fits the limits: send
  the `+` continuation request.
- `FramingError`: the client broke a limit; answer it with the tagged response the `kind`
  names. The framer has already put itself back in step with the client: the rest of the
  command is dropped without a second event, and framing resumes at the next command.
- `NEED_DATA`: feed more bytes.

Limits, and how each is enforced without buffering what breaks it:

- a line over `Limits.line` octets: `LINE_TOO_LONG` as soon as the cap is passed; the rest
  of the line is dropped as it arrives (only its last few octets are kept, to see whether it
  ends in a literal marker whose octets must be skipped too), then the rest of the command.
- a synchronizing literal over `Limits.literal` (or pushing the command over
  `Limits.command`): `LITERAL_TOO_LARGE`, before any of its octets is read; no `+` is sent,
  so the client sends none, and the next line is a new command.
- a non-synchronizing literal `{n+}` over the limits, or over 4096 octets when the door
  advertises LITERAL- (`Limits.literal_minus`): `NONSYNC_TOO_LARGE`. The client sends the
  octets without waiting, so they cannot be refused; RFC 7888 §4 leaves the server the
  choice between reading and discarding them and closing the connection. The framer skips
  them (counted down, never buffered) along with the rest of the command, so the session
  survives and memory stays bounded; a door that prefers to close can simply close.

The hot path — a line without literals — is one `bytes.find(b"\\r\\n")` and one slice.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from mailgate.protocols.imap.reader import tag_of

LITERAL_MINUS_MAX: Final = 4096  # RFC 7888 §4: the largest {n+} a LITERAL- server accepts
_SEGMENT_COST: Final = 64  # octets charged per literal against Limits.command (object overhead)
_TAIL: Final = 64  # octets of a dropped over-long line kept to find a literal marker at its end
_COMPACT_AT: Final = 65536
_MAX_DIGITS: Final = 19  # longer literal sizes are simply "too large"
_MARKER = re.compile(rb"\{([0-9]+)(\+?)\}")


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection framing limits."""

    line: int = 65536  # octets of one line of a command, CRLF and literals not counted
    literal: int = 64 * 1024 * 1024  # octets of one literal (a message given to APPEND)
    command: int = 128 * 1024 * 1024  # lines + literals of one command (MULTIAPPEND, CATENATE)
    literal_minus: bool = False  # LITERAL- advertised instead of LITERAL+ (RFC 7888)


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class RawCommand:
    """One command as received: `lines[i]` ends with the marker of `literals[i]`.

    `len(lines) == len(literals) + 1`; lines have no CRLF; the markers stay in the lines
    (the parser reads `~{n}` as literal8).
    """

    lines: tuple[bytes, ...]
    literals: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class NeedData:
    """Nothing to do until more bytes are received."""


NEED_DATA: Final = NeedData()


@dataclass(frozen=True, slots=True)
class Received:
    """A whole command, ready for `parse_command`."""

    command: RawCommand


@dataclass(frozen=True, slots=True)
class NeedContinuation:
    """The client announced a synchronizing literal of `size` octets and waits for `+`
    (a tag of "*": the line has no valid tag)."""

    tag: str
    size: int


class FramingProblem(enum.Enum):
    """What a `FramingError` reports, with the answer the door should give."""

    LINE_TOO_LONG = "line-too-long"  # tag BAD [TOOBIG] (the tag is "*" when unreadable)
    LITERAL_TOO_LARGE = "literal-too-large"  # tag NO [TOOBIG]: no "+" was sent, nothing read
    NONSYNC_TOO_LARGE = "nonsync-too-large"  # tag BAD [TOOBIG]: its octets are being skipped


@dataclass(frozen=True, slots=True)
class FramingError:
    """The client broke a limit; `message` is one line safe to send."""

    tag: str
    kind: FramingProblem
    message: str


Event = NeedData | Received | NeedContinuation | FramingError


class CommandFramer:
    """Bytes in, `Event`s out, for one connection. See the module docstring."""

    __slots__ = (
        "_data",
        "_discarding",
        "_dropping_line",
        "_limits",
        "_lines",
        "_literal_chunks",
        "_literal_left",
        "_literals",
        "_scan_from",
        "_size",
        "_start",
        "_tail",
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._data = bytearray()
        self._start = 0
        self._scan_from = 0  # where the search for CRLF resumes in a partial line
        self._lines: list[bytes] = []  # lines of the command being assembled
        self._literals: list[bytes] = []
        self._literal_left = 0  # octets of the current literal still to read (or skip)
        self._literal_chunks: list[bytes] = []
        self._size = 0  # octets charged to the command so far
        self._discarding = False  # dropping the rest of a command after an error
        self._dropping_line = False  # inside an over-long line, dropped as it arrives
        self._tail = b""  # the last octets of the line being dropped

    @property
    def buffered(self) -> int:
        """Octets received and not yet framed."""
        return len(self._data) - self._start

    def receive_data(self, data: bytes) -> None:
        self._data += data

    def clear(self) -> None:
        """Forget everything received (STARTTLS: plaintext must not survive into TLS)."""
        self._data.clear()
        self._start = self._scan_from = 0
        self._reset_command()

    def use_limits(self, limits: Limits) -> None:
        """Frame with `limits` from the next command on (sign-in lifts the smaller limits of
        a connection not signed in yet)."""
        self._limits = limits

    def next_event(self, *, plain_line: bool = False) -> Event:
        """The next event. `plain_line=True` between commands reads the client's answer to a
        continuation (an AUTHENTICATE response, IDLE's DONE): one line, markers not read."""
        while True:
            if self._literal_left:
                if not self._take_literal():
                    return NEED_DATA
                continue
            if self._dropping_line:
                if not self._drop_line():
                    return NEED_DATA
                self._line_ended(self._tail, plain_line=False)
                continue
            line = self._next_line()
            if line is None:
                if self._dropping_line:  # over-long, in a command already answered
                    continue
                return NEED_DATA
            if isinstance(line, FramingError):
                return line
            event = self._line_ended(line, plain_line=plain_line and not self._lines)
            if event is not None:
                return event

    # -- lines --------------------------------------------------------------------------------

    def _next_line(self) -> bytes | FramingError | None:
        data, start, limit = self._data, self._start, self._limits.line
        end = data.find(b"\r\n", max(start, self._scan_from), start + limit + 2)
        if end == -1:
            if len(data) - start < limit + 2:
                self._scan_from = max(start, len(data) - 1)  # a CR may end the data
                return None
            return self._line_too_long()
        line = bytes(data[start:end])
        self._consume(end + 2)
        return line

    def _line_too_long(self) -> FramingError | None:
        answered = self._discarding
        if self._lines:
            tag = tag_of(self._lines[0])
        else:  # the same octets whatever the chunking: at least line + 2 are buffered
            head = bytes(self._data[self._start : self._start + min(self._limits.line + 2, 256)])
            tag = tag_of(head) if b" " in head else "*"
        self._reset_command()
        self._discarding = self._dropping_line = True
        if answered:
            return None
        message = f"command line too long (over {self._limits.line} octets)"
        return FramingError(tag, FramingProblem.LINE_TOO_LONG, message)

    def _drop_line(self) -> bool:
        """Drop the over-long line as it arrives; True once its CRLF was consumed."""
        data, start = self._data, self._start
        end = data.find(b"\r\n", start)
        if end == -1:
            keep = len(data) - 1 if data.endswith(b"\r") else len(data)
            self._tail = (self._tail + bytes(data[max(start, keep - _TAIL) : keep]))[-_TAIL:]
            self._consume(keep)
            return False
        self._tail = (self._tail + bytes(data[max(start, end - _TAIL) : end]))[-_TAIL:]
        self._consume(end + 2)
        self._dropping_line = False
        return True

    def _line_ended(self, line: bytes, *, plain_line: bool) -> Event | None:
        marker = None if plain_line or not line.endswith(b"}") else _literal_marker(line)
        if self._discarding:
            if marker is not None and marker[1]:  # the client sends these octets regardless
                self._literal_left = marker[0]
            else:  # end of the command (after a {n} the client waits for a "+" never sent)
                self._discarding = False
            return None
        if marker is None and not self._lines:
            return Received(RawCommand((line,)))
        self._lines.append(line)
        self._size += len(line) + 2
        if marker is None:
            command = RawCommand(tuple(self._lines), tuple(self._literals))
            self._reset_command()
            return Received(command)
        size, nonsync = marker
        self._size += _SEGMENT_COST
        too_large = size > self._limits.literal or self._size + size > self._limits.command
        if nonsync and (too_large or (self._limits.literal_minus and size > LITERAL_MINUS_MAX)):
            return self._refuse_nonsync(size)
        if too_large:
            tag = tag_of(self._lines[0])
            self._reset_command()
            return FramingError(
                tag, FramingProblem.LITERAL_TOO_LARGE, f"literal too large ({size} octets)"
            )
        self._literal_left = size
        if size == 0:
            self._literals.append(b"")
        return None if nonsync else NeedContinuation(tag_of(self._lines[0]), size)

    def _refuse_nonsync(self, size: int) -> FramingError:
        tag = tag_of(self._lines[0])
        self._reset_command()
        self._discarding = True
        self._literal_left = size
        if self._limits.literal_minus and size > LITERAL_MINUS_MAX:
            message = f"non-synchronizing literal over {LITERAL_MINUS_MAX} octets (LITERAL-)"
        else:
            message = f"literal too large ({size} octets)"
        return FramingError(tag, FramingProblem.NONSYNC_TOO_LARGE, message)

    # -- literals -----------------------------------------------------------------------------

    def _take_literal(self) -> bool:
        """Read (or, when discarding, skip) literal octets; True once the literal is done."""
        available = len(self._data) - self._start
        if not available:
            return False
        count = min(available, self._literal_left)
        if not self._discarding:
            self._literal_chunks.append(bytes(self._data[self._start : self._start + count]))
        self._consume(self._start + count)
        self._literal_left -= count
        if self._literal_left:
            return False
        if not self._discarding:
            chunks = self._literal_chunks
            self._literals.append(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            chunks.clear()
            self._size += len(self._literals[-1])
        return True

    # -- bookkeeping --------------------------------------------------------------------------

    def _reset_command(self) -> None:
        self._lines.clear()
        self._literals.clear()
        self._literal_chunks.clear()
        self._literal_left = 0
        self._size = 0
        self._discarding = False
        self._dropping_line = False
        self._tail = b""

    def _consume(self, end: int) -> None:
        if end >= len(self._data):
            self._data.clear()
            self._start = 0
        elif end >= _COMPACT_AT and end * 2 >= len(self._data):
            del self._data[:end]
            self._start = 0
        else:
            self._start = end
        self._scan_from = self._start


def _literal_marker(line: bytes) -> tuple[int, bool] | None:
    """(size, non-synchronizing) when the line ends with a literal marker."""
    brace = line.rfind(b"{")
    match = _MARKER.fullmatch(line, brace) if brace != -1 else None
    if match is None:
        return None
    digits = match[1].lstrip(b"0") or b"0"
    if len(digits) > _MAX_DIGITS:  # too large anyway, and int() refuses 4300 digits
        return 1 << 64, bool(match[2])
    return int(digits), bool(match[2])
