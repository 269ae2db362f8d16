"""Message-level IMAP operations on a selected folder, on every backend: SELECT snapshot,
FETCH rows and sections, STORE (UNCHANGEDSINCE), APPEND (MULTIAPPEND), COPY, MOVE,
EXPUNGE, changes since a point (also from another process), SEARCH."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from sqlalchemy import event, select

from mailgate import mime
from mailgate.db.schema import blobs, messages
from mailgate.service import Service
from mailgate.store import mailboxes as mb
from mailgate.store import search as s
from mailgate.store.blobs import BlobStore
from mailgate.store.errors import InvalidFlag, MailboxNotFound
from mailgate.store.flags import FlagOperation
from mailgate.store.messages import (
    Incoming,
    MessageRejected,
    blob_store,
    maildrop,
    to_recoverable,
)
from mailgate.store.selected import (
    changes_since,
    fetch,
    folder_marks,
    read_section,
    snapshot,
    vanished_since,
)
from mailgate.store.transfer import append, copy, expunge, move, store_flags
from mailgate.store.uidsets import UidSet
from mailstore import ADDRESS, fill, folder, mailgate_cli, message, new_account

NOW = float(int(time.time()))
EVERYTHING = UidSet.everything()
NESTED = (b"From: a@example.org\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
          b"--outer\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
          b"--outer\r\nContent-Type: message/rfc822\r\n\r\n"
          b"From: b@example.org\r\nSubject: inner\r\nContent-Type: multipart/alternative;"
          b" boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
          b"--inner\r\nContent-Type: text/html\r\nX-Long: " + b"x" * 300 +
          b"\r\n\r\n<p>html</p>\r\n--inner--\r\n\r\n--outer--\r\n")


@pytest.fixture
def mailbox(svc: Service) -> tuple[Service, int]:
    svc.clock = lambda: NOW
    return svc, new_account(svc)


def inbox_with(svc: Service, account: int, count: int) -> int:
    fill(svc, "INBOX", count)
    return folder(svc, account, "INBOX").id


def flags_of(svc: Service, folder_id: int) -> dict[int, str]:
    with svc.reader.connect() as conn:
        shot = snapshot(conn, folder_id)
    return dict(zip(shot.uids, shot.flags, strict=True))


def test_snapshot_has_uids_flags_modseqs_and_the_first_unseen(mailbox):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 4)
    with svc.engine.begin() as conn:
        store_flags(conn, inbox, UidSet.of([1, 2]), FlagOperation.ADD, ["\\Seen"])
    with svc.reader.connect() as conn:
        shot = snapshot(conn, inbox)
    state = folder(svc, account, "INBOX")
    assert list(shot.uids) == [1, 2, 3, 4] and len(shot) == 4
    assert shot.flags == ["\\Seen", "\\Seen", "", ""]
    assert shot.first_unseen() == 3
    assert (shot.mark.uidvalidity, shot.mark.uidnext, shot.mark.highestmodseq) == (
        state.uidvalidity, 5, state.highestmodseq)
    assert max(shot.modseqs) == state.highestmodseq
    assert shot.modseqs[0] == shot.modseqs[1] > shot.modseqs[2]


def test_fetch_streams_rows_with_structure_for_a_uid_set(mailbox):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 5)
    with svc.reader.connect() as conn:
        plain = list(fetch(conn, inbox, UidSet.of([(2, 3), 5, 9])))
        rich = list(fetch(conn, inbox, UidSet.of([4]), structure=True))
    assert [r.uid for r in plain] == [2, 3, 5]
    assert plain[0].envelope is None and plain[0].size == len(mime.to_crlf(message(1)))
    assert plain[0].internal_date == 1_000_000_001.0
    parsed = mime.parse(mime.to_crlf(message(3)))
    row = rich[0]
    assert (row.envelope, row.bodystructure, row.body, row.header_size) == (
        parsed.envelope, parsed.bodystructure, parsed.body, parsed.header_size)
    assert json.loads(row.parts) == {k: list(v) for k, v in parsed.parts.items()}


def test_a_section_is_read_with_one_seek_from_the_stored_offsets(mailbox, monkeypatch):
    svc, account = mailbox
    stored = append(svc, account, "INBOX", [Incoming(NESTED)])
    inbox = folder(svc, account, "INBOX").id
    with svc.reader.connect() as conn:
        row = next(fetch(conn, inbox, UidSet.of(stored.destination_uids), structure=True))
    parsed = mime.parse(NESTED)
    monkeypatch.setattr(BlobStore, "read", lambda *a: pytest.fail("read the whole file"))
    store = blob_store(svc)
    for section in ("", "HEADER", "TEXT", "1", "2.MIME", "2.HEADER", "2.TEXT", "2.1", "2.2",
                    "2.2.MIME", "2.1.MIME", "HEADER.FIELDS (Subject)"):
        start, end = mime.section_range(parsed, section)
        assert read_section(store, row, section) == NESTED[start:end], section
    start, end = mime.section_range(parsed, "2.2.MIME")
    assert read_section(store, row, "2.2.MIME", (10, 100)) == NESTED[start + 10:start + 110]
    assert read_section(store, row, "2.2.MIME", (10_000, 5)) == b""
    assert read_section(store, row, "7") is None
    assert read_section(store, row, "2.HEADER", (0, 15)) == b"From: b@example"


def test_store_add_remove_replace_bumps_modseq_once_and_only_where_flags_change(mailbox):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 4)
    before = folder(svc, account, "INBOX").highestmodseq
    with svc.engine.begin() as conn:
        done = store_flags(conn, inbox, UidSet.of([(1, 3)]), FlagOperation.ADD,
                           ["\\seen", "$Label1", "$label1"])
    assert done.highestmodseq == before + 1 == folder(svc, account, "INBOX").highestmodseq
    assert [(m.uid, m.flags, m.modseq) for m in done.stored] == [
        (u, "\\Seen $Label1", before + 1) for u in (1, 2, 3)]
    with svc.engine.begin() as conn:
        again = store_flags(conn, inbox, UidSet.of([(1, 4)]), FlagOperation.ADD, ["\\Seen"])
    changed = {m.uid: m.modseq for m in again.stored}
    assert changed == {1: before + 1, 2: before + 1, 3: before + 1, 4: before + 2}
    with svc.engine.begin() as conn:
        store_flags(conn, inbox, UidSet.of([1]), FlagOperation.REMOVE, ["$LABEL1", "\\Draft"])
        store_flags(conn, inbox, UidSet.of([2]), FlagOperation.REPLACE, ["\\Flagged"])
        unchanged = store_flags(conn, inbox, UidSet.of([3]), FlagOperation.REPLACE,
                                ["$label1", "\\Seen"])
    assert unchanged.stored[0].modseq == before + 1  # same flags: no new MODSEQ
    assert flags_of(svc, inbox) == {1: "\\Seen", 2: "\\Flagged", 3: "\\Seen $Label1",
                                    4: "\\Seen"}


def test_store_unchangedsince_reports_the_messages_that_changed_meanwhile(mailbox):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 3)
    with svc.engine.begin() as conn:
        base = store_flags(conn, inbox, UidSet.of([1, 2, 3]), FlagOperation.ADD,
                           ["\\Seen"]).highestmodseq
        store_flags(conn, inbox, UidSet.of([2]), FlagOperation.ADD, ["\\Flagged"])
        done = store_flags(conn, inbox, EVERYTHING, FlagOperation.ADD, ["\\Answered"],
                           unchanged_since=base)
    assert done.modified == [2]
    assert [m.uid for m in done.stored] == [1, 3]
    assert flags_of(svc, inbox) == {1: "\\Seen \\Answered", 2: "\\Seen \\Flagged",
                                    3: "\\Seen \\Answered"}


@pytest.mark.parametrize("bad", ["\\Recent", "\\Unknown", "bad keyword", "(x", ""])
def test_store_refuses_flags_that_cannot_be_stored(mailbox, bad):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 1)
    with pytest.raises(InvalidFlag), svc.engine.begin() as conn:
        store_flags(conn, inbox, EVERYTHING, FlagOperation.ADD, [bad])
    assert flags_of(svc, inbox) == {1: ""}


def test_multiappend_returns_appenduid_and_keeps_flags_and_dates(mailbox):
    svc, account = mailbox
    drafts = folder(svc, account, "Drafts")
    done = append(svc, account, "Drafts", [
        Incoming(message(1), ("\\draft", "$Work"), 1_600_000_000.0), Incoming(message(2))])
    assert done.uidvalidity == drafts.uidvalidity and done.destination_uids == [1, 2]
    again = append(svc, account, "Drafts", [Incoming(message(3))])
    assert again.destination_uids == [3]
    with svc.reader.connect() as conn:
        rows = list(fetch(conn, drafts.id, EVERYTHING))
    assert [(r.uid, r.flags, r.internal_date) for r in rows] == [
        (1, "\\Draft $Work", 1_600_000_000.0), (2, "", NOW), (3, "", NOW)]
    assert blob_store(svc).read(rows[0].digest) == mime.to_crlf(message(1))


@pytest.mark.parametrize("broken", ["too big", "bad flag", "no folder"])
def test_multiappend_is_all_or_nothing(mailbox, broken):
    svc, account = mailbox
    limit = int(svc.settings.get("storage", "max_message_bytes"))
    items = [Incoming(message(1)), Incoming(message(2))]
    target, error = "INBOX", MailboxNotFound
    if broken == "too big":
        items.append(Incoming(b"Subject: big\r\n\r\n" + b"x" * limit))
        error = MessageRejected
    elif broken == "bad flag":
        items.append(Incoming(message(3), ("\\Recent",)))
        error = InvalidFlag
    else:
        target = "Nowhere"
    with pytest.raises(error):
        append(svc, account, target, items)
    with svc.reader.connect() as conn:
        assert mb.status(conn, account, ["INBOX"])["INBOX"].messages == 0
        assert conn.execute(select(messages.c.id)).first() is None


def test_copy_gives_copyuid_keeps_flags_and_counts_blob_references(mailbox):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 4)
    archive = folder(svc, account, "Archive")
    with svc.engine.begin() as conn:
        store_flags(conn, inbox, UidSet.of([3]), FlagOperation.ADD, ["\\Flagged"])
        done = copy(conn, account, inbox, UidSet.of([3, 1, (7, 9)]), "Archive")
        twice = copy(conn, account, inbox, UidSet.of([3]), "Archive")
    assert (done.uidvalidity, done.source_uids, done.destination_uids) == (
        archive.uidvalidity, [1, 3], [1, 2])
    assert twice.destination_uids == [3]
    assert flags_of(svc, archive.id) == {1: "", 2: "\\Flagged", 3: "\\Flagged"}
    assert len(flags_of(svc, inbox)) == 4
    with svc.reader.connect() as conn:
        refs = dict(conn.execute(select(messages.c.uid, blobs.c.refs).join(
            blobs, blobs.c.digest == messages.c.digest).where(messages.c.folder_id == inbox)).all())
    assert refs == {1: 2, 2: 1, 3: 3, 4: 1}
    with pytest.raises(MailboxNotFound), svc.engine.begin() as conn:
        copy(conn, account, inbox, EVERYTHING, "Recoverable Items")


def test_move_is_atomic_and_the_source_sees_the_uids_vanish(mailbox):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 4)
    before = folder(svc, account, "INBOX")
    junk = folder(svc, account, "Junk")
    with svc.engine.begin() as conn:
        store_flags(conn, inbox, UidSet.of([4]), FlagOperation.ADD, ["$Junk"])
        mid = folder_marks(conn, [inbox])[inbox]
        done = move(conn, account, inbox, UidSet.of([2, 4]), "Junk", NOW)
    assert (done.uidvalidity, done.source_uids, done.destination_uids) == (
        junk.uidvalidity, [2, 4], [1, 2])
    assert flags_of(svc, inbox) == {1: "", 3: ""}
    assert flags_of(svc, junk.id) == {1: "", 2: "$Junk"}
    with svc.reader.connect() as conn:
        seen = changes_since(conn, inbox, mid.uidnext, mid.highestmodseq)
        assert seen.vanished == [2, 4] and not seen.new and not seen.changed
        assert seen.mark.highestmodseq == mid.highestmodseq + 1
        assert vanished_since(conn, inbox, before.highestmodseq, UidSet.of([(3, 4)])) == [4]
        refs = set(conn.execute(select(blobs.c.refs)).scalars())
    assert refs == {1}


def test_expunge_moves_deleted_messages_to_recoverable_items_never_destroying_them(
        mailbox, monkeypatch):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 5)
    with svc.engine.begin() as conn:
        store_flags(conn, inbox, UidSet.of([1, 2, 4]), FlagOperation.ADD, ["\\Deleted"])
        mark = folder_marks(conn, [inbox])[inbox]
        assert expunge(conn, account, inbox, UidSet.of([(2, 5)]), NOW) == [2, 4]
        assert expunge(conn, account, inbox, None, NOW) == [1]
        assert expunge(conn, account, inbox, None, NOW) == []
    assert sorted(flags_of(svc, inbox)) == [3, 5]
    with svc.reader.connect() as conn:
        seen = changes_since(conn, inbox, mark.uidnext, mark.highestmodseq)
    assert seen.vanished == [1, 2, 4]
    listed = mailgate_cli(svc, monkeypatch, "recover", "list", ADDRESS, "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(i["subject"] for i in json.loads(listed.stdout)) == [
        "message 0", "message 1", "message 3"]
    assert {i["folder"] for i in json.loads(listed.stdout)} == {"INBOX"}
    restored = mailgate_cli(svc, monkeypatch, "recover", "restore", ADDRESS, "--all")
    assert restored.returncode == 0, restored.stderr
    assert len(flags_of(svc, inbox)) == 5


def test_changes_from_another_process_and_session_are_seen_by_a_cheap_poll(
        mailbox, monkeypatch):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 3)
    with svc.reader.connect() as conn:
        start = snapshot(conn, inbox).mark
        assert not changes_since(conn, inbox, start.uidnext, start.highestmodseq)
    delivered = mailgate_cli(svc, monkeypatch, "deliver", ADDRESS, stdin=message(99),
                             subprocess=True)
    assert delivered.returncode == 0, delivered.stderr
    with svc.engine.begin() as conn:  # another session
        store_flags(conn, inbox, UidSet.of([2]), FlagOperation.ADD, ["\\Seen", "\\Deleted"])
        expunge(conn, account, inbox, UidSet.of([2]), NOW)
        store_flags(conn, inbox, UidSet.of([3]), FlagOperation.ADD, ["\\Answered"])
    with svc.reader.connect() as conn:
        marks = folder_marks(conn, [inbox, 999_999])
        assert set(marks) == {inbox} and marks[inbox] != start
        seen = changes_since(conn, inbox, start.uidnext, start.highestmodseq)
        assert [(m.uid, m.flags) for m in seen.new] == [(4, "")]
        assert [(m.uid, m.flags) for m in seen.changed] == [(3, "\\Answered")]
        assert seen.vanished == [2]
        assert seen.mark == marks[inbox]
        assert not changes_since(conn, inbox, seen.mark.uidnext, seen.mark.highestmodseq)


def test_a_poll_is_the_same_statement_whatever_the_number_of_folders_or_accounts(mailbox):
    """The watcher polls many times a second over a changing set: one SQL text for any
    count, else SQLite's statement cache keeps one large statement per count."""
    svc, account = mailbox
    inbox = inbox_with(svc, account, 1)
    fill(svc, "Other", 1)
    other = folder(svc, account, "Other").id
    texts: list[str] = []
    with svc.reader.connect() as conn:
        event.listen(conn, "before_cursor_execute", lambda *a: texts.append(a[2]))
        one = folder_marks(conn, [inbox])
        three = folder_marks(conn, [inbox, other, 999_999])
        accounts = [mb.account_marks(conn, ids) for ids in ([account], [account, 999_999])]
    assert set(one) == {inbox} and set(three) == {inbox, other}
    assert three[inbox] == one[inbox]
    assert set(accounts[0]) == {account} and set(accounts[1]) == {account, 999_999}
    assert accounts[1][account] == accounts[0][account]
    assert {"INBOX", "Other"} <= {name for name, _ in accounts[0][account].folders.values()}
    assert not accounts[1][999_999].folders
    selects = [text for text in texts if text.startswith("SELECT")]
    assert len(selects) == 6 and selects[0] == selects[1] and selects[2:4] == selects[4:6]


