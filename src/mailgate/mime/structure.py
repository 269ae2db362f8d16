"""The MIME structure walk: one pass over a CRLF message, recording exact byte offsets.

The rules follow Dovecot's message parser (lib-mail/message-parser.c):

* A boundary line starts with ``--`` followed by the boundary of *any* enclosing
  multipart; the rest of the line is ignored (RFC 2046 allows transport padding and
  forbids boundaries that are prefixes of body lines).  When several boundaries
  match, the longest wins, then the innermost.  ``--`` right after the boundary
  makes it a close-delimiter (so ``--b--`` is a delimiter of the boundary ``b--``).
* The line break before a boundary line belongs to the boundary, not to the part
  before it, except when the boundary is the first line of a body (RFC 2046 §5.1.1).
* A boundary of an outer multipart ends every inner part that is still open, so a
  missing close-delimiter or a truncated nested message cannot swallow the rest of
  the message.  A header block ends at the first empty line, at an enclosing
  boundary (the part then has an empty body), or at the end of the message.  An
  empty line followed at once by an enclosing boundary is that boundary's line
  break: the header block ends before it and the part has no body.
* A part is MIME when it is a multipart child or has Mime-Version or Content-Type;
  otherwise its Content-* fields are ignored.  No Content-Type (or an invalid one, RFC
  2045 §5.2) means text/plain, or message/rfc822 inside multipart/digest.
  message/rfc822 bodies are parsed as messages whatever their Content-Transfer-Encoding.
* A multipart without a usable boundary, or whose boundary never starts a part, has
  no children; its body up to the next enclosing boundary is opaque.
* Nesting is capped at ``MAX_DEPTH`` levels: a deeper multipart or message/rfc822
  part is reported as an opaque application/octet-stream part.  After ``MAX_PARTS``
  parts no new part is started; the rest of that multipart body is its epilogue.
"""

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from .content import ContentInfo, boundary_of, content_info
from .headers import read_fields

MAX_DEPTH = 64
MAX_PARTS = 10_000

_HEADER_STOP = re.compile(rb"\n(?=\r?\n|--)")


class Kind(enum.Enum):
    """How a part's body is structured."""

    LEAF = "leaf"
    MULTIPART = "multipart"
    MESSAGE = "message"  # message/rfc822: children holds the one encapsulated message


@dataclass(slots=True, eq=False)
class Part:
    """One entity: a header block and a body, with offsets into the CRLF message.

    ``fields`` holds the ENVELOPE header fields of a message (the top level or an
    encapsulated message) and is None for a MIME part inside a multipart.
    """

    header_start: int
    body_start: int
    end: int
    content: ContentInfo
    kind: Kind
    fields: dict[str, list[str]] | None
    lines: int = 0
    children: list["Part"] = field(default_factory=list)


class _Hit(NamedTuple):
    """A boundary line found while scanning."""

    level: int  # index of the matching boundary in the walker's stack
    content_end: int  # where the content before the boundary line ends
    next_pos: int  # start of the line after the boundary line
    closing: bool  # a close-delimiter ("--boundary--")
    has_eol: bool  # the boundary line ends with a line break


