"""Header blocks: finding the fields we need, unfolding them, and decoding text.

Field values are returned *raw*: unfolded (CRLF before whitespace removed), without the
whitespace after the colon (trailing whitespace is kept, as Dovecot parses it) and decoded
as Latin-1, so every byte survives as one character.
``to_text`` turns raw strings into text (UTF-8, invalid bytes and NUL become U+FFFD)
and ``decode_words`` additionally decodes RFC 2047 encoded-words.
"""

import binascii
import codecs
import encodings
import encodings.aliases
import pkgutil
import re

_FIELDS = re.compile(
    rb"^(content-type|content-transfer-encoding|content-id|content-description|content-md5"
    rb"|content-disposition|content-language|content-location|mime-version"
    rb"|date|subject|from|sender|reply-to|to|cc|bcc|in-reply-to|message-id|references)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
#: Every field, whatever its name (RFC 5322 ftext: printable ASCII except the colon).
ANY_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)
_LOGICAL_LINE_END = re.compile(rb"\r?\n(?![ \t])")
_NEWLINE = re.compile(rb"\r?\n")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_LINE_BREAK = re.compile(r"[\r\n]+")
# Only names of codecs that exist are passed to codecs.lookup: the encodings package
# caches every miss forever, and charset names come from untrusted mail.
_KNOWN_CODECS = frozenset(
    [*encodings.aliases.aliases, *encodings.aliases.aliases.values()]
    + [module.name for module in pkgutil.iter_modules(encodings.__path__)]
)


def read_fields(buf: bytes, start: int, end: int, names: re.Pattern[bytes] = _FIELDS
                ) -> dict[str, list[str]]:
    """Collect the MIME, ENVELOPE and References fields (or those ``names`` matches, e.g.
    ``ANY_FIELD``) of the header block ``buf[start:end]``.

    ``end`` is where the field lines stop (before the blank line).  Returns lower-case
    field name -> raw values in order of appearance.  Lines without a colon and fields
    we do not need are skipped.
    """
    fields: dict[str, list[str]] = {}
    for match in names.finditer(buf, start, end):
        line_end = _LOGICAL_LINE_END.search(buf, match.end(), end)
        value = buf[match.end() : line_end.start() if line_end else end]
        if b"\n" in value:
            value = _NEWLINE.sub(b"", value)
        name = match.group(1).lower().decode("ascii")
        fields.setdefault(name, []).append(value.lstrip(b" \t\r\n").decode("latin-1"))
    return fields


def to_text(raw: str) -> str:
    """Raw (Latin-1 decoded) header text -> str: UTF-8, with U+FFFD for bad bytes and NUL."""
    if not raw.isascii():
        raw = raw.encode("latin-1").decode("utf-8", "replace")
    return raw.replace("\x00", "\ufffd") if "\x00" in raw else raw


def decode_words(raw: str) -> str:
    """Decode RFC 2047 encoded-words in a raw header value; other text goes through to_text.

    Whitespace between adjacent encoded-words is dropped, adjacent words in the same
    charset are decoded together (a character may be split across words), unknown
    charsets are read as UTF-8 and damaged base64 is decoded leniently.  Line breaks
    that decoding produces become spaces.
    """
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    position = 0
    after_word = False
    for match in _ENCODED_WORD.finditer(raw):
        gap = raw[position : match.start()]
        position = match.end()
        if not (after_word and not gap.strip(" \t\r\n")):
            out.append(decode_charset(pending, pending_charset))
            pending.clear()
            out.append(to_text(gap))
        charset = match.group(1).split("*", 1)[0].lower()
        if charset != pending_charset:
            out.append(decode_charset(pending, pending_charset))
            pending.clear()
            pending_charset = charset
        pending += _decode_payload(match.group(2), match.group(3))
        after_word = True
    out.append(decode_charset(pending, pending_charset))
    out.append(to_text(raw[position:]))
    text = "".join(out)
    if "\r" in text or "\n" in text:
        text = _LINE_BREAK.sub(" ", text)
    return text.replace("\x00", "\ufffd")


def _decode_payload(encoding: str, payload: str) -> bytes:
    data = payload.encode("latin-1")
    if encoding in "qQ":
        return binascii.a2b_qp(data, header=True)
    return lenient_base64(data)


def lenient_base64(data: bytes) -> bytes:
    """Decode base64 the way mail readers do: other characters are skipped, padding repaired."""
    data = _NOT_BASE64.sub(b"", data)
    excess = len(data) % 4
    if excess == 1:
        data = data[:-1]
    elif excess:
        data += b"=" * (4 - excess)
    return binascii.a2b_base64(data)


def decode_charset(data: bytes | bytearray, charset: str) -> str:
    """Bytes in a (lower-case) MIME charset -> str; unknown charsets read as UTF-8."""
    if not data:
        return ""
    name = encodings.normalize_encoding(charset)
    if name in _KNOWN_CODECS:
        try:
            return data.decode(codecs.lookup(name).name, "replace")
        except (LookupError, UnicodeError, ValueError):
            pass  # a non-text codec such as base64_codec, or one without "replace"
    return data.decode("utf-8", "replace")
