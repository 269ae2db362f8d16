"""The text IMAP SEARCH looks in, taken from a message once at delivery.

``extract`` returns the message's header fields (RFC 2047 decoded; several fields of one
name joined by ``\\n``), its From, To, Cc and Bcc fields again in the normalised form
SEARCH FROM/TO/CC/BCC match (``mailgate.mime.addresstext``, then decoded), and the text
of its body: every text/* leaf part with its
Content-Transfer-Encoding undone and its charset decoded (HTML reduced to its text), plus
the header fields of attached messages (message/rfc822), parts joined by ``\\n``.

Everything is *folded* (``fold``): case folded and each run of whitespace made one space,
so a search string, folded the same way, matches by plain substring — case-insensitive as
RFC 9051 §6.4.4 asks, and a phrase still matches across a line break. A folded search
string holds no ``\\n``, so it never matches across two fields or two parts.

Bounds: at most ``TEXT_LIMIT`` characters per message (1 MiB; header fields first, then
the body, cut where the limit falls: text past it is not found), at most ``MAX_FIELDS``
distinct field names, and at most ``RAW_PER_CHARACTER`` times the remaining budget of a
part's encoded bytes is decoded.
"""

from __future__ import annotations

import binascii
import html
import re
from dataclasses import dataclass

from .addresstext import normalised
from .headers import ANY_FIELD, decode_charset, decode_words, lenient_base64, read_fields
from .structure import Kind, Part, Walker

TEXT_LIMIT = 1 << 20  # characters of folded text per message
MAX_FIELDS = 500  # distinct header field names per message
RAW_PER_CHARACTER = 8  # encoded bytes read per character still wanted
ADDRESS_FIELDS = ("from", "to", "cc", "bcc")  # the fields SEARCH has an address key for

# elements whose content is no text: how each starts, and what ends it
_HIDDEN = {"<script": re.compile("</script", re.IGNORECASE),
           "<style": re.compile("</style", re.IGNORECASE), "<!--": re.compile("-->")}
_ASCII_CHARSETS = frozenset({"", "us-ascii", "ascii", "us_ascii"})


@dataclass(frozen=True)
class SearchText:
    """Folded text of one message: ``fields`` maps lower-case header field names to their
    values, ``addresses`` the names of ADDRESS_FIELDS present to their normalised address
    lists, ``body`` is the text of the body parts."""

    fields: dict[str, str]
    body: str
    addresses: dict[str, str]


def fold(text: str) -> str:
    """The form of indexed text and of search strings: case folded, each run of whitespace
    one space (at the ends too: " report" still asks for a space before "report")."""
    core = " ".join(text.casefold().split())
    if not core:
        return " " if text else ""
    return (" " if text[0].isspace() else "") + core + (" " if text[-1].isspace() else "")


def extract(raw: bytes, top: Part | None = None) -> SearchText:
    """The search text of a CRLF message (``top``: its parsed structure, if at hand)."""
    top = top or Walker(raw).message()
    budget = _Budget()
    fields: dict[str, str] = {}
    found = read_fields(raw, top.header_start, top.body_start, ANY_FIELD)
    for name, values in found.items():
        if len(fields) == MAX_FIELDS or budget.spent:
            break
        fields[name] = "\n".join(budget.take(decode_words(value)) for value in values)
    addresses = {name: "\n".join(budget.take(decode_words(normalised(value)))
                                 for value in found[name])
                 for name in ADDRESS_FIELDS if name in fields}
    body: list[str] = []
    _collect(raw, top, budget, body)
    return SearchText(fields, "\n".join(body), addresses)


class _Budget:
    """What is left of TEXT_LIMIT; each piece taken costs its length plus one."""

    def __init__(self) -> None:
        self.left = TEXT_LIMIT

    @property
    def spent(self) -> bool:
        return self.left <= 0

    def take(self, text: str) -> str:
        folded = fold(text).strip()[:max(self.left, 0)]
        self.left -= len(folded) + 1
        return folded


def _collect(raw: bytes, part: Part, budget: _Budget, out: list[str]) -> None:
    if budget.spent:
        return
    if part.kind is Kind.MULTIPART:
        for child in _alternative(part) or part.children:
            _collect(raw, child, budget, out)
    elif part.kind is Kind.MESSAGE:
        inner = part.children[0]
        for values in read_fields(raw, inner.header_start, inner.body_start, ANY_FIELD).values():
            out.extend(budget.take(decode_words(value)) for value in values)
        _collect(raw, inner, budget, out)
    elif part.content.type is None or part.content.type.lower() == "text":
        out.append(budget.take(_decoded(raw, part, budget.left * RAW_PER_CHARACTER)))


def _alternative(part: Part) -> list[Part]:
    """Of a multipart/alternative with a text/plain version, that version alone: the
    others (HTML) say the same again."""
    if (part.content.subtype or "").lower() == "alternative":
        for child in part.children:
            if child.kind is Kind.LEAF and (child.content.type or "text").lower() == "text" \
                    and (child.content.subtype or "plain").lower() == "plain":
                return [child]
    return []


def _html_text(markup: str) -> str:
    """The text of HTML: tags dropped (each leaves a space), scripts, styles and comments
    left out, character references decoded. One pass: a tag that is never closed ends it."""
    out: list[str] = []
    position = 0
    while (start := markup.find("<", position)) >= 0:
        out.append(markup[position:start])
        end = _tag_end(markup, start)
        if end < 0:
            break
        out.append(" ")
        position = end + 1
    else:
        out.append(markup[position:])
    return html.unescape("".join(out))


def _tag_end(markup: str, start: int) -> int:
    """Where the tag (or hidden element) at `start` ends: its last ">", or -1."""
    for opening, closing in _HIDDEN.items():
        if markup[start:start + len(opening)].lower() == opening:
            found = closing.search(markup, start + len(opening))
            return markup.find(">", found.start()) if found else -1
    return markup.find(">", start)


def _decoded(raw: bytes, part: Part, most: int) -> str:
    """A text part's body as text: transfer encoding undone, charset decoded, HTML to text."""
    data = raw[part.body_start:min(part.end, part.body_start + most)]
    encoding = (part.content.encoding or "").lower()
    if encoding == "base64":
        data = lenient_base64(data)
    elif encoding == "quoted-printable":
        data = binascii.a2b_qp(data)
    charset = next((value for name, value in part.content.params
                    if name.lower() == "charset"), "").strip().lower()
    text = decode_charset(data, "utf-8" if charset in _ASCII_CHARSETS else charset)
    if (part.content.subtype or "").lower() == "html":
        text = _html_text(text)
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
