"""IMAP wire forms of ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2).

The layout follows Dovecot (lib-imap/imap-bodystructure.c, imap-envelope.c): types,
subtypes and parameters as given (``"text" "plain"``), ``"message" "rfc822"`` for
encapsulated messages, ``"7bit"`` when there is no usable Content-Transfer-Encoding,
``("charset" "us-ascii")`` added to text parts without a charset, a 0-byte text/plain
part inside a multipart that has no parts, and no space between adjacent bodies or
addresses (``1*body``, ``1*address``).

Strings: header bytes are decoded as UTF-8 (invalid sequences and NUL become U+FFFD),
then written as a quoted string when that is possible in IMAP4rev1 (ASCII, no CR/LF,
at most four characters to escape) and as a literal ``{n}\\r\\n...`` otherwise.  The
results are ``str``: encode them as UTF-8 to send them (literal lengths count those
UTF-8 bytes).  Absent values are NIL.  The subject and display names are cleaned up
for humans as Dovecot does (runs of whitespace become one space, trimmed); RFC 2047
encoded-words are left undecoded.
"""

import re

from .address import Address, parse_addresses
from .content import ContentInfo
from .headers import to_text
from .structure import Kind, Part

_EMPTY_BODY = '"text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0'
_EMPTY_BODYSTRUCTURE = _EMPTY_BODY + " NIL NIL NIL NIL"
_WHITESPACE = re.compile(r"[ \t\r\n]+")
_LINE_BREAKS = re.compile(r"[\r\n]+")
_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc")


def string(raw: str) -> str:
    """An IMAP string for a raw (Latin-1 decoded) header value."""
    return text_string(to_text(raw))


def text_string(text: str) -> str:
    """An IMAP string for text: quoted when IMAP4rev1 allows it, a literal otherwise."""
    if text.isascii() and "\r" not in text and "\n" not in text:
        specials = text.count('"') + text.count("\\")
        if specials == 0:
            return f'"{text}"'
        if specials <= 4:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{{{len(text.encode())}}}\r\n{text}"


def nstring(raw: str | None) -> str:
    """An IMAP nstring with line breaks removed (Dovecot's ``nstring_nolf``)."""
    if raw is None:
        return "NIL"
    return string(_LINE_BREAKS.sub("", raw) if "\r" in raw or "\n" in raw else raw)


def human_string(raw: str) -> str:
    """A string for humans: whitespace runs become one space, leading/trailing removed."""
    return string(_WHITESPACE.sub(" ", raw).strip(" "))


def envelope(fields: dict[str, list[str]]) -> str:
    """ENVELOPE of a message from its header fields.

    As in Dovecot, the last occurrence of a string field (Date, Subject, In-Reply-To,
    Message-ID) counts, while the addresses of every occurrence of an address field are
    listed, as if they were one comma-separated field: a second From cannot hide behind
    the first.  Unlike Dovecot, trailing whitespace is not part of a string field (it is
    CFWS in RFC 5322 §3.3 and §3.6.4).
    """

    def last(name: str) -> str | None:
        values = fields.get(name)
        return values[-1].rstrip(" \t") if values else None

    addresses = {name: [address for value in fields.get(name, ()) if value
                        for address in parse_addresses(value)]
                 for name in _ADDRESS_FIELDS}
    for name in ("sender", "reply-to"):
        addresses[name] = addresses[name] or addresses["from"]
    subject = last("subject")
    items = [
        nstring(last("date")),
        "NIL" if subject is None else human_string(subject),
        *(_write_addresses(addresses[name]) for name in _ADDRESS_FIELDS),
        nstring(last("in-reply-to")),
        nstring(last("message-id")),
    ]
    return "(" + " ".join(items) + ")"


def body_structure(part: Part, *, extended: bool) -> str:
    """BODYSTRUCTURE (``extended``) or BODY of a part, including the outer parentheses."""
    out: list[str] = []
    _write_part(part, extended, out)
    return "".join(out)


def _write_addresses(addresses: list[Address]) -> str:
    if not addresses:
        return "NIL"
    out = ["("]
    for name, route, mailbox, host in addresses:
        out.append("(")
        out.append("NIL" if name is None else human_string(name))
        out.append(f" {nstring(route)} {nstring(mailbox)} {nstring(host)})")
    out.append(")")
    return "".join(out)


def _write_part(part: Part, extended: bool, out: list[str]) -> None:
    out.append("(")
    content = part.content
    if part.kind is Kind.MULTIPART:
        for child in part.children:
            _write_part(child, extended, out)
        if not part.children:
            out.append("(" + (_EMPTY_BODYSTRUCTURE if extended else _EMPTY_BODY) + ")")
        out.append(" " + string(content.subtype or ""))
        if extended:
            out.append(" " + _params(content.params, add_charset=False))
            out.append(_common_extension(content))
        out.append(")")
        return
    if part.kind is Kind.MESSAGE:
        text = False
        out.append('"message" "rfc822"')
    elif content.type is None:
        text = True
        out.append('"text" "plain"')
    else:
        text = content.type.lower() == "text"
        out.append(f"{string(content.type)} {string(content.subtype or '')}")
    out.append(" " + _params(content.params, add_charset=text))
    out.append(f" {nstring(content.id)} {nstring(content.description)} ")
    out.append(string(content.encoding) if content.encoding else '"7bit"')
    out.append(f" {part.end - part.body_start}")
    if text:
        out.append(f" {part.lines}")
    elif part.kind is Kind.MESSAGE:
        inner = part.children[0]
        out.append(" " + envelope(inner.fields or {}) + " ")
        _write_part(inner, extended, out)
        out.append(f" {part.lines}")
    if extended:
        out.append(" " + nstring(content.md5) + _common_extension(content))
    out.append(")")


def _params(params: list[tuple[str, str]], *, add_charset: bool) -> str:
    items = [f"{string(name)} {string(value)}" for name, value in params]
    if add_charset and not any(name.lower() == "charset" for name, _ in params):
        items.append('"charset" "us-ascii"')
    return "(" + " ".join(items) + ")" if items else "NIL"


def _common_extension(content: ContentInfo) -> str:
    """`` disposition language location`` (the extension data shared by all parts)."""
    if content.disposition is None:
        disposition = "NIL"
    else:
        params = _params(content.disposition_params, add_charset=False)
        disposition = f"({string(content.disposition)} {params})"
    if content.language is None:
        language = "NIL"
    else:
        language = "(" + " ".join(string(tag) for tag in content.language) + ")"
    return f" {disposition} {language} {nstring(content.location)}"
