"""A session's view of its selected mailbox: numbering, and folding in changes made
elsewhere as the untagged responses RFC 9051 §7.5.1 allows."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgate.protocols.imap.sequences import parse_sequence_set
from mailgate.protocols.imap.view import BadSequence, MailboxView
from mailgate.store.selected import FolderChanges, FolderMark, MessageState


def _view(uids: list[int], qresync: bool = False) -> MailboxView:
    mark = FolderMark(7, (uids[-1] + 1) if uids else 1, 10)
    view = MailboxView(1, "INBOX", False, mark, array("Q", uids), [""] * len(uids),
                       array("Q", [1] * len(uids)))
    view.qresync = qresync
    return view


def _changes(view: MailboxView, *, new=(), changed=(), vanished=()) -> FolderChanges:  # type: ignore[no-untyped-def]
    return FolderChanges(FolderMark(7, view.mark.uidnext + len(new), 11), list(new),
                         list(changed), list(vanished))


def test_message_numbers_map_to_uids() -> None:
    view = _view([3, 5, 9])
    assert view.seq_of(5) == 2 and view.seq_of(4) is None
    assert view.uids_in(view.uid_set(parse_sequence_set(b"2:*"), uid=False)) == [5, 9]
    assert view.uids_in(view.uid_set(parse_sequence_set(b"4:*"), uid=True)) == [5, 9]
    with pytest.raises(BadSequence):
        view.uid_set(parse_sequence_set(b"4"), uid=False)
    assert view.uids_in(view.uid_set(parse_sequence_set(b"2:7"), uid=False, strict=False)) \
        == [5, 9]


def test_expunges_are_numbered_highest_first_so_each_stays_valid() -> None:
    view = _view([3, 5, 9, 12])
    lines = view.apply(_changes(view, vanished=[5, 12, 99]))
    assert lines == [b"* 4 EXPUNGE\r\n", b"* 2 EXPUNGE\r\n"]
    assert list(view.uids) == [3, 9]


def test_qresync_sessions_get_vanished() -> None:
    view = _view([3, 5, 9], qresync=True)
    assert view.apply(_changes(view, vanished=[3, 5])) == [b"* VANISHED 3,5\r\n"]


def test_no_expunge_while_fetch_store_or_search_runs() -> None:
    view = _view([3, 5])
    changes = _changes(view, vanished=[3], new=[MessageState(6, "", 11)])
    assert view.apply(changes, expunges=False) == []
    assert list(view.uids) == [3, 5]  # nothing applied: asked again later
    assert view.apply(changes) == [b"* 1 EXPUNGE\r\n", b"* 2 EXISTS\r\n", b"* 0 RECENT\r\n"]


def test_flag_changes_this_session_reported_are_not_repeated() -> None:
    view = _view([3, 5])
    view.record(MessageState(5, "\\Seen", 11))
    assert view.apply(_changes(view, changed=[MessageState(5, "\\Seen", 11)])) == []
    lines = view.apply(_changes(view, changed=[MessageState(3, "\\Flagged", 12)]))
    assert lines == [b"* 1 FETCH (FLAGS (\\Flagged))\r\n"]


def test_new_messages_from_the_recent_mark_are_recent() -> None:
    view = _view([3])
    lines = view.apply(_changes(view, new=[MessageState(4, "", 11), MessageState(5, "", 11)]),
                       recent_from=5)
    assert lines == [b"* 3 EXISTS\r\n", b"* 1 RECENT\r\n"]
    assert view.shown_flags(5, "\\Seen") == "\\Recent \\Seen"
    assert view.shown_flags(4, "") == ""


@given(st.lists(st.integers(1, 200), unique=True, min_size=1).map(sorted),
       st.lists(st.integers(1, 200), unique=True))
def test_after_any_expunges_numbering_matches_the_remaining_uids(
        uids: list[int], gone: list[int]) -> None:
    view = _view(uids)
    lines = view.apply(_changes(view, vanished=gone))
    remaining = [u for u in uids if u not in set(gone)]
    assert list(view.uids) == remaining
    model = list(uids)
    for line in lines:  # replaying the EXPUNGEs in order gives the same numbering
        seq = int(line.split()[1])
        del model[seq - 1]
    assert model == remaining
