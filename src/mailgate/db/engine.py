"""Engine factory for SQLite (embedded default) and PostgreSQL, schema migration, and the
one place a damaged SQLite file is recognised."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import ExceptionContext

MIGRATIONS = Path(__file__).parent / "migrations"
DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
#: A reader connection's page cache, in KiB (SQLite's default is 2 MiB a connection). The
#: operating system caches the file as well; the pooled readers' caches each filled up with
#: the pages of a burst of sign-ins and held them for good.
READER_CACHE_KIB = 256


class DatabaseDamaged(Exception):
    """The SQLite file is corrupt, truncated or not a database; the message names the file."""

    def __init__(self, path: str | None, problem: str) -> None:
        super().__init__(f"the database {path} is damaged ({' '.join(problem.split())}); "
                         "restore it from a backup")


def _damage_in(path: str | None, error: BaseException) -> DatabaseDamaged | None:
    """SQLite reports a damaged file as SQLITE_CORRUPT or SQLITE_NOTADB (extended codes keep
    the primary code in their low byte)."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if isinstance(error, sqlite3.DatabaseError) and code in DAMAGE_CODES:
        return DatabaseDamaged(path, str(error))
    return None


def make_engine(url: str, writer: bool = True) -> Engine:
    """An engine tuned for mailgate: WAL + durable commits on SQLite, a pool on PostgreSQL.

    On SQLite a writer engine takes the write lock when a transaction begins (so writers
    queue instead of failing); a reader engine begins deferred transactions, which under
    WAL read a consistent snapshot without waiting for any writer.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if not writer:
                cur.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            cur.close()

        @event.listens_for(engine, "handle_error")
        def _sqlite_damage(context: ExceptionContext) -> DatabaseDamaged | None:
            # on any statement or connection, wherever it runs (CLI, server, migrations)
            return _damage_in(engine.url.database, context.original_exception)

        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
            conn.exec_driver_sql(begin)

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine, blob_dir: Path | None = None, revision: str = "head") -> None:
    """Bring the database schema to the newest migration (or to `revision`). `blob_dir`
    (the data directory's message files) lets a migration read the messages already
    stored (0006 takes their sort keys, 0007 indexes their text)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    cfg.attributes["blob_dir"] = blob_dir
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["blob_dir"] = blob_dir
        command.upgrade(cfg, revision)


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("accounts")


def check_integrity(engine: Engine) -> None:
    """SQLite: read every page (`PRAGMA quick_check`); DatabaseDamaged if any is bad."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        problems = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check(1)")]
    if problems != ["ok"]:
        raise DatabaseDamaged(engine.url.database, problems[0])
