"""Full-text SEARCH (TEXT, BODY, SUBJECT/FROM/TO/CC/BCC, HEADER) from the index kept at
delivery: each key on decoded text, short strings, one query that reads no message file,
upkeep at delivery, import and purge, migration 0007 on existing mail, and a timing print."""

from __future__ import annotations

import itertools
import shutil
import time
import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, func, inspect, select, text

from mailgate.db.engine import alembic_config, make_engine, migrate
from mailgate.db.schema import blobs, search_text
from mailgate.mime.searchtext import MAX_FIELDS, TEXT_LIMIT
from mailgate.service import Service
from mailgate.store import importer, messages
from mailgate.store import search as s
from mailgate.store.commits import commit_together
from mailgate.store.flags import FlagOperation
from mailgate.store.messages import Incoming, purge_expired
from mailgate.store.transfer import append, copy, expunge, store_flags
from mailgate.store.uidsets import UidSet
from mailstore import ADDRESS, counting, fill, folder, mailgate_cli, new_account
from support import POSTGRES_URL, drop_service, make_service

NOW = float(int(time.time()))
sqlite_only = pytest.mark.parametrize("svc", ["sqlite"], indirect=True)

PLAIN = b"""From: =?iso-8859-1?q?=C9mile?= Dubois <emile@campus.example>
To: Mia <mia@example.test>
Cc: Bob Chen <bob@example.org>
Bcc: carol@example.org
Subject: =?utf-8?q?R=C3=A9union_budget?= =?utf-8?b?IOKckw==?=
X-Ticket: 4711
Date: Mon, 7 Feb 1994 21:52:25 -0800

Two words
here, 100% sure; a_b and say "hi" now.
"""

ALTERNATIVE = b"""From: Grete <grete@example.de>
To: mia@example.test
Subject: Gruss
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

R3LDvMOfZSBhdXMgS8O2bG4sIHNpZWJ6ZWhuIEFwZmVs
--b1
Content-Type: text/html; charset=utf-8

<p>Only <b>in the HTML</b></p>
--b1--
"""

QUOTED = b"""From: cafe@example.fr
To: mia@example.test
Subject: menu
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b2"

--b2
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 cr=E8me, two=
 words
--b2
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

c2VjcmV0d29yZA==
--b2--
"""

HTML_AND_ATTACHED = b"""From: lists@example.org
To: mia@example.test
Subject: digest
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b3"

--b3
Content-Type: text/html; charset=utf-8

<html><style>p { color: red }</style><p>Use &lt;b&gt; &amp; <a href="x">links</a></p></html>
--b3
Content-Type: message/rfc822

From: someone@example.net
Subject: Inner minutes

The inner body.
--b3--
"""


@pytest.fixture
def mailbox(svc: Service) -> tuple[Service, int]:
    svc.clock = lambda: NOW
    return svc, new_account(svc)


@pytest.fixture
def four(mailbox: tuple[Service, int]):  # type: ignore[no-untyped-def]
    """The four messages above, UIDs 1-4, and a way to search their folder."""
    svc, account = mailbox
    append(svc, account, "INBOX", [Incoming(m) for m in (PLAIN, ALTERNATIVE, QUOTED,
                                                        HTML_AND_ATTACHED)])
    inbox = folder(svc, account, "INBOX").id

    def found(key: s.SearchKey) -> list[int]:
        with svc.reader.connect() as conn:
            return s.search(conn, inbox, key).uids
    return found


def test_header_keys_match_decoded_fields_case_insensitively(four):
    found = four
    assert found(s.Header("Subject", "réunion BUDGET ✓")) == [1]  # two encoded words
    assert found(s.Header("subject", "RÉUNION")) == [1]
    assert found(s.Header("From", "émile dubois")) == [1]  # ISO-8859-1 encoded word
    assert found(s.Header("FROM", "emile@campus")) == [1]
    assert found(s.Header("To", "mia@example")) == [1, 2, 3, 4]
    assert found(s.Header("Cc", "bob chen")) == [1]
    assert found(s.Header("Bcc", "carol@")) == [1]
    assert found(s.Header("X-Ticket", "471")) == [1]  # any field by name
    assert found(s.Header("Subject", "inner minutes")) == []  # an attached message's field
    assert found(s.Header("Subject", "two words")) == []  # body text is not a header


