"""Binary MIME parts made mail-safe: what APPEND does with a literal8 (RFC 3516 §4.4).

A message APPENDed as a literal8 may hold parts whose Content-Transfer-Encoding is
``binary``: octets (NUL, bare CR or LF, 8-bit) no RFC 5322 message may carry. As Dovecot
does, ``encode_binary_parts`` re-encodes each such leaf part in base64 before the message
is stored: its Content-Transfer-Encoding field becomes ``base64`` (in place, the other
fields untouched) and its body the base64 of its octets, in lines of 76 characters joined
by CRLF, with no line break after the last (the line break before a boundary belongs to
the boundary). BODY[] is then a valid message, and BINARY[part] decodes to the exact
octets that were sent.

Parts are found with the structure walk of ``mailgate.mime.structure`` (which accepts
bare LF line ends, as a literal8 may have them). Only parts read as MIME count: a
top-level part without Mime-Version or Content-Type keeps its body, since its
Content-Transfer-Encoding is not read there. Multipart and message/rfc822 parts are never
re-encoded (their children are). Everything else is kept byte for byte.
"""

from __future__ import annotations

import base64
import re

from .headers import ANY_FIELD
from .structure import Kind, Part, Walker

LINE = 76  # base64 characters per line (RFC 2045 §6.8)

_FIELD_END = re.compile(rb"\r?\n(?![ \t])")
_BINARY = re.compile(rb"binary", re.IGNORECASE)


def encode_binary_parts(raw: bytes) -> bytes:
    """``raw`` with every Content-Transfer-Encoding: binary leaf part in base64."""
    if _BINARY.search(raw) is None:
        return raw
    edits: list[tuple[int, int, bytes]] = []
    for part in _binary_leaves(Walker(raw).message()):
        field = _encoding_field(raw, part)
        if field is None:
            continue
        edits.append((field[0], field[1], b"Content-Transfer-Encoding: base64"))
        edits.append((part.body_start, part.end, _base64_lines(raw[part.body_start:part.end])))
    if not edits:
        return raw
    out, position = [], 0
    for start, end, replacement in edits:
        out += [raw[position:start], replacement]
        position = end
    out.append(raw[position:])
    return b"".join(out)


def _binary_leaves(part: Part) -> list[Part]:
    """The leaf parts, in message order, whose encoding is ``binary``."""
    if part.kind is not Kind.LEAF:
        return [leaf for child in part.children for leaf in _binary_leaves(child)]
    return [part] if (part.content.encoding or "").lower() == "binary" else []


def _encoding_field(raw: bytes, part: Part) -> tuple[int, int] | None:
    """Where the part's first Content-Transfer-Encoding field (folded lines included,
    its line break excluded) starts and ends."""
    for match in ANY_FIELD.finditer(raw, part.header_start, part.body_start):
        if match[1].lower() == b"content-transfer-encoding":
            end = _FIELD_END.search(raw, match.end(), part.body_start)
            return match.start(), end.start() if end else part.body_start
    return None


def _base64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i:i + LINE] for i in range(0, len(encoded), LINE))
