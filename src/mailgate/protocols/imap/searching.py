"""SEARCH programs as the client wrote them, turned into the store's search keys.

Message numbers become the UID ranges they name in the session's view, `$` the saved
result (RFC 5182), and RECENT the session's own recent messages.
"""

from __future__ import annotations

from mailgate.protocols.imap import search as ast
from mailgate.protocols.imap.view import MailboxView
from mailgate.store import search as keys
from mailgate.store.errors import SearchUnsupported
from mailgate.store.uidsets import UidSet


def store_key(key: ast.SearchKey, view: MailboxView, saved: list[int]) -> keys.SearchKey:
    """The store's key for a parsed one."""
    match key:
        case ast.SearchAll():
            return keys.All()
        case ast.SearchFlag(flag, present):
            found: keys.SearchKey = keys.Flag(flag)
            if flag == "\\Recent":  # the session's own recent messages (RFC 3501)
                found = keys.Uids(UidSet.of(sorted(view.recent)))
            return found if present else keys.Not(found)
        case ast.SearchText(field, value):
            if field == "BODY":
                return keys.Body(value)
            if field == "TEXT":
                return keys.Text(value)
            if field == "SUBJECT":
                return keys.Header(field, value)
            return keys.Address(field, value)
        case ast.SearchHeader(name, value):
            return keys.Header(name.upper(), value)
        case ast.SearchDate(field, relation, date):
            return _DATES[(field, relation)](date)
        case ast.SearchSize(larger, size):
            return keys.Larger(size) if larger else keys.Smaller(size)
        case ast.SearchMessages(messages, uid):
            if messages.saved:
                return keys.Uids(UidSet.of(saved))
            return keys.Uids(view.uid_set(messages, uid, strict=False))
        case ast.SearchModSeq(modseq):
            return keys.ModSeq(modseq)
        case ast.SearchNot(inner):
            return keys.Not(store_key(inner, view, saved))
        case ast.SearchOr(left, right):
            return keys.Or(store_key(left, view, saved), store_key(right, view, saved))
        case ast.SearchAnd(parts):
            return keys.And(tuple(store_key(k, view, saved) for k in parts))
        case ast.SearchAge():
            raise SearchUnsupported("YOUNGER and OLDER are not supported")
    raise TypeError(f"not a search key: {key!r}")


def uses_modseq(key: ast.SearchKey) -> bool:
    """True when the program has a MODSEQ key (the reply then carries (MODSEQ n))."""
    match key:
        case ast.SearchModSeq():
            return True
        case ast.SearchNot(inner):
            return uses_modseq(inner)
        case ast.SearchOr(left, right):
            return uses_modseq(left) or uses_modseq(right)
        case ast.SearchAnd(parts):
            return any(uses_modseq(k) for k in parts)
    return False


_DATES = {
    ("INTERNAL", "BEFORE"): keys.Before, ("INTERNAL", "ON"): keys.On,
    ("INTERNAL", "SINCE"): keys.Since, ("SENT", "BEFORE"): keys.SentBefore,
    ("SENT", "ON"): keys.SentOn, ("SENT", "SINCE"): keys.SentSince,
}