def test_header_with_an_empty_string_matches_messages_that_have_the_field(four):
    found = four
    assert found(s.Header("x-ticket", "")) == [1]
    assert found(s.Header("MIME-Version", "")) == [2, 3, 4]
    assert found(s.Header("X-Nowhere", "")) == []
    assert found(s.Header("", "")) == [] and found(s.Header("", "words")) == []


def test_body_is_the_decoded_text_of_the_text_parts(four):
    found = four
    assert found(s.Body("GRÜSSE aus köln")) == [2]  # base64 UTF-8; ß folds to ss
    assert found(s.Body("grüsse")) == [2]
    assert found(s.Body("café crème")) == [3]  # quoted-printable ISO-8859-1
    assert found(s.Body("two words")) == [1, 3]  # a line break and a soft break
    assert found(s.Body("in the html")) == []  # the text/plain alternative is enough
    assert found(s.Body("use <b> & links")) == [4]  # HTML reduced to its text
    assert found(s.Body("color")) == [] and found(s.Body("href")) == []
    assert found(s.Body("secretword")) == []  # not a text part
    assert found(s.Body("réunion")) == []  # a header is not the body
    assert found(s.Body("inner minutes")) == [4] and found(s.Body("inner body")) == [4]
    assert found(s.Body('say "hi" now')) == [1] and found(s.Body('"hi')) == [1]


def test_text_is_headers_and_body(four):
    found = four
    assert found(s.Text("réunion")) == [1]
    assert found(s.Text("two words")) == [1, 3]
    assert found(s.Text("grete@")) == [2] and found(s.Text("apfel")) == [2]
    assert found(s.Text("nothing like this")) == []
    assert found(s.Not(s.Text("campus.example"))) == [2, 3, 4]
    assert found(s.Or(s.Text("köln"), s.Body("crème"))) == [2, 3]
    assert found(s.And((s.Text("mia"), s.Header("subject", "menu")))) == [3]


def test_one_and_two_character_strings_and_like_wildcards(four):
    found = four
    assert found(s.Text("")) == [1, 2, 3, 4] and found(s.Body("")) == [1, 2, 3, 4]
    assert found(s.Body("é")) == [3]  # café, crème
    assert found(s.Body("ÖL")) == [2]  # köln
    assert found(s.Header("subject", "Ré")) == [1]
    assert found(s.Header("subject", "✓")) == [1]
    assert found(s.Body("0%")) == [1] and found(s.Body("%")) == [1]
    assert found(s.Body("_")) == [1] and found(s.Body("a_")) == [1]
    assert found(s.Body("\\")) == [] and found(s.Body("/")) == []
    assert found(s.Text("zq")) == []
    assert found(s.Header("X-Ticket", "47")) == [1]


def test_three_character_strings_with_quotes_and_wildcards(four):
    found = four
    assert found(s.Body('"hi"')) == [1]
    assert found(s.Body("00%")) == [1] and found(s.Body("a_b")) == [1]
    assert found(s.Body("a%b")) == [] and found(s.Body("x_y")) == []
    assert found(s.Body("two  \t WORDS")) == [1, 3]  # a run of whitespace is one space
    assert found(s.Body(" words")) == [1, 3] and found(s.Body("words ")) == [1]


