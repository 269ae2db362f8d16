"""SEARCH's full-text index: the folded text of each distinct message, keyed by blob digest.

`index` writes a message's rows (`search_text`: one per header field name, field "" for the
body text, and "address:from" ... for the normalised From, To, Cc and Bcc that the address
keys match; see `mailgate.mime.searchtext`) in the transaction that inserts its blob row, so
a message is searchable exactly when it is visible; the rows go with the blob row (ON DELETE
CASCADE) when `purge_expired` destroys it. A message in many folders is indexed once.
`catch_up` then adds the transaction's new rows to SQLite's FTS5 index in one statement,
outside any savepoint (FTS5 writes its pending terms out at every savepoint, which doubled
the cost of a delivery); rows not yet in it (after `search_fts_mark.through`) are still
found, by checking their text directly.

`in_header`, `in_addresses`, `in_body` and `anywhere` compile HEADER (and SUBJECT), FROM
(TO, CC, BCC), BODY and TEXT to
a condition on `messages`, so full-text keys combine with the other keys in the one search
query and no message file is read. Strings of 3 characters or more use the trigram index:
on SQLite the FTS5 table `search_fts` (trigram tokenizer over `search_text.text`, kept in
step by triggers; without positions, which keeps it a few percent of the text's size and
cheap to maintain) names the rows holding trigrams that cover the string, whose text is
then checked; on PostgreSQL a pg_trgm GIN index answers LIKE (without pg_trgm, LIKE scans
`search_text`). Shorter strings have no trigram: LIKE checks the rows of the messages at
hand only (a correlated EXISTS), which is exact on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    column,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.compiler import compiles

from mailgate.db.schema import messages, search_text
from mailgate.mime.searchtext import SearchText, fold
from mailgate.store.sql import insert_ignore

BODY = ""  # the `field` of a message's body text
ADDRESSES = "address:"  # + field name: the `field` of a normalised address list (no header
#                          field name holds a colon, RFC 5322 §3.6.8)
TRIGRAM = 3  # the shortest string the index can answer
_FTS = table("search_fts", column("rowid"))
_MARK = table("search_fts_mark", column("through"))  # SQLite: rows up to it are in search_fts
_CATCH_UP = text("INSERT INTO search_fts(rowid, text) SELECT id, text FROM search_text "
                 "WHERE id > (SELECT through FROM search_fts_mark) ORDER BY id")
_MOVE_MARK = text("UPDATE search_fts_mark SET through = "
                  "(SELECT coalesce(max(id), 0) FROM search_text)")


def index(conn: Connection, items: Iterable[tuple[str, SearchText]]) -> None:
    """Index messages whose blob rows this transaction inserted: one executemany; a
    message indexed already (the same blob delivered again) keeps its rows."""
    unique = dict(items)
    insert_ignore(conn, search_text, [
        {"digest": digest, "field": field, "text": folded}
        for digest, found in unique.items()
        for field, folded in [(BODY, found.body), *found.fields.items(),
                              *((ADDRESSES + name, value)
                                for name, value in found.addresses.items())]])


def catch_up(conn: Connection) -> None:
    """SQLite: index the `search_text` rows the FTS5 index lacks, once per transaction and
    outside its savepoints (`messages.store_into` and the group commit call it); nothing to
    do on PostgreSQL, whose trigram index PostgreSQL keeps."""
    if conn.dialect.name == "sqlite" and conn.execute(_CATCH_UP).rowcount:
        conn.execute(_MOVE_MARK)  # (nothing new: the mark is at the highest id already)


def in_header(name: str, value: str) -> ColumnElement[bool]:
    """HEADER name value (SUBJECT too): a top-level header field of that name (any case)
    containing `value`; an empty value: messages that have the field."""
    if not name or ":" in name:
        return false()  # no field name is empty or holds a colon (RFC 5322 §2.2)
    return _containing(value, search_text.c.field == name.lower())


def in_addresses(name: str, value: str) -> ColumnElement[bool]:
    """FROM, TO, CC, BCC value: the normalised address list of that top-level field contains
    `value`; an empty value: messages that have the field."""
    return _containing(value, search_text.c.field == ADDRESSES + name.lower())


def in_body(value: str) -> ColumnElement[bool]:
    """BODY value: the text of the body parts contains `value`."""
    return _containing(value, search_text.c.field == BODY)


def anywhere(value: str) -> ColumnElement[bool]:
    """TEXT value: a header field or the body contains `value` (the address lists, written
    anew, are not the message's text)."""
    return _containing(value, not_(search_text.c.field.startswith(ADDRESSES)))


def _containing(value: str, *where: ColumnElement[bool]) -> ColumnElement[bool]:
    wanted = fold(value)
    if len(wanted) >= TRIGRAM:
        return messages.c.digest.in_(select(search_text.c.digest).where(_Trigrams(wanted),
                                                                         *where))
    if wanted:
        where = (*where, search_text.c.text.contains(wanted, autoescape=True))
    return exists(select(1).where(search_text.c.digest == messages.c.digest, *where))


class _Trigrams(ColumnElement[bool]):
    """`search_text.text` contains a folded string of TRIGRAM characters or more, answered
    from the database's trigram index (rendered per dialect below)."""

    type = Boolean()
    inherit_cache = False  # the value is rendered into each dialect's own parameter

    def __init__(self, value: str) -> None:
        self.value = value


@compiles(_Trigrams)
def _like(element: _Trigrams, compiler: Any, **kw: Any) -> str:
    """PostgreSQL: LIKE, which a pg_trgm GIN index answers."""
    pattern = "%" + element.value.replace("\\", "\\\\").replace("%", "\\%").replace(
        "_", "\\_") + "%"
    return str(compiler.process(search_text.c.text.like(pattern, escape="\\"), **kw))


@compiles(_Trigrams, "sqlite")
def _fts5(element: _Trigrams, compiler: Any, **kw: Any) -> str:
    """SQLite: the rows FTS5 finds holding trigrams that cover the string (every third and
    the last), then checked for the string itself (the index keeps no positions)."""
    value = element.value
    starts = sorted({*range(0, len(value) - TRIGRAM + 1, TRIGRAM), len(value) - TRIGRAM})
    query = " AND ".join('"' + value[i:i + TRIGRAM].replace('"', '""') + '"' for i in starts)
    candidates = select(_FTS.c.rowid).where(
        literal_column("search_fts").op("MATCH")(bindparam(None, query, unique=True)))
    not_indexed_yet = search_text.c.id > select(_MARK.c.through).scalar_subquery()
    found = and_(or_(search_text.c.id.in_(candidates), not_indexed_yet),
                 func.instr(search_text.c.text, bindparam(None, value, unique=True)) > 0)
    return str(compiler.process(found, **kw))