def test_a_poll_of_a_deleted_folder_says_it_is_gone(mailbox):
    svc, account = mailbox
    fill(svc, "Doomed", 1)
    doomed = folder(svc, account, "Doomed")
    with svc.engine.begin() as conn:
        mb.delete_mailbox(conn, account, "Doomed", NOW)
    with svc.reader.connect() as conn:
        assert folder_marks(conn, [doomed.id]) == {}
        with pytest.raises(MailboxNotFound):
            changes_since(conn, doomed.id, 1, 1)


def test_pop_deletes_are_seen_as_vanished_by_imap_sessions(mailbox):
    svc, account = mailbox
    inbox = inbox_with(svc, account, 3)
    with svc.engine.begin() as conn:
        mark = folder_marks(conn, [inbox])[inbox]
        drop = maildrop(conn, account)
        assert to_recoverable(conn, account, [drop[0].message_id, drop[2].message_id],
                              NOW) == 2
    with svc.reader.connect() as conn:
        assert changes_since(conn, inbox, mark.uidnext, mark.highestmodseq).vanished == [1, 3]


def test_search_on_flags_sizes_dates_modseq_and_uid_sets(mailbox):
    svc, account = mailbox
    inbox = folder(svc, account, "INBOX").id
    items = [
        Incoming(message(1, date="Mon, 7 Feb 1994 23:30:00 -0800"), (), 1_000_000_000.0),
        Incoming(message(2, date="Tue, 8 Feb 1994 00:30:00 +0100"), ("\\Seen",),
                 1_000_086_400.0),
        Incoming(message(3, date="not a date at all"), ("$Later",), 1_000_172_800.0),
        Incoming(message(4, date=None, body="x" * 5000), ("\\Seen", "\\Flagged"),
                 1_000_259_200.0),
    ]
    append(svc, account, "INBOX", items)
    with svc.engine.begin() as conn:
        late = store_flags(conn, inbox, UidSet.of([3]), FlagOperation.ADD,
                           ["\\Answered"]).highestmodseq

    def found(key: s.SearchKey, max_uid: int | None = None) -> list[int]:
        with svc.reader.connect() as conn:
            return s.search(conn, inbox, key, max_uid).uids

    day = datetime.date
    assert found(s.All()) == [1, 2, 3, 4]
    assert found(s.All(), max_uid=2) == [1, 2]
    assert found(s.Flag("\\seen")) == [2, 4]
    assert found(s.Not(s.Flag("\\Seen"))) == [1, 3]
    assert found(s.Flag("$later")) == [3]
    assert found(s.Flag("\\Recent")) == []
    assert found(s.And((s.Flag("\\Seen"), s.Flag("\\Flagged")))) == [4]
    assert found(s.Or(s.Flag("$Later"), s.Uids(UidSet.of([1])))) == [1, 3]
    assert found(s.Larger(4000)) == [4] and found(s.Smaller(4000)) == [1, 2, 3]
    # internal dates: 2001-09-09 01:46:40 UTC plus whole days
    assert found(s.On(day(2001, 9, 10))) == [2]
    assert found(s.Before(day(2001, 9, 10))) == [1]
    assert found(s.Since(day(2001, 9, 11))) == [3, 4]
    # the Date header's own day, whatever the zone; no usable Date: the internal date
    assert found(s.SentOn(day(1994, 2, 7))) == [1]
    assert found(s.SentOn(day(1994, 2, 8))) == [2]
    assert found(s.SentBefore(day(1994, 2, 8))) == [1]
    assert found(s.SentSince(day(2001, 1, 1))) == [3, 4]
    assert found(s.Not(s.SentSince(day(1994, 2, 8)))) == [1]
    with svc.reader.connect() as conn:
        result = s.search(conn, inbox, s.ModSeq(late))
    assert (result.uids, result.highest_modseq) == ([3], late)
    # full text combines with the other keys (each full-text key: test_imap_store_fulltext)
    assert found(s.And((s.Flag("\\Seen"), s.Body("xxx")))) == [4]
    assert found(s.Or(s.Header("Subject", "MESSAGE 3"), s.Flag("\\Flagged"))) == [3, 4]


def test_delivery_keeps_the_date_header_as_sent_date(mailbox):
    svc, account = mailbox
    append(svc, account, "INBOX", [
        Incoming(message(1, date="Mon, 7 Feb 1994 21:52:25 -0800")),
        Incoming(message(2, date="nonsense"))])
    with svc.reader.connect() as conn:
        dated = dict(conn.execute(select(blobs.c.subject, blobs.c.sent_date)).all())
        zones = dict(conn.execute(select(blobs.c.subject, blobs.c.sent_tz)).all())
    assert dated == {"message 1": 760686745.0, "message 2": None}
    assert zones == {"message 1": -480, "message 2": None}
