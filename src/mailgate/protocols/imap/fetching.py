"""FETCH responses from stored rows: precomputed structure joined, sections read by offset.

ENVELOPE, BODYSTRUCTURE and BODY are kept in wire form at delivery, so most items are string
joins; BODY[section]<partial> is a seek into the message file (`store.selected`). The only
work done per FETCH is picking header fields (HEADER.FIELDS) and decoding BINARY parts.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailgate.protocols.imap.fetch import (
    FetchAttribute,
    FetchBinarySize,
    FetchBody,
    FetchItem,
    Section,
)
from mailgate.store.errors import MailboxError
from mailgate.store.selected import FetchRow, section_range

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FIELD_START = re.compile(rb"(?m)^([^\s:]+)[ \t]*:")
_CTE = re.compile(rb"(?im)^content-transfer-encoding[ \t]*:[ \t]*([^\s;]*)")
#: The `message_structure` columns (store.selected.STRUCTURE_COLUMNS) each attribute needs;
#: a section (BODY[...], BINARY[...], BINARY.SIZE[...]) needs the part offsets.
_ATTRIBUTE_COLUMNS = {"ENVELOPE": ("envelope",), "BODYSTRUCTURE": ("bodystructure",),
                      "BODY": ("body",), "RFC822.HEADER": ("header_size",),
                      "RFC822.TEXT": ("header_size",)}
_SECTION_COLUMNS = ("header_size", "parts")

Reader = Callable[[str, int, int], bytes]  # (digest, start, end) -> bytes


class UnknownEncoding(MailboxError):
    """BINARY of a part whose Content-Transfer-Encoding is unknown (RFC 3516)."""

    code = "UNKNOWN-CTE"


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """What a FETCH needs from the store, worked out once per command."""

    items: tuple[FetchItem, ...]
    structure: frozenset[str]  # the blob columns needed (structure, part offsets)
    sets_seen: bool  # a non-peek body item: \\Seen is set on read-write mailboxes
    inline: tuple[Callable[[FetchRow, Flags], str], ...] | None  # every item written inline:
    #                                      their writers, so a row is one join (the usual FETCH)


def plan(items: tuple[FetchItem, ...], uid: bool) -> FetchPlan:
    if uid and FetchAttribute("UID") not in items:
        items = (FetchAttribute("UID"), *items)
    structure = frozenset(
        name for i in items
        for name in (_ATTRIBUTE_COLUMNS.get(i.name, ()) if isinstance(i, FetchAttribute)
                     else _SECTION_COLUMNS))
    sets_seen = any((isinstance(i, FetchBody) and not i.peek)
                    or (isinstance(i, FetchAttribute) and i.name in ("RFC822", "RFC822.TEXT"))
                    for i in items)
    inline = tuple(_INLINE[i.name] for i in items
                   if isinstance(i, FetchAttribute) and i.name in _INLINE)
    return FetchPlan(items, structure, sets_seen,
                     inline if len(inline) == len(items) else None)


def internal_date(when: float) -> str:
    days, seconds = divmod(int(when // 1), 86400)
    minutes, second = divmod(seconds, 60)
    return f'"{_day(days)} {_HOUR_MINUTE[minutes]}:{_TWO_DIGITS[second]} +0000"'


# INTERNALDATE is written for every message of a FETCH: its clock from two small tables
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))
_HOUR_MINUTE = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in range(60))


@functools.lru_cache(maxsize=4096)
def _day(days: int) -> str:
    """`dd-Mon-yyyy` of a day since the epoch (UTC); mail of a mailbox shares few days."""
    tm = time.gmtime(days * 86400)
    return f"{tm.tm_mday:02d}-{_MONTHS[tm.tm_mon - 1]}-{tm.tm_year:04d}"


Flags = Callable[[int, str], str]

#: The attributes written inline (no literal): name -> its text, from the row.
_INLINE: dict[str, Callable[[FetchRow, Flags], str]] = {
    "FLAGS": lambda row, flags: f"FLAGS ({flags(row.uid, row.flags)})",
    "UID": lambda row, flags: f"UID {row.uid}",
    "MODSEQ": lambda row, flags: f"MODSEQ ({row.modseq})",
    "INTERNALDATE": lambda row, flags: f"INTERNALDATE {internal_date(row.internal_date)}",
    "RFC822.SIZE": lambda row, flags: f"RFC822.SIZE {row.size}",
    "ENVELOPE": lambda row, flags: f"ENVELOPE {row.envelope}",
    "BODYSTRUCTURE": lambda row, flags: f"BODYSTRUCTURE {row.bodystructure}",
    "BODY": lambda row, flags: f"BODY {row.body}",
}


def render(seq: int, row: FetchRow, fetch_plan: FetchPlan, read: Reader,
           flags: Flags, extra_flags: bool = False) -> list[bytes]:
    """The `* seq FETCH (...)` response as chunks to write (literals kept as bytes);
    `flags(uid, stored)` writes a message's flags as this session shows them."""
    if fetch_plan.inline is not None:
        written = [write(row, flags) for write in fetch_plan.inline]
        if extra_flags:
            written.append(f"FLAGS ({flags(row.uid, row.flags)})")
        return [f"* {seq} FETCH ({' '.join(written)})\r\n".encode()]
    out: list[bytes] = []
    opening = f"* {seq} FETCH ("
    items: list[str] = []  # since the last literal ("" first after one: a space to come)

    def literal(name: str, data: bytes, binary: bool = False) -> None:
        nonlocal opening, items
        prefix = ""
        if b"\x00" in data:  # NUL only in a literal8 (RFC 3516); elsewhere 0x80, as Dovecot
            if binary:
                prefix = "~"
            else:
                data = data.replace(b"\x00", b"\x80")
        items.append(f"{name} {prefix}{{{len(data)}}}\r\n")
        out.append((opening + " ".join(items)).encode())
        out.append(data)
        opening, items = "", [""]

    for wanted in fetch_plan.items:
        if isinstance(wanted, FetchAttribute):
            name = wanted.name
            inline = _INLINE.get(name)
            if inline is not None:
                items.append(inline(row, flags))
            elif name == "RFC822":
                literal("RFC822", read(row.digest, 0, row.size))
            elif name == "RFC822.HEADER":
                literal("RFC822.HEADER", read(row.digest, 0, row.header_size or 0))
            elif name == "RFC822.TEXT":
                literal("RFC822.TEXT", read(row.digest, row.header_size or 0, row.size))
        elif isinstance(wanted, FetchBody):
            data = body_section(row, wanted, read)
            if wanted.binary:
                label = f"BINARY[{'.'.join(map(str, wanted.section.part))}]"
            else:
                label = f"BODY[{wanted.section}]"
            if wanted.partial is not None:
                label += f"<{wanted.partial[0]}>"
            if data is None:
                items.append(f"{label} NIL")
            else:
                literal(label, data, wanted.binary)
        elif isinstance(wanted, FetchBinarySize):
            data = binary_part(row, wanted.part, read)
            items.append(f"BINARY.SIZE[{'.'.join(map(str, wanted.part))}] "
                         f"{0 if data is None else len(data)}")
    if extra_flags:
        items.append(f"FLAGS ({flags(row.uid, row.flags)})")
    out.append(f"{opening}{' '.join(items)})\r\n".encode())
    return out


