"""SEARCH keys (RFC 9051 §6.4.4, RFC 3501) as an AST, and their parser.

Every key reads into one of a few node types, so the evaluator has few cases:

- `SearchAll` — ALL.
- `SearchFlag(flag, present)` — ANSWERED/UNANSWERED, DELETED, DRAFT, FLAGGED, SEEN, RECENT
  and their UN- forms, KEYWORD/UNKEYWORD. NEW is read as (RECENT UNSEEN), OLD as UNRECENT.
- `SearchText(field, value)` — BCC, BODY, CC, FROM, SUBJECT, TEXT, TO; `SearchHeader`.
- `SearchDate(field, relation, date)` — BEFORE/ON/SINCE (the internal date, field
  "INTERNAL") and SENTBEFORE/SENTON/SENTSINCE (the Date: header, field "SENT").
- `SearchSize(larger, size)`, `SearchMessages(messages, uid)` (a sequence set or UID set,
  "$" included), `SearchModSeq` (RFC 7162), `SearchAge` (YOUNGER/OLDER, RFC 5032).
- `SearchNot`, `SearchOr`, `SearchAnd` (a parenthesised list, or several keys in a row).

Search strings are decoded with the command's CHARSET (UTF-8 when absent). A charset Python
does not know still parses (values decoded as UTF-8, bad octets replaced): refusing it with
NO [BADCHARSET] is the session's decision, not a syntax error.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from mailgate.protocols.imap.reader import MAX_NUMBER64, CommandSyntaxError, Reader
from mailgate.protocols.imap.sequences import SequenceSet, parse_sequence_set

MONTHS: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DATE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")


@dataclass(frozen=True, slots=True)
class SearchAll:
    pass


@dataclass(frozen=True, slots=True)
class SearchFlag:
    flag: str  # "\\Seen", "\\Recent", ... or a keyword as written
    present: bool = True


@dataclass(frozen=True, slots=True)
class SearchText:
    field: str  # BCC BODY CC FROM SUBJECT TEXT TO
    value: str


@dataclass(frozen=True, slots=True)
class SearchHeader:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class SearchDate:
    field: str  # INTERNAL or SENT
    relation: str  # BEFORE ON SINCE
    date: dt.date


@dataclass(frozen=True, slots=True)
class SearchSize:
    larger: bool  # LARGER n, else SMALLER n
    size: int


@dataclass(frozen=True, slots=True)
class SearchMessages:
    messages: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class SearchModSeq:
    """MODSEQ [entry-name entry-type] modseq; the entry names a flag ("/flags/\\seen")."""

    modseq: int
    entry: str | None = None
    entry_type: str | None = None  # PRIV SHARED ALL


@dataclass(frozen=True, slots=True)
class SearchAge:
    older: bool  # OLDER n (arrived more than n seconds ago), else YOUNGER n
    seconds: int


@dataclass(frozen=True, slots=True)
class SearchNot:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class SearchOr:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class SearchAnd:
    keys: tuple[SearchKey, ...]


SearchKey = (
    SearchAll | SearchFlag | SearchText | SearchHeader | SearchDate | SearchSize
    | SearchMessages | SearchModSeq | SearchAge | SearchNot | SearchOr | SearchAnd
)  # fmt: skip

_SIMPLE_KEYS: Final[dict[str, SearchKey]] = {
    "ALL": SearchAll(),
    "ANSWERED": SearchFlag("\\Answered"),
    "DELETED": SearchFlag("\\Deleted"),
    "DRAFT": SearchFlag("\\Draft"),
    "FLAGGED": SearchFlag("\\Flagged"),
    "RECENT": SearchFlag("\\Recent"),
    "SEEN": SearchFlag("\\Seen"),
    "UNANSWERED": SearchFlag("\\Answered", False),
    "UNDELETED": SearchFlag("\\Deleted", False),
    "UNDRAFT": SearchFlag("\\Draft", False),
    "UNFLAGGED": SearchFlag("\\Flagged", False),
    "UNSEEN": SearchFlag("\\Seen", False),
    "OLD": SearchFlag("\\Recent", False),
    "NEW": SearchAnd((SearchFlag("\\Recent"), SearchFlag("\\Seen", False))),
}
_TEXT_KEYS: Final = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
_DATE_KEYS: Final = {
    "BEFORE": ("INTERNAL", "BEFORE"),
    "ON": ("INTERNAL", "ON"),
    "SINCE": ("INTERNAL", "SINCE"),
    "SENTBEFORE": ("SENT", "BEFORE"),
    "SENTON": ("SENT", "ON"),
    "SENTSINCE": ("SENT", "SINCE"),
}
_ARGUMENT_KEYS: Final = _TEXT_KEYS | _DATE_KEYS.keys() | {
    "KEYWORD", "UNKEYWORD", "HEADER", "LARGER", "SMALLER", "UID", "YOUNGER", "OLDER", "MODSEQ"
}  # fmt: skip
_ENTRY_TYPES: Final = frozenset({"PRIV", "SHARED", "ALL"})


def read_search_program(reader: Reader, charset: str | None) -> SearchKey:
    """1*(SP search-key) after the command (and CHARSET) up to the end: one key or an AND."""
    decode = _decoder(charset)
    keys = [_search_key(reader, decode)]
    while reader.maybe_space():
        keys.append(_search_key(reader, decode))
    reader.end()
    return keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))


def read_date(reader: Reader) -> dt.date:
    """date: d-Mon-yyyy, bare or quoted."""
    text = reader.quoted() if reader.at(b'"') else reader.atom()
    match = _DATE.fullmatch(text)
    if match is None or match[2].upper().decode() not in MONTHS:
        raise CommandSyntaxError("expected a date like 1-Feb-2024")
    month = MONTHS.index(match[2].upper().decode()) + 1
    try:
        return dt.date(int(match[3]), month, int(match[1]))
    except ValueError:
        raise CommandSyntaxError("no such date") from None


def read_flag_keyword(reader: Reader) -> str:
    """flag-keyword: an atom (not a system flag)."""
    if reader.at(b"\\"):
        raise CommandSyntaxError("expected a keyword, not a system flag")
    return reader.atom().decode("ascii")


def _search_key(reader: Reader, decode: _Decode) -> SearchKey:
    reader.descend()
    key = _nested_key(reader, decode)
    reader.depth -= 1
    return key


def _nested_key(reader: Reader, decode: _Decode) -> SearchKey:
    if reader.at(b"("):
        keys = reader.parenthesised(lambda: _search_key(reader, decode), empty=False)
        return keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))
    first = reader.peek()
    if first.isdigit() or first in (b"*", b"$"):
        return SearchMessages(parse_sequence_set(reader.sequence_text()))
    name = reader.keyword()
    simple = _SIMPLE_KEYS.get(name)
    if simple is not None:
        return simple
    if name == "NOT":
        reader.space()
        return SearchNot(_search_key(reader, decode))
    if name == "OR":
        reader.space()
        left = _search_key(reader, decode)
        reader.space()
        return SearchOr(left, _search_key(reader, decode))
    if name not in _ARGUMENT_KEYS:
        raise CommandSyntaxError(f"unknown search key {name[:40]}")
    reader.space()
    return _key_with_argument(reader, name, decode)


def _key_with_argument(reader: Reader, name: str, decode: _Decode) -> SearchKey:
    if name in _TEXT_KEYS:
        return SearchText(name, decode(reader.astring()))
    if name in _DATE_KEYS:
        return SearchDate(*_DATE_KEYS[name], read_date(reader))
    if name in ("KEYWORD", "UNKEYWORD"):
        return SearchFlag(read_flag_keyword(reader), name == "KEYWORD")
    if name == "HEADER":
        header = decode(reader.astring())
        reader.space()
        return SearchHeader(header, decode(reader.astring()))
    if name in ("LARGER", "SMALLER"):
        return SearchSize(name == "LARGER", reader.number(MAX_NUMBER64))
    if name == "UID":
        return SearchMessages(parse_sequence_set(reader.sequence_text()), uid=True)
    if name in ("YOUNGER", "OLDER"):
        return SearchAge(name == "OLDER", reader.nz_number())
    return _modseq(reader)  # the last of _ARGUMENT_KEYS


def _modseq(reader: Reader) -> SearchModSeq:
    if not reader.at(b'"'):
        return SearchModSeq(reader.number(MAX_NUMBER64))
    entry = reader.quoted()
    if not entry.lower().startswith(b"/flags/") or not entry.isascii():
        raise CommandSyntaxError("MODSEQ entry names must be /flags/<flag>")
    reader.space()
    entry_type = reader.keyword()
    if entry_type not in _ENTRY_TYPES:
        raise CommandSyntaxError("MODSEQ entry type must be priv, shared or all")
    reader.space()
    return SearchModSeq(reader.number(MAX_NUMBER64), entry.decode("ascii"), entry_type)


class _Decode:
    """Search strings from octets, in the command's charset."""

    __slots__ = ("_codec", "_errors")

    def __init__(self, codec: str, errors: str) -> None:
        self._codec = codec
        self._errors = errors

    def __call__(self, data: bytes) -> str:
        try:
            return data.decode(self._codec, self._errors)
        except (UnicodeError, ValueError):
            raise CommandSyntaxError("search string not valid in its charset") from None


def _decoder(charset: str | None) -> _Decode:
    if charset is None:
        return _Decode("utf-8", "strict")
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):  # not zlib, hex...
        return _Decode("utf-8", "replace")
    return _Decode(info.name, "strict")
