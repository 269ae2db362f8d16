"""SEARCH / SORT RETURN options (RFC 4731, RFC 5267 CONTEXT=SEARCH, RFC 9394 PARTIAL),
CANCELUPDATE, and the REMOVEFROM a live search sends before the EXPUNGE it concerns.

Commands go through the real framer and parser, as the session feeds them; bad input is a
ParseError the session answers with a tagged BAD.
"""

from __future__ import annotations

from array import array

import pytest

from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.contexts import SearchContexts
from mailgate.protocols.imap.framer import NEED_DATA, CommandFramer, Received
from mailgate.protocols.imap.parser import parse_command
from mailgate.protocols.imap.search import SearchAll
from mailgate.protocols.imap.view import MailboxView
from mailgate.store import search as keys
from mailgate.store.selected import FolderChanges, FolderMark


def parse(wire: str) -> c.Command | c.ParseError:
    framer = CommandFramer()
    framer.receive_data(wire.encode() + b"\r\n")
    event = framer.next_event()
    assert isinstance(event, Received), event
    assert framer.next_event() is NEED_DATA
    return parse_command(event.command, utf8=False)


def returns(wire: str) -> c.SearchReturn | None:
    command = parse(wire)
    assert isinstance(command, c.Search | c.Sort), command
    return command.returns


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("a SEARCH RETURN (UPDATE) BODY x", c.SearchReturn(frozenset({"UPDATE"}))),
        ("a SEARCH RETURN (update all) SEEN", c.SearchReturn(frozenset({"UPDATE", "ALL"}))),
        ("a UID SEARCH RETURN (CONTEXT UPDATE COUNT) ALL",
         c.SearchReturn(frozenset({"CONTEXT", "UPDATE", "COUNT"}))),
        ("a SEARCH RETURN () ALL", c.SearchReturn(frozenset({"ALL"}))),
        ("a SEARCH RETURN (PARTIAL 1:1) ALL", c.SearchReturn(frozenset({"PARTIAL"}), (1, 1))),
        # 4:2 is 2:4 (RFC 5267 §4.4); negative ranges count from the last result (RFC 9394).
        ("a SEARCH RETURN (partial 4:2) ALL", c.SearchReturn(frozenset({"PARTIAL"}), (2, 4))),
        ("a SEARCH RETURN (PARTIAL -1:-100 UPDATE) ALL",
         c.SearchReturn(frozenset({"PARTIAL", "UPDATE"}), (-100, -1))),
        ("a SEARCH RETURN (PARTIAL 1:4294967295 COUNT) ALL",
         c.SearchReturn(frozenset({"PARTIAL", "COUNT"}), (1, 4294967295))),
        ("a UID SORT RETURN (PARTIAL 1:10) (DATE) UTF-8 ALL",
         c.SearchReturn(frozenset({"PARTIAL"}), (1, 10))),
        ("a SEARCH ALL", None),
    ],
)
def test_return_options(wire: str, expected: c.SearchReturn | None) -> None:
    assert returns(wire) == expected


def test_an_update_search_keeps_its_program_and_form() -> None:
    assert parse("B01 UID SEARCH RETURN (UPDATE) ALL") == c.Search(
        "B01", SearchAll(), True, None, c.SearchReturn(frozenset({"UPDATE"})))


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ("a SEARCH RETURN (PARTIAL 1) ALL", "expected a range such as 1:100"),
        ("a SEARCH RETURN (PARTIAL 1:*) ALL", "expected a range such as 1:100"),
        ("a SEARCH RETURN (PARTIAL *:1) ALL", "expected a range such as 1:100"),
        ("a SEARCH RETURN (PARTIAL) ALL", "expected a space between arguments"),
        ("a SEARCH RETURN (PARTIAL 0:5) ALL", "invalid PARTIAL range"),
        ("a SEARCH RETURN (PARTIAL -1:5) ALL", "invalid PARTIAL range"),
        ("a SEARCH RETURN (PARTIAL 1:4294967296) ALL", "invalid PARTIAL range"),
        ("a SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL",
         "RETURN takes one PARTIAL or one ALL, not both or twice"),
        ("a SEARCH RETURN (PARTIAL 1:5 ALL) ALL",
         "RETURN takes one PARTIAL or one ALL, not both or twice"),
        ("a UID SEARCH RETURN (ALL UPDATE ALL) ALL",
         "RETURN takes one PARTIAL or one ALL, not both or twice"),
        ("a SEARCH RETURN (NOUPDATE) ALL", "unknown RETURN option NOUPDATE"),
        ("a SEARCH RETURN UPDATE ALL", 'expected "("'),
        ("a SEARCH RETURN (UPDATE ALL", 'expected ")"'),
        ("a SEARCH RETURN (UPDATE)", "expected a space between arguments"),
        ("a CANCELUPDATE", "expected a space between arguments"),
        ("a CANCELUPDATE B01", "expected a string"),
        ('a CANCELUPDATE "B01" ', "expected a string"),
    ],
)
def test_bad_return_options_are_bad(wire: str, message: str) -> None:
    result = parse(wire)
    assert isinstance(result, c.ParseError), result
    assert (result.status, result.message) == ("BAD", message)


def test_cancelupdate_names_one_or_more_searches() -> None:
    assert parse('a CANCELUPDATE "B01" "B02"') == c.CancelUpdate("a", ("B01", "B02"))


def _view(uids: list[int]) -> MailboxView:
    mark = FolderMark(7, uids[-1] + 1, 10)
    return MailboxView(1, "INBOX", False, mark, array("Q", uids), [""] * len(uids),
                       array("Q", [1] * len(uids)))


def test_removefrom_goes_out_before_the_expunges_it_numbers() -> None:
    view = _view([3, 5, 9, 12])
    contexts = SearchContexts()
    contexts.start(view, "S1", keys.All(), False, [5, 9, 12])
    contexts.start(view, "S2", keys.All(), True, [3, 12])
    gone = FolderChanges(FolderMark(7, 13, 11), [], [], [5, 12])
    assert view.apply(gone) == [
        b'* ESEARCH (TAG "S1") REMOVEFROM (0 2,4)\r\n',
        b'* ESEARCH (TAG "S2") UID REMOVEFROM (0 12)\r\n',
        b"* 4 EXPUNGE\r\n",
        b"* 2 EXPUNGE\r\n",
    ]


def test_ended_contexts_say_nothing() -> None:
    view = _view([3, 5])
    contexts = SearchContexts()
    contexts.start(view, "S1", keys.All(), False, [3, 5])
    contexts.cancel("S1")
    assert "S1" not in contexts
    assert view.remove([3]) == [b"* 1 EXPUNGE\r\n"]
    contexts.start(view, "S2", keys.All(), False, [5])
    contexts.clear()
    assert view.on_remove is None and view.remove([5]) == [b"* 1 EXPUNGE\r\n"]
