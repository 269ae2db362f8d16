"""CHUNKING (RFC 3030): the BDAT command's argument and the chunks of one message.

`BDAT <size> [LAST]` is followed by exactly <size> octets of the message, taken as they come
(no dot-stuffing, no end marker); the door (`door.MailDoor.smtp_BDAT`) reads them. A chunk
that would take the message past the size limit is read and thrown away, never kept, and
fails the transaction: later chunks of it get the same refusal until RSET, MAIL or its LAST.
BINARYMIME is not offered, so the assembled message keeps the line-length rule of DATA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ARGUMENT = re.compile(r"(\d{1,18})(?: +(LAST))?", re.IGNORECASE)


@dataclass(frozen=True)
class Chunk:
    """One BDAT command: how many octets follow it, and whether the message ends there."""

    size: int
    last: bool


def parse(argument: str | None) -> Chunk | None:
    """`BDAT`'s argument ("1000", "0 LAST"), or None when it is not one."""
    found = _ARGUMENT.fullmatch((argument or "").strip())
    if found is None:
        return None
    return Chunk(int(found[1]), found[2] is not None)


@dataclass
class Chunks:
    """The chunks received so far in one transaction, or why it failed."""

    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    refusal: str | None = None  # said again to every later chunk of the transaction

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def fail(self, refusal: str) -> None:
        """The transaction failed: what it had is dropped at once."""
        self.refusal = refusal
        self.parts.clear()

    def content(self) -> bytes:
        return b"".join(self.parts)


def longest_line(content: bytes) -> int:
    """The length of the longest line, its CRLF counted (as DATA counts it)."""
    *ended, unended = content.split(b"\r\n")
    return max(max(map(len, ended), default=-2) + 2, len(unended))
