"""One session's view of its selected mailbox: message numbers, UIDs, flags, MODSEQ.

IMAP numbers messages 1..N in UID order, and a session's numbering changes only when the
session is told (EXISTS, EXPUNGE/VANISHED). So each session keeps the list of UIDs it has
announced, with the flags and MODSEQ it last reported, and folds in what the store says
changed (`store.selected.FolderChanges`) at the moments the RFC allows, as the untagged
responses that tell the client.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from mailgate.protocols.imap.sequences import SequenceSet
from mailgate.protocols.imap.wire import compact_set
from mailgate.store import flags as flagset
from mailgate.store.selected import FolderChanges, FolderMark, MessageState, Snapshot
from mailgate.store.uidsets import UidSet


class BadSequence(ValueError):
    """A message number beyond the mailbox (RFC 9051 §6.4.4: the command is BAD)."""


@dataclass
class MailboxView:
    """The selected mailbox as this session knows it."""

    folder_id: int
    name: str
    read_only: bool
    mark: FolderMark
    uids: array[int]
    flags: list[str]
    modseqs: array[int]
    qresync: bool = False  # VANISHED instead of EXPUNGE (RFC 7162)
    condstore: bool = False  # MODSEQ in unsolicited FETCH responses
    recent: set[int] = field(default_factory=set)  # this session's \\Recent UIDs
    announce_recent: bool = True  # `* n RECENT` after EXISTS (IMAP4rev1 only)
    held_back: bool = False  # the last `apply` waited for a moment expunges may be told
    # Search contexts (contexts.py): `revision` moves whenever a message arrives, leaves or
    # changes flags; `on_remove` gives the lines to send before expunged UIDs are forgotten.
    revision: int = 0
    on_remove: Callable[[list[int]], list[bytes]] | None = None

    @classmethod
    def of(cls, folder_id: int, name: str, read_only: bool, snap: Snapshot) -> MailboxView:
        return cls(folder_id, name, read_only, snap.mark, snap.uids, snap.flags, snap.modseqs)

    def __len__(self) -> int:
        return len(self.uids)

    @property
    def uidvalidity(self) -> int:
        return self.mark.uidvalidity

    def seq_of(self, uid: int) -> int | None:
        index = bisect.bisect_left(self.uids, uid)
        if index < len(self.uids) and self.uids[index] == uid:
            return index + 1
        return None

    def uid_set(self, messages: SequenceSet, uid: bool, strict: bool = True) -> UidSet:
        """The UIDs a sequence set names: as UIDs (`uid`) or as message numbers; message
        numbers beyond the mailbox are BadSequence when `strict` (SEARCH ignores them)."""
        if uid:
            largest = self.uids[-1] if self.uids else 0
            if not self.uids and messages.uses_star:
                return UidSet.of([])
            return UidSet.of(messages.resolve(largest))
        ranges = messages.resolve(len(self.uids))
        if ranges and ranges[-1][1] > len(self.uids):
            if strict:
                raise BadSequence("message number beyond the mailbox")
            ranges = tuple((low, min(high, len(self.uids))) for low, high in ranges
                           if low <= len(self.uids))
        return UidSet.of((self.uids[low - 1], self.uids[high - 1]) for low, high in ranges)

    def uids_in(self, wanted: UidSet) -> list[int]:
        """The announced UIDs inside a UID set, ascending."""
        return [uid for uid in self.uids if uid in wanted]

    # -- changes ------------------------------------------------------------------------------

    def record(self, state: MessageState) -> None:
        """A flag change this session made or reported: remember it, so it is not repeated."""
        index = bisect.bisect_left(self.uids, state.uid)
        if index < len(self.uids) and self.uids[index] == state.uid:
            self.flags[index] = state.flags
            self.modseqs[index] = max(self.modseqs[index], state.modseq)
            self.revision += 1

    def remove(self, uids: list[int]) -> list[bytes]:
        """Forget expunged UIDs; the untagged EXPUNGE (or VANISHED) responses."""
        gone = sorted({seq for uid in uids if (seq := self.seq_of(uid)) is not None},
                      reverse=True)
        if not gone:
            return []
        removed = [self.uids[seq - 1] for seq in gone]
        before = self.on_remove(removed) if self.on_remove is not None else []
        self.revision += 1
        self.recent.difference_update(removed)
        for seq in gone:  # highest first: the lower numbers stay valid
            del self.uids[seq - 1]
            del self.flags[seq - 1]
            del self.modseqs[seq - 1]
        if self.qresync:
            return [*before, f"* VANISHED {compact_set(removed)}\r\n".encode()]
        return [*before, *(b"* %d EXPUNGE\r\n" % seq for seq in gone)]

    def apply(self, changes: FolderChanges, *, expunges: bool = True,
              recent_from: int | None = None) -> list[bytes]:
        """Fold the store's changes in; the untagged responses announcing them.

        With `expunges` False (during FETCH, STORE and SEARCH, RFC 9051 §7.5.1) nothing is
        applied unless nothing left the mailbox; the caller asks again later. New messages
        from UID `recent_from` on are this session's recent ones.
        """
        known_vanished = [uid for uid in changes.vanished if self.seq_of(uid) is not None]
        self.held_back = bool(known_vanished) and not expunges
        if self.held_back:
            return []
        out = self.remove(known_vanished)
        for state in changes.changed:
            index = bisect.bisect_left(self.uids, state.uid)
            if index == len(self.uids) or self.uids[index] != state.uid:
                continue
            if self.modseqs[index] >= state.modseq:
                continue  # this session already reported it
            self.flags[index] = state.flags
            self.modseqs[index] = state.modseq
            self.revision += 1
            out.append(self.flag_update(index + 1, state))
        if changes.new:
            fresh = [s for s in changes.new if not self.uids or s.uid > self.uids[-1]]
            for state in fresh:
                self.uids.append(state.uid)
                self.flags.append(state.flags)
                self.modseqs.append(state.modseq)
                if recent_from is not None and state.uid >= recent_from:
                    self.recent.add(state.uid)
            if fresh:
                self.revision += 1
                out.append(b"* %d EXISTS\r\n" % len(self.uids))
                if self.announce_recent:
                    out.append(b"* %d RECENT\r\n" % len(self.recent))
        self.mark = changes.mark
        return out

    def flag_update(self, seq: int, state: MessageState, *, uid: bool = False) -> bytes:
        """`* n FETCH (FLAGS (...))`, with UID and MODSEQ when the session wants them."""
        items = []
        if uid or self.qresync:
            items.append(f"UID {state.uid}")
        items.append(f"FLAGS ({self.shown_flags(state.uid, state.flags)})")
        if self.condstore:
            items.append(f"MODSEQ ({state.modseq})")
        return f"* {seq} FETCH ({' '.join(items)})\r\n".encode()

    def shown_flags(self, uid: int, stored: str) -> str:
        """The flags of a message as FETCH FLAGS writes them, \\Recent included."""
        flags = " ".join(flagset.split(stored))
        if uid in self.recent:
            return f"\\Recent {flags}" if flags else "\\Recent"
        return flags
