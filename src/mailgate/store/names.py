"""Mailbox names as IMAP clients see them.

`/` separates hierarchy levels (NAMESPACE (("" "/")) NIL NIL). Names are Unicode here;
the door converts from and to modified UTF-7 or UTF-8 on the wire. INBOX is
case-insensitive, also as the first level of a name (`inbox/Sub` is `INBOX/Sub`); every
other name is case-sensitive. The hidden folder "Recoverable Items" and anything under
it are reserved: clients can neither see nor create them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailgate.store.errors import InvalidMailboxName, shown
from mailgate.store.folders import RECOVERABLE

SEPARATOR = "/"
INBOX = "INBOX"
MAX_NAME_LENGTH = 255  # characters, the whole name (Dovecot's per-level limit)
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f*%]")


def normalise(name: str) -> str:
    """The stored spelling of a name: a first level of INBOX in any case becomes INBOX."""
    head, sep, rest = name.partition(SEPARATOR)
    return INBOX + sep + rest if head.upper() == INBOX else name


def is_reserved(name: str) -> bool:
    """Recoverable Items (in any case) and names under it: never shown to clients."""
    head = name.partition(SEPARATOR)[0]
    return head.casefold() == RECOVERABLE.casefold()


def check_new_name(name: str) -> str:
    """A name a client may create or rename to, normalised; InvalidMailboxName otherwise."""
    if not name:
        raise InvalidMailboxName("a mailbox name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidMailboxName(f"a mailbox name is at most {MAX_NAME_LENGTH} characters")
    if name.startswith(SEPARATOR) or name.endswith(SEPARATOR):
        raise InvalidMailboxName(
            f"mailbox name {shown(name)} starts or ends with the separator '{SEPARATOR}'")
    if SEPARATOR * 2 in name:
        raise InvalidMailboxName(f"mailbox name {shown(name)} has an empty level ('//')")
    if _FORBIDDEN.search(name):
        raise InvalidMailboxName(
            f"mailbox name {shown(name)} contains a control character or a wildcard (* %)")
    if is_reserved(name):
        raise InvalidMailboxName(f"the name {shown(RECOVERABLE)} is reserved")
    return normalise(name)


def parents(name: str) -> list[str]:
    """Every ancestor of a name, outermost first: 'a/b/c' -> ['a', 'a/b']."""
    levels = name.split(SEPARATOR)
    return [SEPARATOR.join(levels[:i]) for i in range(1, len(levels))]


def is_inside(name: str, ancestor: str) -> bool:
    return name.startswith(ancestor + SEPARATOR)


def pattern_matcher(reference: str, pattern: str) -> Callable[[str], bool]:
    """LIST matching (RFC 3501 §6.3.8): `*` matches anything, `%` anything but `/`.

    The reference is prefixed to the pattern; INBOX matches case-insensitively.
    """
    full = normalise(reference + pattern)
    regex = "".join(".*" if c == "*" else f"[^{SEPARATOR}]*" if c == "%" else re.escape(c)
                    for c in full)
    compiled = re.compile(regex, re.DOTALL)
    inbox = re.compile(regex, re.DOTALL | re.IGNORECASE)

    def matches(name: str) -> bool:
        if compiled.fullmatch(name):
            return True
        return name == INBOX and inbox.fullmatch(name) is not None

    return matches
