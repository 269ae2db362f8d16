"""Message flags: system flags and keywords, how they are stored and matched in SQL.

A message's flags are one space-separated text column. System flags are stored in their
canonical spelling (`\\Seen`), keywords as the client first wrote them; both compare
case-insensitively (RFC 9051 §2.3.2), so `$label1` and `$Label1` are one keyword.
"""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Text, func, literal

from mailgate.db.schema import messages
from mailgate.store.errors import InvalidFlag, shown

SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
_SYSTEM = {f.casefold(): f for f in SYSTEM_FLAGS}
# atom-specials (RFC 9051 §9) and controls cannot be in a keyword
_BAD_KEYWORD = re.compile(r'[\x00-\x20\x7f(){%*"\\\]]')


class FlagOperation(enum.Enum):
    """STORE FLAGS, +FLAGS, -FLAGS."""

    REPLACE = "replace"
    ADD = "add"
    REMOVE = "remove"


def canonical(flags: Iterable[str]) -> tuple[str, ...]:
    """Validated flags: system flags first in their canonical spelling, then keywords in
    the order given, each once (case-insensitively). InvalidFlag for \\Recent, an unknown
    system flag or a malformed keyword."""
    system: set[str] = set()
    keywords: dict[str, str] = {}
    for flag in flags:
        if flag.startswith("\\"):
            known = _SYSTEM.get(flag.casefold())
            if known is None:
                raise InvalidFlag(f"{shown(flag)} is not a flag that can be stored")
            system.add(known)
        elif not flag or _BAD_KEYWORD.search(flag):
            raise InvalidFlag(f"{shown(flag)} is not a valid keyword")
        else:
            keywords.setdefault(flag.casefold(), flag)
    return tuple(f for f in SYSTEM_FLAGS if f in system) + tuple(keywords.values())


def split(stored: str) -> tuple[str, ...]:
    return tuple(stored.split())


def join(flags: Iterable[str]) -> str:
    """The stored form; interned, since many messages share a handful of flag sets."""
    return sys.intern(" ".join(flags))


def apply(stored: str, operation: FlagOperation, flags: tuple[str, ...]) -> str:
    """The stored flags after a STORE of canonical `flags`."""
    if operation is FlagOperation.REPLACE:
        return join(flags)
    current = split(stored)
    if operation is FlagOperation.ADD:
        have = {f.casefold() for f in current}
        return join(current + tuple(f for f in flags if f.casefold() not in have))
    gone = {f.casefold() for f in flags}
    return join(f for f in current if f.casefold() not in gone)


def same(a: str, b: str) -> bool:
    """Whether two stored flag strings hold the same flags."""
    return a == b or {f.casefold() for f in a.split()} == {f.casefold() for f in b.split()}


def has_flag(flag: str) -> ColumnElement[bool]:
    """SQL: the message has this flag (or keyword), matched case-insensitively."""
    padded = func.lower(literal(" ") + messages.c.flags + literal(" "), type_=Text)
    return padded.contains(f" {flag.casefold()} ", autoescape=True)
