"""FETCH items (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ) and their parser.

- `FetchAttribute(name)`: FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE,
  UID, MODSEQ, and RFC822, RFC822.HEADER, RFC822.TEXT (kept by name: their replies are
  named so; RFC822 and RFC822.TEXT set \\Seen, RFC822.HEADER does not).
- `FetchBody(section, partial, peek, binary)`: BODY[...], BODY.PEEK[...], BINARY[...],
  BINARY.PEEK[...], with an optional <origin.count>.
- `FetchBinarySize(part)`: BINARY.SIZE[part].

The macros ALL, FAST and FULL are expanded by the parser.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

from mailgate.protocols.imap.framer import RawCommand
from mailgate.protocols.imap.reader import MAX_NUMBER, CommandSyntaxError, Reader, utf8_text

SIMPLE_ATTRIBUTES: Final = frozenset(
    {
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
    }
)
_NAME = re.compile(rb"[A-Za-z0-9.-]+")  # "-" only for the error message (X-GM-LABELS)
_SECTION_SPEC = re.compile(rb"[A-Za-z0-9.]*")
_PARTIAL = re.compile(rb"<([0-9]{1,10})\.([0-9]{1,10})>")
_CACHED_TEXT: Final = 512  # longest rest of line whose items are cached
_SECTION_TEXTS: Final = frozenset(
    {"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"}
)


@dataclass(frozen=True, slots=True)
class FetchAttribute:
    name: str


@dataclass(frozen=True, slots=True)
class Section:
    """A body section: `part` numbers (() for the whole message) and `text`: "" (all),
    HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT (with `fields`, upper-case), TEXT or MIME."""

    part: tuple[int, ...] = ()
    text: str = ""
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        """The section-spec as a reply names it: "1.2.HEADER.FIELDS (FROM TO)"."""
        spec = ".".join([*map(str, self.part), *([self.text] if self.text else [])])
        return f"{spec} ({' '.join(self.fields)})" if self.text.startswith("HEADER.") else spec


@dataclass(frozen=True, slots=True)
class FetchBody:
    section: Section
    partial: tuple[int, int] | None = None  # (origin, count)
    peek: bool = False
    binary: bool = False


@dataclass(frozen=True, slots=True)
class FetchBinarySize:
    part: tuple[int, ...]


FetchItem = FetchAttribute | FetchBody | FetchBinarySize

_SIMPLE: Final = {name: FetchAttribute(name) for name in SIMPLE_ATTRIBUTES}  # frozen: shareable
_ALL: Final = tuple(_SIMPLE[n] for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"))
MACROS: Final = {"ALL": _ALL, "FAST": _ALL[:3], "FULL": (*_ALL, _SIMPLE["BODY"])}


def read_fetch_items(reader: Reader) -> tuple[FetchItem, ...]:
    """A macro, one fetch-att, or a parenthesised list of them."""
    rest = reader.line[reader.position :]
    if len(rest) > _CACHED_TEXT or rest.endswith(b"}"):  # long, or a literal follows
        return _read_items(reader)
    items, length = _items_at_start(rest)
    reader.skip(length)
    return items


@functools.lru_cache(maxsize=256)
def _items_at_start(text: bytes) -> tuple[tuple[FetchItem, ...], int]:
    """The items `text` starts with, and their length. Clients send the same item list
    over and over, and items are immutable, so the parse is cached (errors are not)."""
    reader = Reader(RawCommand((text,)))
    return _read_items(reader), reader.position


def _read_items(reader: Reader) -> tuple[FetchItem, ...]:
    if reader.at(b"("):
        return tuple(reader.parenthesised(lambda: _fetch_att(reader), empty=False))
    item = _fetch_att(reader, macros=True)
    return item if isinstance(item, tuple) else (item,)


def _fetch_att(reader: Reader, *, macros: bool = False) -> FetchItem | tuple[FetchItem, ...]:
    name = reader.match(_NAME, "a fetch attribute")[0].decode("ascii").upper()
    if reader.at(b"["):
        return _sectioned(reader, name)
    simple = _SIMPLE.get(name)
    if simple is not None:
        return simple
    if macros and name in MACROS:
        return MACROS[name]
    raise CommandSyntaxError(f"unknown fetch attribute {name[:40]}")


def _sectioned(reader: Reader, name: str) -> FetchItem:
    if name in ("BODY", "BODY.PEEK"):
        section = _section(reader)
        return FetchBody(section, _partial(reader), peek=name == "BODY.PEEK")
    if name in ("BINARY", "BINARY.PEEK", "BINARY.SIZE"):
        section = _section(reader)
        if section.text:
            raise CommandSyntaxError("BINARY sections are part numbers only")
        if name == "BINARY.SIZE":
            return FetchBinarySize(section.part)
        return FetchBody(section, _partial(reader), peek=name == "BINARY.PEEK", binary=True)
    raise CommandSyntaxError(f"unknown fetch attribute {name[:40]}")


def _section(reader: Reader) -> Section:
    reader.expect(b"[", '"["')
    spec = reader.match(_SECTION_SPEC, "a section")[0].decode("ascii")
    words = spec.split(".") if spec else []
    if "" in words:
        raise CommandSyntaxError("invalid section")
    part: list[int] = []
    while words and words[0].isdigit():
        number = words.pop(0)
        if number.startswith("0") or len(number) > 10:
            raise CommandSyntaxError("section part numbers start at 1")
        part.append(int(number))
    text = ".".join(words).upper()
    if text not in _SECTION_TEXTS or (text == "MIME" and not part):
        raise CommandSyntaxError("invalid section")
    fields: tuple[str, ...] = ()
    if text.startswith("HEADER."):
        reader.space()
        names = reader.parenthesised(
            lambda: utf8_text(reader.astring(), "a header name"), empty=False
        )
        fields = tuple(name.upper() for name in names)
    reader.expect(b"]", '"]"')
    return Section(tuple(part), text, fields)


def _partial(reader: Reader) -> tuple[int, int] | None:
    if not reader.at(b"<"):
        return None
    match = reader.match(_PARTIAL, "a partial range <origin.count>")
    origin, count = int(match[1]), int(match[2])
    if count == 0 or origin > MAX_NUMBER or count > MAX_NUMBER:
        raise CommandSyntaxError("invalid partial range")
    return origin, count
