"""Live search results: the UPDATE return option of CONTEXT=SEARCH (RFC 5267 §4.3).

`SEARCH RETURN (UPDATE) ...` (or UID SEARCH) leaves a context named by the command's tag
that holds the UIDs its program matched. While the mailbox stays selected the session tells
the client how that result changes, where it announces EXISTS, EXPUNGE and FETCH::

    * ESEARCH (TAG "B01") UID ADDTO (0 32768:32769)     messages that match now
    * ESEARCH (TAG "B01") REMOVEFROM (0 4)              messages that no longer match

Message numbers for SEARCH, UIDs for UID SEARCH; position 0, which RFC 5267 allows for
SEARCH results, with the set in mailbox order. REMOVEFROM for expunged messages goes out
before their EXPUNGE responses (the view asks `on_remove` while the numbers still hold),
ADDTO for new messages after EXISTS. The program's message sets, `$` and RECENT were fixed
to UIDs when the search ran (RFC 5267 §4.3), so a context is brought up to date by
running its store key again, once the view's `revision` moved. CANCELUPDATE, CLOSE,
UNSELECT and SELECT end contexts; beyond `MAX_CONTEXTS` a search still answers, without
updates (`* NO [NOUPDATE "tag"]`, RFC 5267 §4.3.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailgate.protocols.imap.view import MailboxView
from mailgate.protocols.imap.wire import compact_set, text_string
from mailgate.store import search as keys
from mailgate.store.search import search as store_search

if TYPE_CHECKING:
    from mailgate.protocols.imap.session import ImapSession

MAX_CONTEXTS = 8  # live contexts per session; RFC 5267 asks for at least one


@dataclass
class SearchContext:
    """One live search: its program, how it numbers messages, and what it matched."""

    key: keys.SearchKey
    uid: bool
    matched: set[int]
    revision: int  # the view's revision `matched` reflects


class SearchContexts:
    """The live search contexts of one session, all on its selected mailbox's view."""

    def __init__(self) -> None:
        self._view: MailboxView | None = None
        self._live: dict[str, SearchContext] = {}

    def __contains__(self, tag: str) -> bool:
        return tag in self._live

    @property
    def full(self) -> bool:
        return len(self._live) >= MAX_CONTEXTS

    def start(self, view: MailboxView, tag: str, key: keys.SearchKey, uid: bool,
              matched: list[int]) -> None:
        """Keep `tag`'s search live; `matched` are the UIDs its reply just reported."""
        if view is not self._view:
            self.clear()
            self._view = view
            view.on_remove = self._removing
        self._live[tag] = SearchContext(key, uid, set(matched), view.revision)

    def cancel(self, tag: str) -> None:
        self._live.pop(tag, None)

    def clear(self) -> None:
        """End every context (the mailbox is closed or another one selected)."""
        if self._view is not None:
            self._view.on_remove = None
        self._view = None
        self._live.clear()

    def _removing(self, uids: list[int]) -> list[bytes]:
        """REMOVEFROM for matched messages being expunged, numbered before they go."""
        view = self._view
        assert view is not None
        gone = set(uids)
        out = []
        for tag, context in self._live.items():
            removed = context.matched & gone
            if removed:
                context.matched -= removed
                out.append(_update(tag, context, "REMOVEFROM", removed, view))
        return out

    async def announce(self, session: ImapSession) -> None:
        """Run again the contexts whose view changed; send their ADDTO / REMOVEFROM."""
        view = self._view
        if view is None or session.view is not view:
            return
        stale = {tag: context.key for tag, context in self._live.items()
                 if context.revision != view.revision}
        if not stale:
            return
        revision = view.revision
        top = view.uids[-1] if view.uids else 0

        def run(conn):  # type: ignore[no-untyped-def]
            return {tag: store_search(conn, view.folder_id, key, top).uids
                    for tag, key in stale.items()}

        found = await session.backend.read(run)
        if session.view is not view or self._view is not view:
            return
        for tag, uids in found.items():
            context = self._live.get(tag)
            if context is None:  # cancelled meanwhile
                continue
            now = {uid for uid in uids if view.seq_of(uid) is not None}
            removed, added = context.matched - now, now - context.matched
            context.matched, context.revision = now, revision
            if removed:
                session.send(_update(tag, context, "REMOVEFROM", removed, view))
            if added:
                session.send(_update(tag, context, "ADDTO", added, view))


def _update(tag: str, context: SearchContext, item: str, uids: set[int],
            view: MailboxView) -> bytes:
    """`* ESEARCH (TAG "t") [UID] ADDTO|REMOVEFROM (0 set)` in the view's numbering."""
    numbers = uids if context.uid else [seq for uid in uids if (seq := view.seq_of(uid))]
    marker = " UID" if context.uid else ""
    return (f"* ESEARCH (TAG {text_string(tag)}){marker} {item} (0 {compact_set(numbers)})"
            "\r\n").encode()
