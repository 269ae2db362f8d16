"""Why a mailbox operation was refused; each carries the IMAP response code a door sends.

Messages quote mailbox names and flags with `shown`, so a name from a client (quotes,
control characters, any length) can be put on a response line as it is.
"""

from __future__ import annotations

import json

from mailgate.directory.errors import DirectoryError

SHOWN_LIMIT = 200


def shown(text: str) -> str:
    """Quoted, ASCII-only, no control characters, at most SHOWN_LIMIT characters."""
    if len(text) > SHOWN_LIMIT:
        text = text[:SHOWN_LIMIT] + "..."
    return json.dumps(text)


class MailboxError(DirectoryError):
    """Base: nothing was changed. `code` is the RFC 5530 / RFC 9051 response code."""

    code = "CANNOT"


class MailboxExists(MailboxError):
    code = "ALREADYEXISTS"


class MailboxNotFound(MailboxError):
    """The door answers NO [NONEXISTENT], or NO [TRYCREATE] for an APPEND/COPY/MOVE target."""

    code = "NONEXISTENT"


class InvalidMailboxName(MailboxError):
    """Empty, a leading/trailing or doubled separator, a control character, too long,
    a wildcard, or a reserved name."""

    code = "CANNOT"


class MailboxCannot(MailboxError):
    """A valid request the store refuses by rule (deleting INBOX, moving under itself)."""

    code = "CANNOT"


class MailboxHasChildren(MailboxError):
    """DELETE of a name that is only a parent (\\Noselect) and still has children."""

    code = "HASCHILDREN"


class UnsupportedSpecialUse(MailboxError):
    """CREATE with a special use this server does not offer (RFC 6154 §3)."""

    code = "USEATTR"


class InvalidFlag(MailboxError):
    """A flag that cannot be stored: \\Recent, an unknown system flag, a malformed keyword."""

    code = "CLIENTBUG"


class SearchUnsupported(MailboxError):
    """A UID set too fragmented for one query."""

    code = "CANNOT"
