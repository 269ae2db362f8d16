"""The IMAP store at size and against models: a bounded number of SQL statements per
operation on 2 000 messages, STORE sequences against a model (hypothesis), UID sets against
Python sets, and migration 0005 on existing data."""

from __future__ import annotations

import datetime
import time

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from mailgate.db.engine import alembic_config, migrate
from mailgate.db.schema import blobs, folders, subscriptions, uidvalidity_counters
from mailgate.service import Service
from mailgate.store import mailboxes as mb
from mailgate.store import search as s
from mailgate.store.errors import SearchUnsupported
from mailgate.store.flags import FlagOperation
from mailgate.store.messages import Incoming
from mailgate.store.selected import changes_since, fetch, snapshot
from mailgate.store.transfer import append, copy, expunge, move, store_flags
from mailgate.store.uidsets import UidSet
from mailstore import counting, fill, folder, message, new_account

NOW = float(int(time.time()))
MESSAGES = 2000
FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture
def mailbox(svc: Service) -> tuple[Service, int]:
    svc.clock = lambda: NOW
    return svc, new_account(svc)


def test_each_operation_on_2000_messages_is_a_bounded_number_of_statements(mailbox, capsys):
    svc, account = mailbox
    fill(svc, "INBOX", MESSAGES)
    inbox = folder(svc, account, "INBOX").id
    every_other = UidSet.of(range(1, MESSAGES + 1, 2))  # 1 000 single UIDs
    timings: dict[str, float] = {}

    def measured(name: str, limit: int, work, writes: bool = False):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        with counting(svc) as seen:
            if writes:
                with svc.engine.begin() as conn:
                    result = work(conn)
            else:
                with svc.reader.connect() as conn:
                    result = work(conn)
        timings[name] = time.perf_counter() - started
        assert seen.count <= limit, (name, seen.count, seen.texts)
        return result

    shot = measured("SELECT snapshot", 2, lambda c: snapshot(c, inbox))
    assert len(shot) == MESSAGES
    rows = measured("FETCH 1:* (ENVELOPE BODYSTRUCTURE)", 1,
                    lambda c: list(fetch(c, inbox, UidSet.everything(), structure=True)))
    assert len(rows) == MESSAGES and rows[-1].envelope
    assert len(measured("FETCH every other UID", 1,
                        lambda c: list(fetch(c, inbox, every_other)))) == MESSAGES // 2
    assert measured("STATUS INBOX", 1,
                    lambda c: mb.status(c, account, ["INBOX"]))["INBOX"].messages == MESSAGES
    assert len(measured("STATUS all folders", 1, lambda c: mb.status(c, account))) == 6
    stored = measured("STORE 1:* +FLAGS (\\Seen)", 4, lambda c: store_flags(
        c, inbox, UidSet.everything(), FlagOperation.ADD, ["\\Seen"]), writes=True)
    assert len(stored.stored) == MESSAGES
    measured("STORE every other +FLAGS (\\Deleted)", 4, lambda c: store_flags(
        c, inbox, every_other, FlagOperation.ADD, ["\\Deleted"]), writes=True)
    assert len(measured("SEARCH DELETED SINCE", 1, lambda c: s.search(c, inbox, s.And((
        s.Flag("\\Deleted"), s.Since(datetime.date(2001, 1, 1)))))).uids) == 1000
    changed = measured("changes since the snapshot", 3, lambda c: changes_since(
        c, inbox, shot.mark.uidnext, shot.mark.highestmodseq))
    assert len(changed.changed) == MESSAGES
    copied = measured("COPY 1:* Archive", 7,  # + the new rows' ids, their structure rows
                      lambda c: copy(c, account, inbox, UidSet.everything(), "Archive"),
                      writes=True)
    assert len(copied.destination_uids) == MESSAGES
    moved = measured("MOVE 1:500 Junk", 8,
                     lambda c: move(c, account, inbox, UidSet.of([(1, 500)]), "Junk", NOW),
                     writes=True)
    assert len(moved.source_uids) == 500
    gone = measured("EXPUNGE", 9, lambda c: expunge(c, account, inbox, None, NOW), writes=True)
    assert len(gone) == 750
    with capsys.disabled():
        print(f"\n[{svc.engine.dialect.name}] {MESSAGES} messages: " + ", ".join(
            f"{name} {seconds * 1000:.0f} ms" for name, seconds in timings.items()))


@FUZZ
@given(st.lists(st.tuples(
    st.sampled_from(list(FlagOperation)),
    st.lists(st.sampled_from(["\\Seen", "\\Flagged", "\\Deleted", "$A", "$a", "$B"]),
             max_size=3),
    st.lists(st.integers(1, 6), min_size=1, max_size=4)), min_size=1, max_size=6))
