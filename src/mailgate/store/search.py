"""SEARCH in a selected folder: the keys SQL answers from message rows, in one query.

The door turns the parsed SEARCH program into these keys: SEEN is `Flag("\\Seen")`,
UNSEEN `Not(Flag("\\Seen"))`, KEYWORD k `Flag(k)`, ALL and OLD `All()`, NEW and RECENT
`Flag("\\Recent")` (never true: there is no \\Recent), a sequence set the UID ranges it
maps to. Dates are days: BEFORE/ON/SINCE compare the internal date in UTC,
SENTBEFORE/SENTON/SENTSINCE the Date header in the sender's own zone (both
"disregarding time and timezone", RFC 9051 §6.4.4); a message without a usable Date
uses its internal date.

Full text: SUBJECT is `Header("SUBJECT", value)`; FROM, TO, CC and BCC are
`Address(name, value)`, matched against the normalised address list as Dovecot does
(`mime.addresstext`: comments dropped, display names and routes written one way); TEXT,
BODY and HEADER are `Text`, `Body` and `Header`. They are answered from the full-text index kept at
delivery (`store.fulltext`: substring, case-insensitive, RFC 2047 and transfer encodings
decoded) as `messages.digest IN (SELECT digest FROM search_text ...)`, so they combine
with the rest in the same query and no message file is read. HEADER name "" matches the
messages that have the field.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, false, func, not_, or_, select, true

from mailgate.db.schema import blobs, messages
from mailgate.store.flags import has_flag
from mailgate.store.fulltext import anywhere, in_addresses, in_body, in_header
from mailgate.store.uidsets import UidSet

DAY = 86400


@dataclass(frozen=True)
class All:
    pass


@dataclass(frozen=True)
class Uids:
    uids: UidSet


@dataclass(frozen=True)
class Flag:
    flag: str


@dataclass(frozen=True)
class Larger:
    size: int


@dataclass(frozen=True)
class Smaller:
    size: int


@dataclass(frozen=True)
class Before:
    day: datetime.date


@dataclass(frozen=True)
class On:
    day: datetime.date


@dataclass(frozen=True)
class Since:
    day: datetime.date


@dataclass(frozen=True)
class SentBefore:
    day: datetime.date


@dataclass(frozen=True)
class SentOn:
    day: datetime.date


@dataclass(frozen=True)
class SentSince:
    day: datetime.date


@dataclass(frozen=True)
class ModSeq:
    """CONDSTORE MODSEQ n: messages whose MODSEQ is at least n."""

    modseq: int


@dataclass(frozen=True)
class Not:
    key: SearchKey


@dataclass(frozen=True)
class And:
    keys: tuple[SearchKey, ...]


@dataclass(frozen=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class Header:
    field: str
    value: str


@dataclass(frozen=True)
class Address:
    """FROM, TO, CC or BCC (`field`): the field's parsed addresses contain `value`."""

    field: str
    value: str


@dataclass(frozen=True)
class Body:
    value: str


@dataclass(frozen=True)
class Text:
    value: str


SearchKey = (All | Uids | Flag | Larger | Smaller | Before | On | Since | SentBefore | SentOn
             | SentSince | ModSeq | Not | And | Or | Header | Address | Body | Text)


@dataclass(frozen=True)
class SearchResult:
    uids: list[int]
    highest_modseq: int | None  # of the matches, for CONDSTORE's (MODSEQ n)


def _day(day: datetime.date) -> int:
    return calendar.timegm(day.timetuple())


def _sent_local() -> ColumnElement[float]:
    """The Date header's wall-clock time in the sender's zone, or the internal date."""
    return func.coalesce(blobs.c.sent_date + blobs.c.sent_tz * 60, messages.c.internal_date)


def _dated(value: ColumnElement[float], kind: str, day: datetime.date) -> ColumnElement[bool]:
    start = _day(day)
    if kind == "before":
        return value < start
    if kind == "since":
        return value >= start
    return and_(value >= start, value < start + DAY)


def _needs_blobs(key: SearchKey) -> bool:
    match key:
        case SentBefore() | SentOn() | SentSince():
            return True
        case Not(inner):
            return _needs_blobs(inner)
        case And(keys):
            return any(_needs_blobs(k) for k in keys)
        case Or(left, right):
            return _needs_blobs(left) or _needs_blobs(right)
    return False


def condition(key: SearchKey) -> ColumnElement[bool]:
    """The SQL condition of one search key."""
    match key:
        case All():
            return true()
        case Uids(uids):
            return uids.condition(messages.c.uid)
        case Flag(flag):
            return false() if flag.casefold() == "\\recent" else has_flag(flag)
        case Larger(size):
            return messages.c.size > size
        case Smaller(size):
            return messages.c.size < size
        case Before(day):
            return _dated(messages.c.internal_date, "before", day)
        case On(day):
            return _dated(messages.c.internal_date, "on", day)
        case Since(day):
            return _dated(messages.c.internal_date, "since", day)
        case SentBefore(day):
            return _dated(_sent_local(), "before", day)
        case SentOn(day):
            return _dated(_sent_local(), "on", day)
        case SentSince(day):
            return _dated(_sent_local(), "since", day)
        case ModSeq(modseq):
            return messages.c.modseq >= modseq
        case Not(inner):
            return not_(condition(inner))
        case And(keys):
            return and_(true(), *(condition(k) for k in keys))
        case Or(left, right):
            return or_(condition(left), condition(right))
        case Header(field, value):
            return in_header(field, value)
        case Address(field, value):
            return in_addresses(field, value)
        case Body(value):
            return in_body(value)
        case Text(value):
            return anywhere(value)
    raise TypeError(f"not a search key: {key!r}")


def search(conn: Connection, folder: int, key: SearchKey, max_uid: int | None = None
           ) -> SearchResult:
    """Matching UIDs, ascending, in one query. `max_uid` keeps out messages the session
    has not announced yet."""
    query = select(messages.c.uid, messages.c.modseq)
    if _needs_blobs(key):
        query = query.join(blobs, blobs.c.digest == messages.c.digest)
    query = query.where(messages.c.folder_id == folder, condition(key))
    if max_uid is not None:
        query = query.where(messages.c.uid <= max_uid)
    uids, highest = [], None
    for uid, modseq in conn.execute(query.order_by(messages.c.uid)):
        uids.append(int(uid))
        highest = modseq if highest is None else max(highest, modseq)
    return SearchResult(uids, None if highest is None else int(highest))
