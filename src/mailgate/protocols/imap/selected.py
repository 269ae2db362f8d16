"""The grammar of the commands on a selected mailbox's messages (and their UID forms).

EXPUNGE, SEARCH (ESEARCH and CONTEXT=SEARCH RETURN options), SORT (with ESORT), THREAD,
CANCELUPDATE, FETCH (CONDSTORE/QRESYNC modifiers), STORE (UNCHANGEDSINCE), COPY, MOVE.
Each function reads the arguments after the command name and returns the command.
"""

from __future__ import annotations

import re
from typing import Final

from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.arguments import Arguments
from mailgate.protocols.imap.fetch import read_fetch_items
from mailgate.protocols.imap.reader import MAX_NUMBER, MAX_NUMBER64, CommandSyntaxError, utf8_text
from mailgate.protocols.imap.search import SearchKey, read_search_program

SEARCH_RETURNS: Final = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE", "CONTEXT", "UPDATE"})
SORT_KEYS: Final = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
THREAD_ALGORITHMS: Final = frozenset({"ORDEREDSUBJECT", "REFERENCES", "REFS"})
_PARTIAL_RANGE = re.compile(rb"(-?)([0-9]{1,10}):(-?)([0-9]{1,10})")


def expunge(a: Arguments, uid: bool) -> c.Expunge:
    return c.Expunge(a.tag, a.space_sequence_set() if uid else None)


def search(a: Arguments, uid: bool) -> c.Search:
    a.space()
    returns = _search_returns(a)
    charset = None
    if a.at_keyword(b"CHARSET"):
        a.keyword()
        a.space()
        charset = a.text("the charset")
        a.space()
    return c.Search(a.tag, read_search_program(a, charset), uid, charset, returns)


def sort(a: Arguments, uid: bool) -> c.Sort:
    a.space()
    returns = _search_returns(a)
    criteria = a.parenthesised(lambda: _sort_criterion(a), empty=False)
    charset, key = _charset_and_keys(a)
    return c.Sort(a.tag, tuple(criteria), charset, key, uid, returns)


def thread(a: Arguments, uid: bool) -> c.Thread:
    a.space()
    algorithm = a.keyword()
    if algorithm not in THREAD_ALGORITHMS:
        raise CommandSyntaxError(f"unknown threading algorithm {algorithm[:40]}")
    charset, key = _charset_and_keys(a)
    return c.Thread(a.tag, algorithm, charset, key, uid)


def cancelupdate(a: Arguments, _: bool) -> c.CancelUpdate:
    a.space()
    tags = [utf8_text(a.string(), "a search tag")]
    while a.maybe_space():
        tags.append(utf8_text(a.string(), "a search tag"))
    return c.CancelUpdate(a.tag, tuple(tags))


def fetch(a: Arguments, uid: bool) -> c.Fetch:
    messages = a.space_sequence_set()
    a.space()
    items = read_fetch_items(a)
    changed_since: list[int] = []

    def modifier() -> str:
        name = a.keyword()
        if name == "CHANGEDSINCE":
            a.space()
            changed_since.append(a.nz_number(MAX_NUMBER64))
        elif name != "VANISHED":
            raise CommandSyntaxError(f"unknown FETCH modifier {name[:40]}")
        return name

    modifiers = a.parenthesised(modifier, empty=False) if a.maybe_space() else []
    vanished = "VANISHED" in modifiers
    if vanished and (not uid or not changed_since):
        raise CommandSyntaxError("VANISHED needs UID FETCH and CHANGEDSINCE")
    since = changed_since[-1] if changed_since else None
    return c.Fetch(a.tag, messages, items, uid, since, vanished)


def store(a: Arguments, uid: bool) -> c.Store:
    messages = a.space_sequence_set()
    a.space()
    unchanged_since = None
    if a.at(b"("):
        a.expect(b"(", '"("')
        if a.keyword() != "UNCHANGEDSINCE":
            raise CommandSyntaxError("unknown STORE modifier")
        a.space()
        unchanged_since = a.number(MAX_NUMBER64)
        a.expect(b")", '")"')
        a.space()
    item = a.keyword()
    mode = item[0] if item[0] in "+-" else ""
    if item[len(mode) :] not in ("FLAGS", "FLAGS.SILENT"):
        raise CommandSyntaxError("expected FLAGS, +FLAGS or -FLAGS")
    a.space()
    if a.at(b"("):
        flags = a.flag_list()
    else:
        flag_words = [a.flag()]
        while a.maybe_space():
            flag_words.append(a.flag())
        flags = tuple(flag_words)
    silent = item.endswith(".SILENT")
    return c.Store(a.tag, messages, mode, flags, silent, uid, unchanged_since)


def copy(a: Arguments, uid: bool) -> c.Copy:
    messages = a.space_sequence_set()
    return c.Copy(a.tag, messages, a.space_mailbox(), uid)


def move(a: Arguments, uid: bool) -> c.Move:
    messages = a.space_sequence_set()
    return c.Move(a.tag, messages, a.space_mailbox(), uid)


def _search_returns(a: Arguments) -> c.SearchReturn | None:
    """[RETURN (options) SP], options per RFC 4731, RFC 5267 and RFC 9394 (PARTIAL)."""
    if not a.at_keyword(b"RETURN"):
        return None
    a.keyword()
    a.space()
    partial: list[tuple[int, int]] = []

    def option() -> str:
        name = a.keyword()
        if name == "PARTIAL":
            a.space()
            partial.append(_partial_range(a))
        elif name not in SEARCH_RETURNS:
            raise CommandSyntaxError(f"unknown RETURN option {name[:40]}")
        return name

    named = a.parenthesised(option)
    if named.count("PARTIAL") + named.count("ALL") > 1:  # RFC 5267 §4.4, RFC 9394 §3.1
        raise CommandSyntaxError("RETURN takes one PARTIAL or one ALL, not both or twice")
    a.space()
    return c.SearchReturn(frozenset(named) or frozenset({"ALL"}), partial[0] if partial else None)


def _partial_range(a: Arguments) -> tuple[int, int]:
    """low:high, both positive or both negative (RFC 9394), never 0 or "*"."""
    match = a.match(_PARTIAL_RANGE, "a range such as 1:100")
    first, last = int(match[2]), int(match[4])
    if match[1] != match[3] or not first or not last or max(first, last) > MAX_NUMBER:
        raise CommandSyntaxError("invalid PARTIAL range")
    sign = -1 if match[1] else 1
    return min(first * sign, last * sign), max(first * sign, last * sign)


def _charset_and_keys(a: Arguments) -> tuple[str, SearchKey]:
    a.space()
    charset = a.text("the charset")
    a.space()
    return charset, read_search_program(a, charset)


def _sort_criterion(a: Arguments) -> c.SortCriterion:
    name = a.keyword()
    reverse = name == "REVERSE"
    if reverse:
        a.space()
        name = a.keyword()
    if name not in SORT_KEYS:
        raise CommandSyntaxError(f"unknown sort key {name[:40]}")
    return c.SortCriterion(name, reverse)
