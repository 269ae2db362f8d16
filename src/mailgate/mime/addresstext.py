"""The text SEARCH FROM/TO/CC/BCC look in: an address field written back from its parse.

RFC 9051 §6.4.4 leaves open what these keys match; Dovecot matches the *normalised*
address list, not the field as written, and so do we (`normalised`), so that a comment
inside an address, a display name in a comment, or a route neither hides nor invents a
match. The field is parsed as ENVELOPE parses it (`mailgate.mime.address`: comments
dropped, missing parts filled in as ``MISSING_MAILBOX`` / ``MISSING_DOMAIN``) and written
back as Dovecot 2.3 writes it (checked against it, key by key):

* an address is ``name <mailbox@domain>``, or ``<mailbox@domain>`` without a name, with
  its route as ``<@a,@b:mailbox@domain>``; the display name of ``a@b (Name)`` is its last
  comment;
* a display name or local part with characters other than atext (a local part may also
  hold dots) is quoted, ``"`` and ``\\`` escaped; a display name holding an encoded-word
  (``=?``) is left as it is, so that decoding it afterwards gives its text;
* a group is ``name: member, member;``, an empty one ``name:;``; addresses and groups
  are separated by ``, ``.

The result is raw (Latin-1 decoded); callers decode encoded-words (``decode_words``).
"""

from __future__ import annotations

import re

from .address import Address, parse_addresses

_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]*")
_ATEXT_OR_DOT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff.]*")


def normalised(raw: str) -> str:
    """The normalised form of an address-list field value (see the module notes)."""
    entries: list[str] = []
    group: list[str] | None = None
    for address in parse_addresses(raw):  # a group always ends with its end marker
        _, _, mailbox, domain = address
        if domain is None and group is None:  # a group starts; its name is the mailbox
            entries.append(_phrase(mailbox) if mailbox else '""')
            group = []
        elif domain is None and group is not None:  # the group ends
            entries[-1] += (": " + ", ".join(group) if group else ":") + ";"
            group = None
        elif group is not None:
            group.append(_address(address))
        else:
            entries.append(_address(address))
    return ", ".join(entries)


def _address(address: Address) -> str:
    name, route, mailbox, domain = address
    shown = _quoted(mailbox or "", _ATEXT_OR_DOT)
    if domain:
        shown += "@" + domain
    if route:
        shown = route + ":" + shown
    return (_phrase(name) + " " if name else "") + "<" + shown + ">"


def _phrase(text: str) -> str:
    return text if "=?" in text else _quoted(text, _ATEXT)


def _quoted(text: str, plain: re.Pattern[str]) -> str:
    if plain.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