def test_the_text_of_a_message_is_capped_at_1_mib_and_500_field_names(mailbox):
    svc, account = mailbox
    fields = "".join(f"X-Field-{n}: value {n}\n" for n in range(600))
    big = (f"Subject: big\n{fields}\nfirst words " + "lorem ipsum " * 100_000
           + "past the limit\n").encode()
    html = ("Subject: markup\nContent-Type: text/html\n\n<p>kept</p>"
            + "<script>" * 50_000 + "<b>never closed").encode()
    append(svc, account, "INBOX", [Incoming(big), Incoming(html)])
    inbox = folder(svc, account, "INBOX").id
    with svc.reader.connect() as conn:
        lengths = dict(conn.execute(select(search_text.c.field, func.length(search_text.c.text))
                                    .join(blobs, blobs.c.digest == search_text.c.digest)
                                    .where(blobs.c.subject == "big")).all())
        assert s.search(conn, inbox, s.Body("first words lorem")).uids == [1]
        assert s.search(conn, inbox, s.Body("past the limit")).uids == []
        assert s.search(conn, inbox, s.Body("kept")).uids == [2]
        assert s.search(conn, inbox, s.Body("never")).uids == []
    assert len(lengths) == MAX_FIELDS + 1  # Subject, 499 X-Field-n and the body
    assert lengths[""] > TEXT_LIMIT - 10_000 and sum(lengths.values()) <= TEXT_LIMIT


def test_a_text_search_on_2000_messages_is_one_query_and_reads_no_message_file(mailbox):
    svc, account = mailbox
    fill(svc, "INBOX", 2000)
    inbox = folder(svc, account, "INBOX").id
    blob_dir = svc.settings.blob_dir
    shutil.move(blob_dir, blob_dir.with_name("elsewhere"))  # no message file to read
    for key, expected in [(s.Text("body of message 1234"), [1235]),
                          (s.Text("message 199"), [200, *range(1991, 2001)]),
                          (s.And((s.Uids(UidSet.of([(1, 100)])), s.Text("S7@"))), [8]),
                          (s.And((s.Uids(UidSet.of([(1, 100)])), s.Text("7@"))),
                           list(range(8, 100, 10))),
                          (s.Body("9"), [u for u in range(1, 2001) if "9" in str(u - 1)])]:
        with counting(svc) as seen, svc.reader.connect() as conn:
            assert s.search(conn, inbox, key).uids == expected, key
        assert seen.count == 1, seen.texts


def _indexed(svc: Service) -> dict[str, int]:
    with svc.reader.connect() as conn:
        return dict(conn.execute(select(search_text.c.digest, func.count())
                                 .group_by(search_text.c.digest)).all())


def _fts_consistent(svc: Service) -> None:
    if svc.engine.dialect.name == "sqlite":
        with svc.engine.begin() as conn:
            conn.execute(text("INSERT INTO search_fts(search_fts, rank) "
                              "VALUES ('integrity-check', 1)"))


def test_a_message_is_indexed_once_and_its_rows_go_when_its_blob_is_purged(mailbox):
    svc, account = mailbox
    append(svc, account, "INBOX", [Incoming(PLAIN), Incoming(QUOTED)])
    append(svc, account, "Archive", [Incoming(PLAIN)])  # the same blob again
    inbox = folder(svc, account, "INBOX").id
    with svc.engine.begin() as conn:
        copy(conn, account, inbox, UidSet.of([1, 2]), "Junk")
    rows = _indexed(svc)
    assert len(rows) == 2 and min(rows.values()) >= 3  # body + From/To/Subject...
    with svc.engine.begin() as conn:
        store_flags(conn, inbox, UidSet.everything(), FlagOperation.ADD, ["\\Deleted"])
        expunge(conn, account, inbox, None, NOW)
    svc.clock = lambda: NOW + svc.retention + 1
    assert purge_expired(svc) == 2
    assert _indexed(svc) == rows  # still in Archive and Junk
    for name in ("Archive", "Junk"):
        box = folder(svc, account, name).id
        with svc.engine.begin() as conn:
            store_flags(conn, box, UidSet.everything(), FlagOperation.ADD, ["\\Deleted"])
            expunge(conn, account, box, None, NOW + svc.retention + 1)
    svc.clock = lambda: NOW + 2 * svc.retention + 2
    assert purge_expired(svc) == 3
    assert _indexed(svc) == {}
    _fts_consistent(svc)
    append(svc, account, "INBOX", [Incoming(QUOTED)])  # back again: indexed anew
    box = folder(svc, account, "INBOX").id
    with svc.reader.connect() as conn:
        assert s.search(conn, box, s.Body("café")).uids == [3]
    _fts_consistent(svc)


