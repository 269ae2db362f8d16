"""SQL helpers the store shares across SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Connection,
    Executable,
    Table,
    any_,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    """An INSERT that can take ON CONFLICT clauses, in this connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


_IGNORING: dict[tuple[str, str], Executable] = {}


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, as one executemany (one compiled statement, built
    once per dialect and table: a statement object remembers its cache key)."""
    if rows:
        key = (conn.dialect.name, table.name)
        statement = _IGNORING.get(key)
        if statement is None:
            statement = _IGNORING[key] = upsert(conn, table).on_conflict_do_nothing()
        conn.execute(statement, rows)


def literal_in(values: list[int] | list[str]) -> BindParameter[object]:
    """An IN list written into the SQL text (values made by the store: ids, digests), so a
    set of any size escapes the databases' bound-parameter limits."""
    return bindparam("values", values, expanding=True, unique=True, literal_execute=True)


def in_ids(conn: Connection, column: ColumnElement[int], ids: Sequence[int]
           ) -> ColumnElement[bool]:
    """`column IN ids` with the ids as one bound parameter (a JSON array on SQLite, an array
    on PostgreSQL): the SQL text is the same for any number of ids. A poll run many times a
    second over a changing set (the folders idle sessions watch) otherwise made a new
    statement for each count, and SQLite's per-connection statement cache kept up to 128 of
    them, each as large as its list: megabytes a connection with 2 000 sessions in IDLE."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(BigInteger)))
    listed = func.json_each(json.dumps(list(ids))).table_valued("value")
    return column.in_(select(listed.c.value))
