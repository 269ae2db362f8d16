"""Parse a message once at delivery and keep what IMAP FETCH and POP3 need.

Typical use at delivery::

    raw = to_crlf(strip_from_line(data))
    parsed = parse(raw)          # store raw and parsed together

``parse`` never raises.  Its structure rules (boundaries, defaults, limits) are
described in ``mailgate.mime.structure``, the wire forms in ``mailgate.mime.imapwire``.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .crlf import to_crlf
from .headers import decode_words, to_text
from .imapwire import body_structure, envelope
from .mbox import split_mbox, strip_from_line
from .searchtext import SearchText, extract
from .sortkeys import SortKeys, sort_keys
from .structure import Kind, Part, Walker

__all__ = [
    "ParsedMessage",
    "SortKeys",
    "parse",
    "parts_range",
    "section_range",
    "split_mbox",
    "strip_from_line",
    "to_crlf",
]

Offsets = tuple[int, int, int]

_SECTION = re.compile(
    r"(?P<path>[1-9][0-9]*(?:\.[1-9][0-9]*)*)?"
    r"(?:(?(path)\.)(?P<specifier>HEADER(?:\.FIELDS(?:\.NOT)?)?|TEXT|MIME))?"
)


@dataclass(frozen=True)
class ParsedMessage:
    """What IMAP FETCH and POP3 need from one CRLF message.

    ``envelope``, ``bodystructure`` and ``body`` are complete parenthesised IMAP values
    (``FETCH 1 (BODYSTRUCTURE <bodystructure>)``); they may contain literals, so send
    them encoded as UTF-8.

    ``parts`` maps IMAP section paths to ``(header_start, body_start, end)`` byte
    offsets into the CRLF message, so that ``[header_start:body_start]`` is the part's
    MIME header (``BODY[n.MIME]``) and ``[body_start:end]`` its body (``BODY[n]``):

    * ``""`` is the message itself: ``BODY[HEADER]`` is ``[0:header_size]`` and
      ``BODY[TEXT]`` is ``[header_size:size]``.
    * ``"1"``, ``"1.2"``, ... are the parts, numbered as in RFC 3501 §6.4.5.  A message
      that is not multipart has exactly one part ``"1"``, the message itself.
    * For a message/rfc822 part ``P`` the encapsulated message is stored under
      ``P + ".0"``; serve ``BODY[P.HEADER]`` (and ``HEADER.FIELDS``) from its header
      range and ``BODY[P.TEXT]`` from its body range.  Its own parts are numbered
      ``P.1``, ``P.2``, ... (just ``P.1``, its body, when it is not multipart).
    * A multipart that has no parts gets an empty part ``"n.1"``, matching the 0-byte
      text/plain part that BODYSTRUCTURE reports for it.

    ``section_range`` applies these rules.  ``subject`` is the decoded (RFC 2047)
    Subject; ``message_id`` and ``date`` are the raw field values.  When a field
    occurs more than once, the last one counts, as in Dovecot's ENVELOPE.  ``sort_keys``
    holds what SORT and THREAD compare (``mailgate.mime.sortkeys``); ``search`` is the
    folded text SEARCH looks in (``mailgate.mime.searchtext``).
    """

    size: int
    header_size: int
    envelope: str
    bodystructure: str
    body: str
    parts: dict[str, Offsets]
    subject: str
    message_id: str | None
    date: str | None
    sort_keys: SortKeys
    search: SearchText


def parse(raw: bytes) -> ParsedMessage:
    """Parse a CRLF message (call ``to_crlf`` first).  Never raises on any input."""
    top = Walker(raw).message()
    parts: dict[str, Offsets] = {"": (top.header_start, top.body_start, top.end)}
    _number_message(top, "", parts)
    fields = top.fields or {}
    subject = fields.get("subject")
    message_id = fields.get("message-id")
    date = fields.get("date")
    return ParsedMessage(
        size=len(raw),
        header_size=top.body_start,
        envelope=envelope(fields),
        bodystructure=body_structure(top, extended=True),
        body=body_structure(top, extended=False),
        parts=parts,
        subject=decode_words(subject[-1]).strip() if subject else "",
        message_id=to_text(message_id[-1].rstrip(" \t")) if message_id else None,
        date=to_text(date[-1].rstrip(" \t")) if date else None,
        sort_keys=sort_keys(fields),
        search=extract(raw, top),
    )


def section_range(message: ParsedMessage, section: str) -> tuple[int, int] | None:
    """Byte range ``(start, end)`` of a FETCH BODY[section], or None if there is no such part.

    ``section`` is the text between the brackets, e.g. ``""``, ``"TEXT"``, ``"1.2"``,
    ``"2.MIME"``, ``"2.HEADER"`` or ``"2.HEADER.FIELDS (From)"`` (HEADER.FIELDS and
    HEADER.FIELDS.NOT give the whole header range; filtering the fields is the
    caller's job).  Case does not matter.
    """
    return parts_range(message.parts, message.size, section)


def parts_range(parts: Mapping[str, Sequence[int]], size: int, section: str
                ) -> tuple[int, int] | None:
    """``section_range`` over the ``parts`` offsets as stored (JSON lists) and the size."""
    match = _SECTION.fullmatch(section.split(" ", 1)[0].upper())
    if match is None:
        return None
    path, specifier = match.group("path") or "", match.group("specifier") or ""
    if specifier.startswith("HEADER") or specifier == "TEXT":
        offsets = parts.get(path + ".0" if path else "")
        if offsets is None:
            return None
        return (offsets[1], offsets[2]) if specifier == "TEXT" else (offsets[0], offsets[1])
    offsets = parts.get(path)
    if offsets is None:
        return None
    if specifier == "MIME":
        return (offsets[0], offsets[1]) if path else None
    return (offsets[1], offsets[2]) if path else (0, size)


def _number_message(message: Part, prefix: str, parts: dict[str, Offsets]) -> None:
    """Number the parts of a message whose own section path is ``prefix``."""
    if message.kind is Kind.MULTIPART:
        _number_children(message, prefix, parts)
    else:
        _number_part(message, f"{prefix}.1" if prefix else "1", parts)


def _number_part(part: Part, path: str, parts: dict[str, Offsets]) -> None:
    parts[path] = (part.header_start, part.body_start, part.end)
    if part.kind is Kind.MULTIPART:
        _number_children(part, path, parts)
    elif part.kind is Kind.MESSAGE:
        inner = part.children[0]
        parts[path + ".0"] = (inner.header_start, inner.body_start, inner.end)
        _number_message(inner, path, parts)


def _number_children(multipart: Part, path: str, parts: dict[str, Offsets]) -> None:
    prefix = f"{path}." if path else ""
    for index, child in enumerate(multipart.children, 1):
        _number_part(child, f"{prefix}{index}", parts)
    if not multipart.children:
        start = multipart.body_start
        parts[f"{prefix}1"] = (start, start, start)