def body_section(row: FetchRow, wanted: FetchBody, read: Reader) -> bytes | None:
    """BODY[section]<partial> or BINARY[part]<partial>; None when there is no such part."""
    section = wanted.section
    if wanted.binary:
        data = binary_part(row, section.part, read)
    elif section.fields:
        spec = ".".join([*map(str, section.part), "HEADER"])
        found = section_range(row, spec)
        if found is None:
            return None
        data = header_fields(read(row.digest, *found), section.fields,
                             keep=section.text == "HEADER.FIELDS")
    else:
        found = section_range(row, _spec(section))
        if found is None:
            return None if section.part else b""
        if wanted.partial is not None:
            start, end = found
            first = min(start + wanted.partial[0], end)
            return read(row.digest, first, min(first + wanted.partial[1], end))
        return read(row.digest, *found)
    if data is None or wanted.partial is None:
        return data
    origin, count = wanted.partial
    return data[origin:origin + count]


def _spec(section: Section) -> str:
    return ".".join([*map(str, section.part), *([section.text] if section.text else [])])


def header_fields(block: bytes, names: tuple[str, ...], keep: bool) -> bytes:
    """The fields of a header block named (`keep`) or not named in `names`, then CRLF."""
    wanted = {n.upper().encode() for n in names}
    picked: list[bytes] = []
    taking = False
    for line in block.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if taking:
                picked.append(line)
            continue
        match = _FIELD_START.match(line)
        taking = match is not None and (match[1].upper() in wanted) == keep
        if taking:
            picked.append(line)
    return b"".join(line + b"\r\n" for line in picked) + b"\r\n"


def binary_part(row: FetchRow, part: tuple[int, ...], read: Reader) -> bytes | None:
    """BINARY[part]: the part's body with its Content-Transfer-Encoding undone (RFC 3516)."""
    if not part:
        return read(row.digest, 0, row.size)
    path = ".".join(map(str, part))
    body = section_range(row, path)
    mime_header = section_range(row, path + ".MIME")
    if body is None:
        return None
    header = read(row.digest, *mime_header) if mime_header else b""
    found = _CTE.search(header)
    encoding = found[1].lower() if found else b"7bit"
    data = read(row.digest, *body)
    if encoding in (b"7bit", b"8bit", b"binary", b""):
        return data
    if encoding == b"base64":
        try:
            return base64.b64decode(b"".join(data.split()), validate=False)
        except (binascii.Error, ValueError):
            raise UnknownEncoding("the part's base64 is damaged") from None
    if encoding == b"quoted-printable":
        return decode_quoted_printable(data)
    shown = encoding[:40].decode("ascii", errors="replace")
    raise UnknownEncoding(f"unknown Content-Transfer-Encoding {shown}")


def decode_quoted_printable(data: bytes) -> bytes:
    """RFC 2045 §6.7 on CRLF text: trailing white space dropped, `=` at a line's end a soft
    break, `=XX` an octet."""
    lines = data.split(b"\r\n")
    out = []
    for index, line in enumerate(lines):
        line = line.rstrip(b" \t")
        if line.endswith(b"="):
            out.append(binascii.a2b_qp(line[:-1]))
        else:
            out.append(binascii.a2b_qp(line))
            if index < len(lines) - 1:
                out.append(b"\r\n")
    return b"".join(out)
