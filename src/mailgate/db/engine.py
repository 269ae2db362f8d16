"""Engine factory for SQLite (embedded default) and PostgreSQL, and schema migration."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect

MIGRATIONS = Path(__file__).parent / "migrations"


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
            cur.close()

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


def migrate(engine: Engine, blob_dir: Path | None = None) -> None:
    """Bring the database schema to the newest migration. Migrations that read stored
    messages (0006) need the data directory's `blob_dir` when there is mail."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["blob_dir"] = blob_dir
        command.upgrade(cfg, "head")


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("accounts")
