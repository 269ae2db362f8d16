"""CATENATE (RFC 4469): an APPENDed message built from literal TEXT and parts of messages
the account already has, named by relative IMAP URLs (RFC 5092):
`/<mailbox>[;UIDVALIDITY=<n>]/;UID=<n>[/;SECTION=<section>][/;PARTIAL=<offset>[.<length>]]`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from sqlalchemy import Connection

from mailgate.protocols.imap.commands import CatenateText, CatenateUrl
from mailgate.protocols.imap.names import InvalidMailboxName, decode_mailbox_name
from mailgate.store.blobs import BlobStore
from mailgate.store.errors import MailboxError, shown
from mailgate.store.mailboxes import find_mailbox
from mailgate.store.selected import fetch, section_range
from mailgate.store.uidsets import UidSet

_URL = re.compile(r"/(?P<mailbox>[^;/]+)(?:;UIDVALIDITY=(?P<uidvalidity>[0-9]+))?"
                  r"/;UID=(?P<uid>[0-9]+)(?:/;SECTION=(?P<section>[A-Z0-9.]+))?"
                  r"(?:/;PARTIAL=(?P<offset>[0-9]+)(?:\.(?P<length>[0-9]+))?)?",
                  re.IGNORECASE)


class BadUrl(MailboxError):
    """A CATENATE URL that names nothing this account has (RFC 4469 §5: [BADURL])."""

    def __init__(self, url: str) -> None:
        super().__init__(f"{shown(url)} names no message part here")
        self.code = f"BADURL {url}" if '"' not in url and len(url) < 512 else "BADURL"


def assemble(conn: Connection, store: BlobStore, account_id: int,
             parts: tuple[CatenateText | CatenateUrl, ...], utf8: bool) -> bytes:
    """The message the parts spell, in order; BadUrl for a URL that resolves to nothing."""
    return b"".join(part.data if isinstance(part, CatenateText)
                    else _resolve(conn, store, account_id, part.url, utf8)
                    for part in parts)


def _resolve(conn: Connection, store: BlobStore, account_id: int, url: str,
             utf8: bool) -> bytes:
    match = _URL.fullmatch(url)
    if match is None:
        raise BadUrl(url)
    try:
        name = decode_mailbox_name(unquote(match["mailbox"]).encode("utf-8"), utf8=utf8)
        folder = find_mailbox(conn, account_id, name)
    except (InvalidMailboxName, MailboxError):
        raise BadUrl(url) from None
    if match["uidvalidity"] is not None and int(match["uidvalidity"]) != folder.uidvalidity:
        raise BadUrl(url)
    rows = list(fetch(conn, folder.id, UidSet.of([int(match["uid"])]), structure=True))
    if not rows:
        raise BadUrl(url)
    found = section_range(rows[0], (match["section"] or "").upper())
    if found is None:
        raise BadUrl(url)
    start, end = found
    if match["offset"] is not None:
        start = min(start + int(match["offset"]), end)
        if match["length"] is not None:
            end = min(start + int(match["length"]), end)
    return store.read_range(rows[0].digest, start, end)
