"""Small writers for IMAP responses: strings, values, mailbox names, sequence sets.

Strings are written by `text_string` (shared with the ENVELOPE/BODYSTRUCTURE writer in
`mailgate.mime.imapwire`): quoted when IMAP4rev1 allows it, a `{n}` literal otherwise.
`render` turns a Python value into wire bytes; `compact_set` writes numbers as "1:3,5".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from mailgate.mime.imapwire import text_string
from mailgate.protocols.imap.names import encode_mailbox_name

__all__ = ["Atom", "compact_set", "mailbox", "render", "text_string"]

_ATOM = re.compile(r'\\?[^\x00-\x20\x7f-\U0010ffff(){%*"\\\]]+|\\\*')


class Atom(str):
    """Text written as is, not quoted: a flag ("\\Seen", "\\*"), a keyword, an item name."""

    __slots__ = ()


Value = None | int | str | bytes | Atom | Sequence["Value"]


def render(value: Value) -> bytes:
    """`value` in wire form: None -> NIL, int -> number, Atom -> as is, str -> a string
    (`text_string`), bytes -> a literal, list/tuple -> a parenthesised list.

    Raises ValueError for what has no wire form (a negative number, an invalid atom, NUL
    in text) and TypeError for other types: these are programming errors, not client input.
    """
    if value is None:
        return b"NIL"
    if isinstance(value, bool):
        raise TypeError("booleans have no IMAP form")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("IMAP numbers are not negative")
        return str(value).encode("ascii")
    if isinstance(value, Atom):
        if not _ATOM.fullmatch(value):
            raise ValueError(f"not an IMAP atom: {value!r}")
        return value.encode("ascii")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL cannot be sent in an IMAP string")
        return text_string(value).encode("utf-8")
    if isinstance(value, bytes):
        return b"{%d}\r\n" % len(value) + value
    if isinstance(value, list | tuple):
        return b"(" + b" ".join(render(item) for item in value) + b")"
    raise TypeError(f"no IMAP form for {type(value).__name__}")


def mailbox(name: str, *, utf8: bool = False) -> str:
    """A mailbox name as a LIST/STATUS reply writes it (modified UTF-7 unless `utf8`)."""
    return text_string(encode_mailbox_name(name, utf8=utf8))


def compact_set(numbers: Iterable[int]) -> str:
    """Message numbers or UIDs as the shortest sequence set: [1, 2, 3, 5] -> "1:3,5"."""
    ranges: list[list[int]] = []
    for number in sorted(set(numbers)):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    return ",".join(str(low) if low == high else f"{low}:{high}" for low, high in ranges)