class Walker:
    """Parses one message; create a new Walker per message."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.size = len(buf)
        self.stack: list[bytes] = []  # boundaries of the open multiparts, outermost first
        self.count = 0

    def message(self) -> Part:
        """Parse the whole buffer as a message."""
        return self._entity(0, 0, mime_child=False, in_digest=False)[0]

    def _entity(
        self, pos: int, depth: int, *, mime_child: bool, in_digest: bool
    ) -> tuple[Part, _Hit | None]:
        """Parse a header block and body starting at ``pos``; return the boundary that ended it."""
        self.count += 1
        fields_end, body_start, hit = self._header(pos)
        fields = read_fields(self.buf, pos, fields_end)
        if mime_child or "mime-version" in fields or "content-type" in fields:
            content = content_info(fields)
        else:
            content = ContentInfo()
        kind = _kind_of(content, in_digest)
        if kind is not Kind.LEAF and depth >= MAX_DEPTH:
            kind, content = Kind.LEAF, _opaque(content)
        if hit is None and body_start > fields_end:
            hit = self._boundary_after_header(body_start, pos, content, kind)
            if hit is not None:
                body_start = hit.content_end
        part = Part(pos, body_start, body_start, content, kind, None if mime_child else fields)
        if hit is not None:  # the header was ended by a boundary: empty body
            if kind is Kind.MESSAGE:
                part.children.append(_empty_message(body_start))
            return part, hit
        if kind is Kind.MULTIPART:
            hit = self._multipart(part, depth)
        elif kind is Kind.MESSAGE:
            inner, hit = self._entity(body_start, depth + 1, mime_child=False, in_digest=False)
            part.children.append(inner)
            part.end = inner.end
        else:
            hit = self._find_boundary(body_start)
            part.end = hit.content_end if hit else self.size
        if kind is not Kind.MULTIPART:
            part.lines = self.buf.count(b"\n", body_start, part.end)
        return part, hit

    def _multipart(self, part: Part, depth: int) -> _Hit | None:
        boundary = boundary_of(part.content.params)
        if boundary is None:
            hit = self._find_boundary(part.body_start)
            part.end = hit.content_end if hit else self.size
            return hit
        level = len(self.stack)
        self.stack.append(boundary)
        in_digest = (part.content.subtype or "").lower() == "digest"
        hit = self._find_boundary(part.body_start)
        while hit is not None and hit.level == level and not hit.closing:
            if not hit.has_eol or self.count >= MAX_PARTS:
                break  # no part starts: the rest is epilogue
            child, hit = self._entity(hit.next_pos, depth + 1, mime_child=True, in_digest=in_digest)
            part.children.append(child)
        if hit is not None and hit.level == level:  # epilogue up to an outer boundary
            del self.stack[level:]
            hit = self._find_boundary(hit.next_pos)
        del self.stack[level:]
        part.end = hit.content_end if hit else self.size
        return hit

    def _boundary_after_header(self, line: int, pos: int, content: ContentInfo, kind: Kind
                               ) -> _Hit | None:
        """An enclosing boundary line right after the empty line that ends the header block
        at ``pos``: the empty line's line break is the boundary's, so the part has no body.

        The part's own boundary does not count (its body may start with its first
        delimiter at once), even when an enclosing multipart uses the same string.
        """
        if not self.stack or not self.buf.startswith(b"--", line):
            return None
        own = boundary_of(content.params) if kind is Kind.MULTIPART else None
        if own is not None:
            self.stack.append(own)
        hit = self._match(line, pos)
        if own is not None:
            self.stack.pop()
            if hit is not None and hit.level == len(self.stack):
                return None
        return hit

    def _header(self, pos: int) -> tuple[int, int, _Hit | None]:
        """Find the end of the header block at ``pos``: (fields end, body start, boundary)."""
        buf = self.buf
        line = pos
        while True:
            if buf.startswith(b"\r\n", line):
                return line, line + 2, None
            if buf.startswith(b"\n", line):
                return line, line + 1, None
            if self.stack and buf.startswith(b"--", line):
                hit = self._match(line, pos)
                if hit is not None:
                    return hit.content_end, hit.content_end, hit
            match = _HEADER_STOP.search(buf, line)
            if match is None:
                return self.size, self.size, None
            line = match.end()

    def _find_boundary(self, start: int) -> _Hit | None:
        """Find the first boundary line at or after ``start`` (a line start)."""
        if not self.stack:
            return None
        buf = self.buf
        line = start
        if buf.startswith(b"--", line):
            hit = self._match(line, start)
            if hit is not None:
                return hit
        while True:
            found = buf.find(b"\n--", line)
            if found < 0:
                return None
            line = found + 1
            hit = self._match(line, start)
            if hit is not None:
                return hit

    def _match(self, line: int, region_start: int) -> _Hit | None:
        """Match the ``--`` line at ``line`` against the open boundaries."""
        buf = self.buf
        eol = buf.find(b"\n", line)
        line_end = eol if eol >= 0 else self.size
        start = line + 2
        stop = line_end
        if stop > start and buf[stop - 1] == 0x0D:
            stop -= 1
        available = stop - start
        best = -1
        best_len = -1
        for level in range(len(self.stack) - 1, -1, -1):
            boundary = self.stack[level]
            length = len(boundary)
            if best_len < length <= available and buf.startswith(boundary, start):
                best, best_len = level, length
                if length == available:
                    break
        if best < 0:
            return None
        content_end = line
        if line > region_start:
            content_end -= 1
            if content_end > region_start and buf[content_end - 1] == 0x0D:
                content_end -= 1
        return _Hit(
            level=best,
            content_end=content_end,
            next_pos=line_end + 1 if eol >= 0 else self.size,
            closing=buf.startswith(b"--", start + best_len),
            has_eol=eol >= 0,
        )


def _kind_of(content: ContentInfo, in_digest: bool) -> Kind:
    if content.type is None:
        return Kind.MESSAGE if in_digest else Kind.LEAF
    media_type = content.type.lower()
    if media_type == "multipart":
        return Kind.MULTIPART
    if media_type == "message" and (content.subtype or "").lower() == "rfc822":
        return Kind.MESSAGE
    return Kind.LEAF


def _opaque(content: ContentInfo) -> ContentInfo:
    """The content of a part nested too deeply: application/octet-stream, no parameters."""
    return dataclasses.replace(content, type="application", subtype="octet-stream", params=[])


def _empty_message(pos: int) -> Part:
    return Part(pos, pos, pos, ContentInfo(), Kind.LEAF, {})
