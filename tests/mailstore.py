"""Helpers for the IMAP mail-store tests: an account with mail in it, statement counting,
and the real CLI on the test's own database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from mailgate.directory import accounts
from mailgate.directory.authority import Actor
from mailgate.directory.views import account_row
from mailgate.service import Service
from mailgate.store import importer
from mailgate.store.mailboxes import Folder, find_mailbox
from support import Result, run_cli, run_inprocess

ADDRESS = "mia@example.test"


def message(n: int, subject: str | None = None,
            date: str | None = "Mon, 7 Feb 1994 21:52:25 -0800", body: str = "") -> bytes:
    """A small RFC 5322 message, different for each n."""
    date_line = f"Date: {date}\n" if date else ""
    return (f"From: Sender {n} <s{n}@example.org>\nTo: {ADDRESS}\n"
            f"Subject: {subject or f'message {n}'}\n{date_line}Message-ID: <{n}@example.org>\n"
            f"\n{body or f'body of message {n}'}\n").encode()


def new_account(svc: Service, address: str = ADDRESS) -> int:
    accounts.create(svc, Actor.system(), address, "correct-horse")
    with svc.reader.connect() as conn:
        return int(account_row(conn, address).id)


def fill(svc: Service, folder: str, count: int, address: str = ADDRESS,
         flags: tuple[str, ...] = (), start: int = 0) -> None:
    """`count` messages into a folder (made if missing) through the bulk import path."""
    for first in range(start, start + count, 1000):
        last = min(first + 1000, start + count)
        importer.import_sources(svc, address, [
            importer.Source(folder, message(n), flags, 1_000_000_000.0 + n)
            for n in range(first, last)])


def folder(svc: Service, account_id: int, name: str) -> Folder:
    with svc.reader.connect() as conn:
        return find_mailbox(conn, account_id, name)


class Statements:
    """Counts the SQL statements sent to the database (executemany counts once)."""

    def __init__(self) -> None:
        self.count = 0
        self.texts: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            self.count += 1
            self.texts.append(statement[:120])


@contextmanager
def counting(svc: Service) -> Iterator[Statements]:
    seen = Statements()
    engines = {id(e): e for e in (svc.engine, svc.reader)}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)


def mailgate_cli(svc: Service, monkeypatch: pytest.MonkeyPatch, *args: str,
                 stdin: bytes | None = None, subprocess: bool = False) -> Result:
    """The real CLI on this service's data directory and database."""
    monkeypatch.setenv("MAILGATE_STORAGE_DATABASE_URL", svc.settings.database_url)
    if subprocess:
        done = run_cli(svc.settings.data_dir, *args, stdin=stdin)
        return Result(done.returncode, done.stdout, done.stderr)
    return run_inprocess(svc.settings.data_dir, *args,
                         stdin=None if stdin is None else stdin.decode())
