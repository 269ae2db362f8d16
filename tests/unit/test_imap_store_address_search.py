"""SEARCH FROM/TO/CC/BCC on the normalised address lists kept in the full-text index: comments,
display names, groups and encoded-words as Dovecot matches them, HEADER and TEXT unchanged,
and migration 0008 indexing the addresses of the mail already there."""

from __future__ import annotations

import time

import pytest
from alembic import command
from sqlalchemy import select

from mailgate.db.engine import alembic_config, migrate
from mailgate.db.schema import search_text
from mailgate.service import Service
from mailgate.store import search as s
from mailgate.store.fulltext import ADDRESSES
from mailgate.store.messages import Incoming
from mailgate.store.transfer import append
from mailstore import fill, folder, mailgate_cli, new_account

NOW = float(int(time.time()))

MESSAGES = [
    b"From: user-from@domain.org\nTo: user-to@domain.org\n\nbody\n",
    b"From: RealFrom <user-from@domain.org>\nTo: RealTo <user-to@domain.org>\n\nbody2\n",
    b"From: <user-from (comment)@ (comment) domain.org>\nCc: <user-cc@domain.org>\n\nbody3\n",
    b"From: user-from@domain.org (RealFrom)\nBcc: user-bcc@domain.org (RealBcc)\n\nbody4\n",
    b"From: user-from1@domain.org, user-from2@domain.org\n\nbody5\n",
    b"From: RealFrom <user-from@domain.org>\nTo: groupname: groupuser1@domain.org,\n"
    b" groupuser2@domain.org;, groupname2: groupuser3@domain.org;\n\nbody6\n",
    b"From: =?utf-8?q?J=C3=B6rg_X?= <j@x.org>\nTo: groupname:;\n\nbody7\n",
]


@pytest.fixture
def mailbox(svc: Service) -> tuple[Service, int]:
    svc.clock = lambda: NOW
    return svc, new_account(svc)


@pytest.fixture
def seven(mailbox: tuple[Service, int]):  # type: ignore[no-untyped-def]
    svc, account = mailbox
    append(svc, account, "INBOX", [Incoming(m) for m in MESSAGES])
    inbox = folder(svc, account, "INBOX").id

    def found(key: s.SearchKey) -> list[int]:
        with svc.reader.connect() as conn:
            return s.search(conn, inbox, key).uids
    return found


def test_an_address_inside_comments_or_with_a_name_in_a_comment_is_found(seven):
    found = seven
    assert found(s.Address("FROM", "user-from@domain.org")) == [1, 2, 3, 4, 6]
    assert found(s.Address("FROM", "ser-fro")) == [1, 2, 3, 4, 5, 6]
    assert found(s.Address("FROM", "realfrom")) == [2, 4, 6]
    assert found(s.Address("FROM", "realfrom <user-from@")) == [2, 4, 6]
    assert found(s.Address("FROM", "comment")) == []  # a comment in an address is no name
    assert found(s.Address("bcc", "realbcc")) == [4]
    assert found(s.Address("cc", "user-cc@domain.org")) == [3]


def test_groups_and_lists_are_matched_as_written_back(seven):
    found = seven
    assert found(s.Address("TO", "groupname")) == [6, 7]
    assert found(s.Address("TO", "groupname2")) == [6]
    assert found(s.Address("TO", "groupuser3")) == [6]
    assert found(s.Address("TO", "groupuser4")) == []
    assert found(s.Address("TO", "groupname:;")) == [7]
    assert found(s.Address("FROM", "<user-from1@domain.org>, <user-from2")) == [5]


def test_encoded_words_are_decoded_and_an_empty_string_asks_for_the_field(seven):
    found = seven
    assert found(s.Address("FROM", "JÖRG X <j@x")) == [7]
    assert found(s.Address("FROM", "")) == [1, 2, 3, 4, 5, 6, 7]
    assert found(s.Address("TO", "")) == [1, 2, 6, 7]
    assert found(s.Address("CC", "")) == [3] and found(s.Address("BCC", "")) == [4]
    assert found(s.Address("TO", "e2: <")) == [6] and found(s.Address("to", "<")) == [1, 2, 6]


def test_header_and_text_still_see_the_fields_as_sent(seven):
    found = seven
    assert found(s.Header("FROM", "(comment)")) == [3]
    assert found(s.Header("from", "user-from@domain.org (realfrom)")) == [4]
    assert found(s.Text("(comment)")) == [3]
    assert found(s.Text("<user-from@domain.org>, ")) == []  # the written-back form is not text
    assert found(s.Text("missing")) == []
    assert found(s.Header(ADDRESSES + "from", "")) == []  # no field name holds a colon


def _address_rows(svc: Service) -> list[tuple[str, str, str]]:
    with svc.reader.connect() as conn:
        return [tuple(row) for row in conn.execute(  # type: ignore[misc]
            select(search_text.c.digest, search_text.c.field, search_text.c.text)
            .where(search_text.c.field.startswith(ADDRESSES)).order_by(
                search_text.c.digest, search_text.c.field))]


def _before_0008(svc: Service) -> None:
    with svc.engine.begin() as conn:
        cfg = alembic_config(svc.engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")


def test_migration_0008_indexes_the_addresses_of_the_mail_already_there(mailbox, capsys):
    svc, account = mailbox
    append(svc, account, "INBOX", [Incoming(m) for m in MESSAGES])
    fill(svc, "Archive", 400)
    before = _address_rows(svc)
    assert len(before) == 7 + 4 + 1 + 1 + 400 * 2  # From, To, Cc, Bcc
    _before_0008(svc)
    assert _address_rows(svc) == []
    capsys.readouterr()
    migrate(svc.engine, svc.settings.blob_dir)
    progress = capsys.readouterr().err
    assert "indexing addresses 200/407 messages" in progress
    assert "indexing addresses 407/407 messages" in progress
    assert _address_rows(svc) == before
    inbox = folder(svc, account, "INBOX").id
    with svc.reader.connect() as conn:
        assert s.search(conn, inbox, s.Address("FROM", "realfrom <user-from@")).uids == [2, 4, 6]
    capsys.readouterr()
    migrate(svc.engine, svc.settings.blob_dir)  # at head: nothing more to do
    assert "indexing" not in capsys.readouterr().err


def test_migration_0008_from_the_cli_survives_a_missing_file(mailbox, monkeypatch):
    svc, account = mailbox
    append(svc, account, "INBOX", [Incoming(MESSAGES[0]), Incoming(MESSAGES[1])])
    _before_0008(svc)
    next(svc.settings.blob_dir.glob("*/*/*")).unlink()
    done = mailgate_cli(svc, monkeypatch, "init", subprocess=True)
    assert done.returncode == 0, done.stderr
    assert "indexing addresses 2/2 messages" in done.stderr
    assert "1 message files could not be read" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(_address_rows(svc)) == 2  # From and To of the message still there