def test_import_indexes_in_its_own_transactions(mailbox, tmp_path):
    svc, account = mailbox
    mbox = tmp_path / "in.mbox"
    mbox.write_bytes(b"From x@example.org Mon Feb  7 21:52:25 1994\n" + QUOTED
                     + b"\nFrom y@example.org Mon Feb  7 21:52:25 1994\n" + ALTERNATIVE)
    importer.import_sources(svc, ADDRESS, importer.sources_for(mbox, "Imported"))
    box = folder(svc, account, "Imported").id
    with svc.reader.connect() as conn:
        assert s.search(conn, box, s.Body("café crème")).uids == [1]
        assert s.search(conn, box, s.Body("köln")).uids == [2]


def _before_0007(svc: Service) -> None:
    with svc.engine.begin() as conn:
        cfg = alembic_config(svc.engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
        assert not inspect(conn).has_table("search_text")


def test_migration_0007_indexes_the_mail_already_there_with_a_progress_line(mailbox, capsys):
    svc, account = mailbox
    append(svc, account, "INBOX", [Incoming(m) for m in (PLAIN, ALTERNATIVE, QUOTED,
                                                        HTML_AND_ATTACHED)])
    fill(svc, "Archive", 600)
    before = _indexed(svc)
    _before_0007(svc)
    capsys.readouterr()
    migrate(svc.engine, svc.settings.blob_dir)
    progress = capsys.readouterr().err
    assert "indexing 200/604 messages" in progress and "indexing 604/604 messages" in progress
    assert _indexed(svc) == before
    _fts_consistent(svc)
    inbox = folder(svc, account, "INBOX").id
    with svc.reader.connect() as conn:
        assert s.search(conn, inbox, s.Text("köln")).uids == [2]
        assert s.search(conn, inbox, s.Header("subject", "✓")).uids == [1]


def test_migration_0007_from_the_cli_shows_progress_and_survives_a_missing_file(
        mailbox, monkeypatch):
    svc, account = mailbox
    append(svc, account, "INBOX", [Incoming(PLAIN), Incoming(QUOTED)])
    _before_0007(svc)
    lost = next(svc.settings.blob_dir.glob("*/*/*"))
    lost.unlink()
    done = mailgate_cli(svc, monkeypatch, "init", subprocess=True)
    assert done.returncode == 0, done.stderr
    assert "indexing 2/2 messages" in done.stderr
    assert "1 message files could not be read" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(_indexed(svc)) == 1


@pytest.mark.skipif(not POSTGRES_URL, reason="needs MAILGATE_TEST_POSTGRES_URL")
def test_without_pg_trgm_a_log_line_says_searches_scan_and_they_still_match(tmp_path, caplog):
    svc = make_service(tmp_path / "data", "postgresql")
    role = "mg_plain_" + uuid.uuid4().hex[:8]
    try:
        svc.clock = lambda: NOW
        account = new_account(svc)
        append(svc, account, "INBOX", [Incoming(PLAIN), Incoming(QUOTED)])
        _before_0007(svc)
        with svc.engine.begin() as conn:  # a role that may create tables, not extensions
            for sql in ("DROP EXTENSION pg_trgm", f"CREATE ROLE {role} LOGIN",
                        f"GRANT ALL ON SCHEMA public TO {role}",
                        f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"):
                conn.execute(text(sql))
        plain = make_engine(svc.engine.url.set(username=role).render_as_string(
            hide_password=False).replace("+psycopg", ""))
        with caplog.at_level("WARNING", logger="mailgate.migrations"):
            migrate(plain, svc.settings.blob_dir, revision="0008")  # the full-text steps
        plain.dispose()
        migrate(svc.engine, svc.settings.blob_dir)  # later steps alter tables: the owner's
        assert "pg_trgm is not available" in caplog.text
        inbox = folder(svc, account, "INBOX").id
        with svc.reader.connect() as conn:
            assert not conn.execute(text("SELECT COUNT(*) FROM pg_indexes "
                                         "WHERE indexname = 'ix_search_text_trigrams'")).scalar()
            assert s.search(conn, inbox, s.Text("crème")).uids == [2]
            assert s.search(conn, inbox, s.Header("subject", "réunion")).uids == [1]
    finally:
        drop_service(svc)
        admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
        with admin.begin() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def _mark(svc: Service) -> tuple[int, int]:
    """(search_fts_mark.through, the highest search_text id)."""
    with svc.reader.connect() as conn:
        return (int(conn.execute(text("SELECT through FROM search_fts_mark")).scalar_one()),
                int(conn.execute(select(func.coalesce(func.max(search_text.c.id), 0)))
                    .scalar_one()))


@sqlite_only
def test_group_committed_deliveries_are_indexed_once_after_their_savepoints(mailbox):
    svc, account = mailbox
    inbox = folder(svc, account, "INBOX").id
    written = [messages.write_message(messages.blob_store(svc), 1 << 20, raw)
               for raw in (PLAIN, QUOTED, ALTERNATIVE)]

    def deliver(item):  # type: ignore[no-untyped-def]
        digest, _, parsed = item
        return lambda conn: messages.store_into(conn, inbox, "INBOX",
                                                [(digest, parsed, Incoming(b""))], NOW)

    commit_together(svc.engine, [deliver(item) for item in written])
    through, highest = _mark(svc)
    assert through == highest > 0
    _fts_consistent(svc)
    with svc.reader.connect() as conn:
        assert s.search(conn, inbox, s.Body("café crème")).uids == [2]
        assert s.search(conn, inbox, s.Body("köln")).uids == [3]


@sqlite_only
def test_rows_the_index_lacks_are_still_found_and_caught_up_later(mailbox):
    svc, account = mailbox
    inbox = folder(svc, account, "INBOX").id
    digest, _, parsed = messages.write_message(messages.blob_store(svc), 1 << 20, QUOTED)
    with svc.engine.begin() as conn, conn.begin_nested():  # nobody catches up
        messages.store_into(conn, inbox, "INBOX", [(digest, parsed, Incoming(b""))], NOW)
    through, highest = _mark(svc)
    assert through < highest
    with svc.reader.connect() as conn:
        assert s.search(conn, inbox, s.Body("café crème")).uids == [1]
        assert s.search(conn, inbox, s.Text("no such words here")).uids == []
    append(svc, account, "INBOX", [Incoming(PLAIN)])  # the next writer catches up
    assert _mark(svc)[0] == _mark(svc)[1]
    _fts_consistent(svc)
    with svc.reader.connect() as conn:
        assert s.search(conn, inbox, s.Body("café crème")).uids == [1]


@sqlite_only
def test_an_import_lays_its_message_rows_out_in_order_whatever_the_index_frees(mailbox):
    """FETCH reads a folder's `message_structure` rows in id order: their pages must follow
    one another on disk, not come back in falling order from the pages FTS5's segment
    merges free (the index catches up after the rows)."""
    svc, _ = mailbox
    fill(svc, "INBOX", 3000)
    with svc.reader.connect() as conn:
        pages = [p for p, kind in conn.execute(text(
            "SELECT pageno, pagetype FROM dbstat WHERE name = 'message_structure' "
            "ORDER BY path")) if kind == "leaf"]
    falling = sum(1 for a, b in itertools.pairwise(pages) if b < a)
    assert len(pages) > 100 and falling <= len(pages) // 50, (falling, len(pages))