def test_store_sequences_agree_with_a_model(mailbox, operations):
    svc, account = mailbox
    box = folder(svc, account, "INBOX")
    if box.uidnext == 1:
        fill(svc, "INBOX", 6)
    with svc.reader.connect() as conn:
        start = snapshot(conn, box.id)
    model = {uid: {f.casefold() for f in flags.split()}
             for uid, flags in zip(start.uids, start.flags, strict=True)}
    modseqs = dict(zip(start.uids, start.modseqs, strict=True))
    highest = start.mark.highestmodseq
    for operation, flags, uids in operations:
        wanted = {f.casefold() for f in flags}
        with svc.engine.begin() as conn:
            done = store_flags(conn, box.id, UidSet.of(uids), operation, flags)
        changed = False
        for uid in set(uids):
            before = model[uid]
            after = (wanted if operation is FlagOperation.REPLACE
                     else before | wanted if operation is FlagOperation.ADD
                     else before - wanted)
            if after != before:
                changed = True
                modseqs[uid] = highest + 1
            model[uid] = after
        highest += changed
        assert done.highestmodseq == highest
    with svc.reader.connect() as conn:
        end = snapshot(conn, box.id)
    assert {uid: {f.casefold() for f in flags.split()}
            for uid, flags in zip(end.uids, end.flags, strict=True)} == model
    assert dict(zip(end.uids, end.modseqs, strict=True)) == modseqs
    assert end.mark.highestmodseq == highest


@FUZZ
@given(st.lists(st.one_of(st.integers(1, 300),
                          st.tuples(st.integers(1, 300), st.integers(1, 300))),
                max_size=12))
def test_uid_sets_in_sql_match_python_sets(mailbox, items):
    svc, account = mailbox
    box = folder(svc, account, "INBOX")
    if box.uidnext == 1:
        fill(svc, "INBOX", 200)
    expected = set()
    for item in items:
        lo, hi = (min(item), max(item)) if isinstance(item, tuple) else (item, item)
        expected |= set(range(lo, hi + 1))
    uids = UidSet.of(items)
    assert {u for u in range(1, 400) if u in uids} == expected
    with svc.reader.connect() as conn:
        assert [r.uid for r in fetch(conn, box.id, uids)] == sorted(
            u for u in expected if u <= 200)


def test_a_uid_set_of_any_size_is_one_statement_and_a_shattered_one_is_refused(mailbox):
    svc, account = mailbox
    fill(svc, "INBOX", 10)
    inbox = folder(svc, account, "INBOX").id
    huge = UidSet.of(range(1, 80_000, 2))  # 40 000 UIDs: past SQLite's parameter limit
    with counting(svc) as seen, svc.reader.connect() as conn:
        assert [r.uid for r in fetch(conn, inbox, huge)] == [1, 3, 5, 7, 9]
    assert seen.count == 1
    shattered = UidSet.of([(i * 200, i * 200 + 100) for i in range(1, 300)])
    with pytest.raises(SearchUnsupported), svc.reader.connect() as conn:
        list(fetch(conn, inbox, shattered))


def test_append_of_many_messages_is_one_transaction(mailbox):
    svc, account = mailbox
    with counting(svc) as seen:
        done = append(svc, account, "INBOX", [Incoming(message(n)) for n in range(50)])
    assert done.destination_uids == list(range(1, 51))
    # 8 before the rows' ids and structure rows; 2 more on SQLite for the FTS5 catch-up
    assert seen.count <= 12, seen.texts


def test_migration_0005_keeps_subscriptions_counts_uidvalidity_and_dates_old_mail(svc):
    new_account(svc)
    fill(svc, "INBOX", 2)
    append(svc, account := new_account(svc, "ola@example.test"), "INBOX", [
        Incoming("Date: Mon, 7 Feb 1994 21:52:25 -0800 (Pacific \u00e9)\nSubject: literal\n\n"
                 "x\n".encode()),
        Incoming(b'Date: Tue, 8 Feb 1994 10:00:00 +0100 ("quoted")\nSubject: quoted\n\nx\n')])
    with svc.engine.begin() as conn:
        mb.unsubscribe(conn, account, "Junk")
        before = {
            "subscribed": set(conn.execute(select(subscriptions.c.account_id,
                                                  subscriptions.c.name)).all()),
            "counters": dict(conn.execute(select(uidvalidity_counters.c.account_id,
                                                 uidvalidity_counters.c.last)).all()),
            "dates": dict(conn.execute(select(blobs.c.digest, blobs.c.sent_date)).all()),
        }
        cfg = alembic_config(svc.engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
        assert conn.execute(text("SELECT COUNT(*) FROM folders WHERE subscribed")).scalar() \
            == len(before["subscribed"])
    migrate(svc.engine, svc.settings.blob_dir)
    with svc.reader.connect() as conn:
        assert set(conn.execute(select(subscriptions.c.account_id,
                                       subscriptions.c.name)).all()) == before["subscribed"]
        counters = dict(conn.execute(select(uidvalidity_counters.c.account_id,
                                            uidvalidity_counters.c.last)).all())
        highest = dict(conn.execute(select(folders.c.account_id, folders.c.uidvalidity)
                                    .order_by(folders.c.uidvalidity)).all())
        dates = dict(conn.execute(select(blobs.c.digest, blobs.c.sent_date)).all())
    assert counters == highest and set(counters) == set(before["counters"])
    assert dates == before["dates"] and None not in dates.values()
    with svc.engine.begin() as conn:  # and the store works on the migrated schema
        mb.create_mailbox(conn, account, "After", NOW)
    assert folder(svc, account, "After").uidvalidity > highest[account]
