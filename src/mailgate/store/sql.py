"""SQL helpers the store shares across SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import BindParameter, Connection, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    """An INSERT that can take ON CONFLICT clauses, in this connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, as one executemany (one compiled statement)."""
    if rows:
        conn.execute(upsert(conn, table).on_conflict_do_nothing(), rows)


def literal_in(values: list[int] | list[str]) -> BindParameter[object]:
    """An IN list written into the SQL text (values made by the store: ids, digests), so a
    set of any size escapes the databases' bound-parameter limits."""
    return bindparam("values", values, expanding=True, unique=True, literal_execute=True)
