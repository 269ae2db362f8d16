"""`message_structure`: FETCH's ENVELOPE / BODYSTRUCTURE / BODY / part offsets in one narrow
row per message row, written at every way in (delivery, import, APPEND, COPY), kept by MOVE
and EXPUNGE, gone with the message; and migration 0017, which moves the columns out of
`blobs` with the mail already stored (and back on downgrade), on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from mailgate.db.engine import alembic_config, migrate
from mailgate.db.schema import message_structure, messages
from mailgate.service import Service
from mailgate.store import importer
from mailgate.store.flags import FlagOperation
from mailgate.store.messages import Incoming, deliver, purge_expired
from mailgate.store.selected import FetchRow, fetch
from mailgate.store.transfer import append, copy, expunge, move, store_flags
from mailgate.store.uidsets import UidSet
from mailstore import ADDRESS, fill, folder, message, new_account

NOW = float(int(time.time()))
MULTIPART = (b"From: A <a@example.org>\r\nTo: b@example.org\r\nSubject: parts\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\n"
             b"--xx\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
             b"--xx\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--xx--\r\n")


@pytest.fixture
def mailbox(svc: Service) -> tuple[Service, int]:
    svc.clock = lambda: NOW
    return svc, new_account(svc)


def fetched(svc: Service, account: int, name: str) -> list[FetchRow]:
    with svc.reader.connect() as conn:
        return list(fetch(conn, folder(svc, account, name).id, UidSet.everything(),
                          structure=True))


def everything(svc: Service, account: int) -> dict[str, list[FetchRow]]:
    return {name: fetched(svc, account, name) for name in ("INBOX", "Archive", "Junk")}


def structure_rows(svc: Service) -> int:
    with svc.reader.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(message_structure)).scalar())


def fill_every_way(svc: Service, account: int) -> None:
    """Mail in by delivery, import, APPEND and COPY, some of it moved and expunged."""
    deliver(svc, ADDRESS, MULTIPART)
    deliver(svc, ADDRESS, MULTIPART)  # the same blob twice: two messages, two rows
    fill(svc, "INBOX", 5)
    append(svc, account, "Archive", [Incoming(message(n)) for n in range(10, 13)])
    inbox = folder(svc, account, "INBOX").id
    with svc.engine.begin() as conn:
        copy(conn, account, inbox, UidSet.of([(1, 4)]), "Archive")
        move(conn, account, inbox, UidSet.of([5, 6]), "Junk", NOW)
        store_flags(conn, inbox, UidSet.of([7]), FlagOperation.ADD, ["\\Deleted"])
        expunge(conn, account, inbox, None, NOW)


def test_every_way_in_writes_the_structure_and_moves_keep_it(mailbox) -> None:
    svc, account = mailbox
    fill_every_way(svc, account)
    boxes = everything(svc, account)
    assert [len(rows) for rows in boxes.values()] == [4, 7, 2]
    for rows in boxes.values():
        for row in rows:
            assert row.envelope and row.envelope.startswith("(")
            assert row.bodystructure and row.body and row.parts and row.header_size
    inbox, archive = boxes["INBOX"], boxes["Archive"]
    assert '"MIXED"' in inbox[0].bodystructure.upper()
    copies = {r.digest: r for r in archive[3:]}
    for row in inbox + boxes["Junk"]:
        if row.digest in copies:  # a copy renders exactly as its source
            assert copies[row.digest].envelope == row.envelope
            assert copies[row.digest].parts == row.parts
    with svc.reader.connect() as conn:
        counted = conn.execute(select(func.count()).select_from(messages)).scalar()
    assert structure_rows(svc) == counted  # the expunged one waits in Recoverable Items


def test_a_destroyed_message_takes_its_structure_row_along(mailbox) -> None:
    svc, account = mailbox
    fill(svc, "INBOX", 3)
    inbox = folder(svc, account, "INBOX").id
    with svc.engine.begin() as conn:
        store_flags(conn, inbox, UidSet.of([2]), FlagOperation.ADD, ["\\Deleted"])
        expunge(conn, account, inbox, None, NOW)
    assert structure_rows(svc) == 3
    svc.clock = lambda: NOW + svc.retention + 1
    assert purge_expired(svc) == 1
    assert structure_rows(svc) == 2
    assert [r.uid for r in fetched(svc, account, "INBOX")] == [1, 3]


def test_migration_0017_moves_the_columns_with_the_stored_mail_and_back(mailbox) -> None:
    svc, account = mailbox
    fill_every_way(svc, account)
    importer.import_sources(svc, ADDRESS, [importer.Source("Junk", MULTIPART, (), NOW)])
    before = everything(svc, account)
    with svc.engine.begin() as conn:
        cfg = alembic_config(svc.engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0016")
        assert not inspect(conn).has_table("message_structure")
        kept = {c["name"] for c in inspect(conn).get_columns("blobs")}
        assert {"envelope", "bodystructure", "body", "header_size", "parts"} <= kept
        command.upgrade(cfg, "0017")  # what the downgrade kept is enough to come back
        command.downgrade(cfg, "0016")
    migrate(svc.engine, svc.settings.blob_dir)
    with svc.reader.connect() as conn:
        assert not {"envelope", "parts"} & {c["name"] for c in inspect(conn).get_columns("blobs")}
    assert everything(svc, account) == before
    append(svc, account, "INBOX", [Incoming(MULTIPART)])  # the store works on the result
    assert fetched(svc, account, "INBOX")[-1].bodystructure == before["INBOX"][0].bodystructure
