"""MIME ``Content-*`` header fields (RFC 2045, RFC 2183, RFC 2231, RFC 3066, RFC 2557).

The results keep Dovecot's conventions, because they end up in BODYSTRUCTURE: type,
subtype, parameter names and values keep the case they were given in; the first
occurrence of each field wins; RFC 2231 continuations are merged but not decoded
(``title*0*=us-ascii'en'a; title*1*=b`` becomes ``title*`` = ``us-ascii'en'ab``).

Deliberate deviations from Dovecot for broken input (docs/mime-vs-dovecot.md):

* A Content-Type that is not ``type/subtype`` followed by nothing or by ``;`` counts as
  no Content-Type at all, as RFC 2045 §5.2 recommends (text/plain, or message/rfc822
  in a digest); Dovecot reports the media type ``"" ""``.
* A broken parameter is skipped and the ones after it are still read (Dovecot drops
  the rest of the list), and unquoted values are read up to ``;`` or whitespace, so
  the common unquoted ``boundary=----=_Part_1`` keeps its ``=`` (Dovecot stops the
  value at ``=``).
* A boundary given only as ``boundary*`` (RFC 2231) is decoded and used.
"""

import re
import urllib.parse
from dataclasses import dataclass, field

from .lexer import Scanner

# RFC 2046 allows 70 characters; like Dovecot, compare at most 80 (lines match by prefix).
BOUNDARY_MAX = 80

_LOOSE_VALUE = re.compile(r'[^\x00-\x20;"(\x7f]+')
_SECTION = re.compile(r"(\d{0,9})(\*?)")  # longer numbers: not a continuation


@dataclass(slots=True)
class ContentInfo:
    """The ``Content-*`` fields of one MIME part as raw (Latin-1 decoded) strings."""

    type: str | None = None  # None (and subtype None): no usable Content-Type
    subtype: str | None = None
    params: list[tuple[str, str]] = field(default_factory=list)
    id: str | None = None
    description: str | None = None
    encoding: str | None = None
    md5: str | None = None
    disposition: str | None = None
    disposition_params: list[tuple[str, str]] = field(default_factory=list)
    language: list[str] | None = None
    location: str | None = None


def content_info(fields: dict[str, list[str]]) -> ContentInfo:
    """Build a ContentInfo from header fields (lower-case name -> raw values)."""
    info = ContentInfo()

    def first(name: str) -> str | None:
        values = fields.get(name)
        return values[0].rstrip(" \t") if values else None

    value = first("content-type")
    if value is not None:
        _parse_content_type(info, value)
    value = first("content-transfer-encoding")
    if value is not None:
        info.encoding = _parse_encoding(value)
    value = first("content-disposition")
    if value is not None:
        _parse_disposition(info, value)
    value = first("content-language")
    if value is not None:
        info.language = _parse_language(value)
    info.id = first("content-id")
    info.description = first("content-description")
    info.md5 = first("content-md5")
    info.location = first("content-location")
    return info


def boundary_of(params: list[tuple[str, str]]) -> bytes | None:
    """The multipart boundary as bytes, or None when there is no usable one."""
    for name, value in params:
        if name.lower() == "boundary":
            return value.encode("latin-1")[:BOUNDARY_MAX] or None
    for name, value in params:
        if name.lower() == "boundary*":
            pieces = value.split("'", 2)
            encoded = pieces[2] if len(pieces) == 3 else value
            decoded = urllib.parse.unquote_to_bytes(encoded.encode("latin-1"))
            return decoded[:BOUNDARY_MAX] or None
    return None


def _parse_content_type(info: ContentInfo, value: str) -> None:
    scanner = Scanner(value)
    scanner.skip_cfws()
    media_type = scanner.token()
    scanner.skip_cfws()
    if not media_type or not scanner.at("/"):
        return
    scanner.pos += 1
    scanner.skip_cfws()
    subtype = scanner.token()
    scanner.skip_cfws()
    if not subtype or (scanner.pos < scanner.end and not scanner.at(";")):
        return
    info.type, info.subtype = media_type, subtype
    info.params = parse_params(scanner)


def _parse_encoding(value: str) -> str | None:
    scanner = Scanner(value)
    scanner.skip_cfws()
    token = scanner.token()
    scanner.skip_cfws()
    return token if token and scanner.pos == scanner.end else None


def _parse_disposition(info: ContentInfo, value: str) -> None:
    scanner = Scanner(value)
    scanner.skip_cfws()
    token = scanner.token()
    if not token:
        return
    info.disposition = token
    scanner.skip_cfws()
    info.disposition_params = parse_params(scanner)


def _parse_language(value: str) -> list[str] | None:
    scanner = Scanner(value)
    languages: list[str] = []
    while True:
        scanner.skip_cfws()
        atom = scanner.atom()
        if not atom:
            break
        languages.append(atom)
        scanner.skip_cfws()
        if not scanner.at(","):
            break
        scanner.pos += 1
    return languages or None


def parse_params(scanner: Scanner) -> list[tuple[str, str]]:
    """Read ``*(";" name "=" value)``; a broken parameter is skipped up to the next ``;``."""
    text = scanner.text
    params: list[tuple[str, str]] = []
    while scanner.pos < scanner.end:
        if not scanner.at(";"):
            semicolon = text.find(";", scanner.pos)
            if semicolon < 0:
                break
            scanner.pos = semicolon
        scanner.pos += 1
        scanner.skip_cfws()
        name = scanner.token()
        scanner.skip_cfws()
        if not name or not scanner.at("="):
            continue
        scanner.pos += 1
        scanner.skip_cfws()
        if scanner.at('"'):
            value, closed = scanner.quoted()
            if not closed:
                continue
        else:
            match = _LOOSE_VALUE.match(text, scanner.pos)
            value = ""
            if match is not None:
                value = match.group()
                scanner.pos = match.end()
        params.append((name, value))
        scanner.skip_cfws()
    return _merge_rfc2231(params)


def _merge_rfc2231(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merge ``name*N[*]`` continuations the way Dovecot does (without decoding)."""
    plain: list[tuple[str, str]] = []
    sections: dict[str, list[tuple[int, bool, str, str]]] = {}
    for name, value in params:
        star = name.find("*")
        match = _SECTION.fullmatch(name, star + 1) if star > 0 else None
        if match is None:
            plain.append((name, value))
            continue
        digits, extended_mark = match.groups()
        index = int(digits) if digits else 0
        extended = bool(extended_mark) or not digits
        base = name[:star]
        sections.setdefault(base.lower(), []).append((index, extended, value, base))
    if not sections:
        return plain
    merged: list[tuple[str, str]] = []
    for group in sorted(sections.values(), key=lambda items: items[0][3]):
        group.sort(key=lambda item: item[0])
        base = group[0][3]
        if [item[0] for item in group] != list(range(len(group))):
            for index, extended, value, _ in group:
                merged.append((f"{base}*{index}{'*' if extended else ''}", value))
            continue
        any_extended = any(item[1] for item in group)
        chunks = ["''"] if any_extended and not group[0][1] else []
        for _, extended, value, _ in group:
            plain_in_extended = any_extended and not extended
            chunks.append(value.replace("%", "%25") if plain_in_extended else value)
        merged.append((base + ("*" if any_extended else ""), "".join(chunks)))
    return plain + merged
