"""What SORT and THREAD compare (RFC 5256, RFC 5957), worked out once from a message header.

String keys are ready to compare with ``<``: they are already in the i;unicode-casemap form
(RFC 5051: characters titlecased, in NFKD) that RFC 5256 asks for, so ``"[xyz]"``
sorts after ``"c"`` and before ``"_"``, as in Dovecot. Missing headers give ``""``, which
sorts first. Keys keep their first ``MAX_KEY`` characters.

- FROM / TO / CC: the mailbox (local part) of the first address of the field, as in the
  ENVELOPE — for a group (``undisclosed: ;``) that is the group name.
- DISPLAYFROM / DISPLAYTO (RFC 5957): the first address's display name, RFC 2047-decoded;
  without one its ``mailbox@host`` (the group name for a group).
- SUBJECT: the base subject of RFC 5256 §2.1, and whether extracting it removed a reply or
  forward marker (``Re:``, ``Fwd:``, a ``(fwd)`` trailer, ``[fwd: ...]``), which the
  REFERENCES algorithm needs.
- Threading: the normalised Message-ID (quoting removed: ``<"a"@b>`` is ``<a@b>``) and the
  references — the Message-IDs of References, or else the first of In-Reply-To — keeping
  the last ``MAX_REFERENCES`` (RFC 5256 expects truncated References anyway).

A field that occurs more than once counts by its last occurrence, as in the ENVELOPE.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from .address import MISSING_DOMAIN, MISSING_MAILBOX, Address, parse_addresses
from .headers import decode_words, to_text

MAX_KEY = 1000
MAX_REFERENCES = 100

_SPACES = re.compile(r"[ \t\r\n]+")
_BLOB = re.compile(r"\[[^\[\]]*\] *")
_LEADER = re.compile(r"(?:\[[^\[\]]*\] *)*(?:re|fwd?) *(?:\[[^\[\]]*\] *)?:", re.IGNORECASE)
_MSG_ID = re.compile(r"<([^<>]*)>")


@dataclass(frozen=True)
class SortKeys:
    """The comparison keys of one message; see the module notes."""

    from_mailbox: str = ""
    to_mailbox: str = ""
    cc_mailbox: str = ""
    display_from: str = ""
    display_to: str = ""
    base_subject: str = ""
    is_reply: bool = False
    message_id: str | None = None
    references: tuple[str, ...] = ()


def sort_keys(fields: Mapping[str, list[str]]) -> SortKeys:
    """The keys of a message from its raw header fields (as `headers.read_fields` gives)."""

    def last(name: str) -> str | None:
        values = fields.get(name)
        return values[-1] if values else None

    sender, recipient, copied = (_first_address(last(name)) for name in ("from", "to", "cc"))
    subject, is_reply = base_subject(decode_words(last("subject") or ""))
    own = message_ids(last("message-id") or "")
    references = message_ids(last("references") or "")
    if not references:
        references = message_ids(last("in-reply-to") or "")[:1]
    return SortKeys(
        from_mailbox=_mailbox_key(sender),
        to_mailbox=_mailbox_key(recipient),
        cc_mailbox=_mailbox_key(copied),
        display_from=_display_key(sender),
        display_to=_display_key(recipient),
        base_subject=casemap(subject)[:MAX_KEY],
        is_reply=is_reply,
        message_id=own[0][:MAX_KEY] if own else None,
        references=tuple(ref[:MAX_KEY] for ref in references[-MAX_REFERENCES:]),
    )


def casemap(text: str) -> str:
    """The i;unicode-casemap form of `text` (RFC 5051): each character titlecased, in
    NFKD. Decomposing first as well makes ligatures and precomposed letters compare like
    their parts ("ﬁ" like "FI")."""
    if text.isascii():
        return text.upper()
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFKD", "".join(ch.title() for ch in decomposed))


def base_subject(subject: str) -> tuple[str, bool]:
    """RFC 5256 §2.1 on decoded text: (base subject, whether a reply/forward marker went).

    Works on positions into the text, never rescanning it, so that long subjects made of
    brackets and prefixes cost no more than ordinary ones.
    """
    text = _SPACES.sub(" ", subject)
    start, end = 0, len(text)
    is_reply = False
    while True:
        while end > start:  # (2) trailers: "(fwd)" or a space
            if text[end - 1] == " ":
                end -= 1
            elif end - start >= 5 and text[end - 5:end].lower() == "(fwd)":
                end -= 5
                is_reply = True
            else:
                break
        while start < end:  # (3) leaders: a space, or [blob]s then Re: / Fw: / Fwd:
            if text[start] == " ":
                start += 1
                continue
            leader = _LEADER.match(text, start, end)
            if not leader:
                break
            start = leader.end()
            is_reply = True
        # (4) blobs that leave something behind. No leader can follow (5): the failed
        # leader match above already tried every number of these blobs before Re:/Fwd:.
        while (blob := _BLOB.match(text, start, end)) and blob.end() < end:
            start = blob.end()
        if end - start >= 6 and text[start:start + 5].lower() == "[fwd:" and text[end - 1] == "]":
            start, end = start + 5, end - 1  # (6) [fwd: ...], then again from (2)
            is_reply = True
            continue
        return text[start:end], is_reply


def message_ids(raw: str) -> list[str]:
    """The valid Message-IDs in a raw header value, normalised (``<local@domain>``)."""
    found = []
    for match in _MSG_ID.finditer(to_text(raw)):
        local, at, domain = _unquote(match.group(1)).rpartition("@")
        if at and local and domain:
            found.append(f"<{local}@{domain}>")
    return found


def _unquote(text: str) -> str:
    """Quotes, backslash escapes and folding whitespace removed."""
    out = []
    escaped = False
    for ch in text:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch not in '" \t\r\n':
            out.append(ch)
    return "".join(out)


def _first_address(raw: str | None) -> Address | None:
    if raw is None:
        return None
    addresses = parse_addresses(raw)
    return addresses[0] if addresses else None


def _mailbox_key(address: Address | None) -> str:
    if address is None or address[2] in (None, MISSING_MAILBOX):
        return ""
    return casemap(to_text(address[2]))[:MAX_KEY]


def _display_key(address: Address | None) -> str:
    if address is None:
        return ""
    name, _, mailbox, host = address
    display = _SPACES.sub(" ", decode_words(name)).strip(" ") if name else ""
    if not display and mailbox not in (None, MISSING_MAILBOX):
        display = to_text(mailbox)
        if host not in (None, MISSING_DOMAIN):
            display += "@" + to_text(host)
    return casemap(display)[:MAX_KEY]
