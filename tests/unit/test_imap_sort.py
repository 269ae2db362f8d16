"""SORT and THREAD (RFC 5256), ESORT / CONTEXT=SORT returns (RFC 5267, RFC 9394 PARTIAL) and
DISPLAYFROM/DISPLAYTO (RFC 5957): the keys kept per message at delivery, import, APPEND and
by migration 0006, the store's ordering, the door's replies, and Dovecot's imaptest `sort-*`,
`esort` and `thread*` groups run through them — on every database backend."""

from __future__ import annotations

import datetime
import re
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from mailgate import mime
from mailgate.db.engine import alembic_config, migrate
from mailgate.db.schema import blobs
from mailgate.mime.sortkeys import base_subject, casemap, message_ids, sort_keys
from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.commands import SearchReturn
from mailgate.protocols.imap.framer import RawCommand
from mailgate.protocols.imap.ordering import (
    esearch_reply,
    sequence_in_order,
    sort_reply,
    thread_reply,
)
from mailgate.protocols.imap.parser import parse_command
from mailgate.protocols.imap.search import SearchAll, SearchMessages
from mailgate.service import Service
from mailgate.store import importer
from mailgate.store import mailboxes as mb
from mailgate.store.flags import FlagOperation
from mailgate.store.messages import Incoming, blob_store, deliver
from mailgate.store.ordering import ThreadNode, key_columns, sort_uids, thread_uids
from mailgate.store.selected import snapshot
from mailgate.store.transfer import append, expunge, store_flags
from mailgate.store.uidsets import UidSet
from mailstore import ADDRESS, counting, folder, new_account

NOW = float(int(time.time()))
SCRIPTS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "imaptest"
GROUPS = sorted(p for p in (SCRIPTS.iterdir() if SCRIPTS.is_dir() else ())
                if re.fullmatch(r"sort-[a-z-]+|esort|thread[0-9a-z-]*", p.name))


@pytest.fixture
def mailbox(svc: Service) -> tuple[Service, int]:
    svc.clock = lambda: NOW
    return svc, new_account(svc)


def put(svc: Service, account: int, name: str, raws: list[bytes],
        dates: list[float] | None = None) -> int:
    """A new folder holding these messages (one APPEND), UIDs 1..n; returns its id."""
    with svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, name, NOW)
    stamps = dates or [NOW - 1000 + n for n in range(len(raws))]
    append(svc, account, name, [Incoming(raw, (), stamp)
                                for raw, stamp in zip(raws, stamps, strict=True)])
    return folder(svc, account, name).id


def mail(subject: str | None = None, date: str | None = None, message_id: str | None = None,
         references: str | None = None, in_reply_to: str | None = None,
         **more: str) -> bytes:
    headers = {"Subject": subject, "Date": date, "Message-ID": message_id,
               "References": references, "In-Reply-To": in_reply_to, **more}
    return ("".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items()
                    if v is not None) + "\r\nbody\r\n").encode()


def sorted_by(svc: Service, folder_id: int, *criteria: str) -> list[int]:
    parsed = [(c.removeprefix("REVERSE "), c.startswith("REVERSE ")) for c in criteria]
    with svc.reader.connect() as conn:
        return sort_uids(conn, folder_id, range(1, 100_000), parsed)


def threaded(svc: Service, folder_id: int, algorithm: str,
             labels: dict[int, int] | None = None) -> str:
    with svc.reader.connect() as conn:
        threads = thread_uids(conn, folder_id, range(1, 100_000), algorithm)
    return thread_reply(threads, labels.__getitem__ if labels else None).decode()[9:-2]


# -- the keys (mailgate.mime.sortkeys) -------------------------------------------------------

@pytest.mark.parametrize(("subject", "base", "is_reply"), [
    ("", "", False),
    ("a", "a", False),
    ("Re: foo", "foo", True),
    ("RE:   foo\t bar ", "foo bar", True),
    ("Re[2]: foo", "foo", True),
    ("Fw: foo", "foo", True),
    ("fwd : foo", "foo", True),
    ("[list] Re: foo", "foo", True),
    ("[list] foo", "foo", False),
    ("[xyz]", "[xyz]", False),
    ("[a] [b]", "[b]", False),
    ("foo (fwd)", "foo", True),
    ("foo (FWD) (fwd)  ", "foo", True),
    ("[fwd: foo]", "foo", True),
    ("Re: [FWD: c]", "c", True),
    ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", True),
    ("re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", True),
    ("Ad: Re: Ad: Re: Ad: x", "Ad: Re: Ad: Re: Ad: x", False),
    ("Reply: foo", "Reply: foo", False),
    ("b (a)", "b (a)", False),
])
def test_base_subject_follows_rfc_5256_section_2_1(subject: str, base: str,
                                                   is_reply: bool) -> None:
    assert base_subject(subject) == (base, is_reply)


def test_base_subject_of_huge_bracket_and_prefix_runs_is_linear() -> None:
    for subject in ("[a]" * 200_000 + " x", "Re: " * 200_000 + "x",
                    "[a]" * 200_000 + "(fwd)" * 100_000, "[fwd: " * 100_000 + "x" + "]" * 100_000):
        started = time.perf_counter()
        base_subject(subject)
        assert time.perf_counter() - started < 30  # quadratic would take hours


def test_strings_compare_in_i_unicode_casemap_order_as_dovecot_does() -> None:
    # RFC 5051 titlecases: "[" (0x5B) sorts after the letters and before "_"
    assert sorted(["_", "[xyz]", "c", "B", "a"], key=casemap) == ["a", "B", "c", "[xyz]", "_"]
    assert casemap("ﬁne Ärger") == casemap("FINE ÄRGER") == "FINE A\u0308RGER"


def test_message_ids_are_normalised_and_invalid_ones_skipped() -> None:
    assert message_ids('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>') == \
        message_ids("<01KF8JCEOCBS0045PS@xxx.yyy.com>") == ["<01KF8JCEOCBS0045PS@xxx.yyy.com>"]
    assert message_ids("<a@b> (comment) <no-at> <c@\r\n d> <@x> <y@>") == ["<a@b>", "<c@d>"]


def keys_of(raw: bytes) -> mime.SortKeys:
    return mime.parse(mime.to_crlf(raw)).sort_keys


def test_keys_of_a_message() -> None:
    keys = keys_of(b"From: =?iso-8859-1?q?J=F6rg_M?= <Joerg@Example.ORG>, b@c\n"
                   b"To: undisclosed: a@b, c@d;\nCc: <Boss@x.y>\n"
                   b"Subject: Re: [list] Fwd: Meeting\nMessage-ID: <\"m 1\"@x>\n"
                   b"References: <r1@x>\n <r2@x>\nIn-Reply-To: <r3@x>\n\nbody\n")
    assert keys == mime.SortKeys(
        from_mailbox="JOERG", to_mailbox="UNDISCLOSED", cc_mailbox="BOSS",
        display_from="JO\u0308RG M", display_to="UNDISCLOSED", base_subject="MEETING",
        is_reply=True, message_id="<m1@x>", references=("<r1@x>", "<r2@x>"))
    assert keys_of(b"In-Reply-To: John's note <r3@x> of <r4@x>\nTo: d\n\nx") == mime.SortKeys(
        to_mailbox="D", display_to="D", references=("<r3@x>",))
    assert keys_of(b"Subject: x\n\nbody") == mime.SortKeys(base_subject="X")


def test_keys_are_bounded() -> None:
    keys = sort_keys({"subject": ["s" * 5000], "references": [" ".join(
        f"<{n}@x>" for n in range(500))]})
    assert len(keys.base_subject) == 1000
    assert keys.references == tuple(f"<{n}@x>" for n in range(400, 500))


# -- keys stored at every way in, and by migration 0006 --------------------------------------

def stored_keys(svc: Service) -> dict[str, dict[str, object]]:
    names = list(key_columns(mime.SortKeys()))
    with svc.reader.connect() as conn:
        return {row.digest: {name: getattr(row, name) for name in names}
                for row in conn.execute(select(blobs.c.digest, *(blobs.c[n] for n in names)))}


def test_keys_are_stored_at_delivery_import_and_append(mailbox) -> None:
    svc, account = mailbox
    raws = [mail(f"Re: way {n}", message_id=f"<w{n}@x>", references=f"<w{n - 1}@x>",
                 From=f"Way {n} <way{n}@example.org>") for n in range(3)]
    deliver(svc, ADDRESS, raws[0])
    importer.import_sources(svc, ADDRESS, [importer.Source("INBOX", raws[1], (), None)])
    append(svc, account, "INBOX", [Incoming(raws[2])])
    stored = stored_keys(svc)
    assert len(stored) == 3
    for raw in raws:
        digest = blob_store(svc).digest(mime.to_crlf(raw))
        assert stored[digest] == key_columns(keys_of(raw))
        assert stored[digest]["sort_subject"].startswith("WAY ")
        assert stored[digest]["thread_refs"] and stored[digest]["subject_is_reply"]


def test_migration_0006_fills_the_keys_of_stored_mail_from_the_files(mailbox) -> None:
    svc, account = mailbox
    raws = [mail(f"Re: old {n}", message_id=f"<o{n}@x>", references=f"<o{n - 1}@x> <p@x>",
                 From=f"Old {n} <old{n}@example.org>", To="team: a@b;") for n in range(1201)]
    importer.import_sources(svc, ADDRESS, [importer.Source("INBOX", raw, (), None)
                                           for raw in raws])
    before = stored_keys(svc)
    lost = blob_store(svc).digest(mime.to_crlf(raws[7]))
    blob_store(svc).path(lost).unlink()
    downgrade(svc, "0005")
    with pytest.raises(RuntimeError, match="blob directory"):
        migrate(svc.engine)  # nothing changes: the whole upgrade is one transaction
    migrate(svc.engine, svc.settings.blob_dir)
    after = stored_keys(svc)
    assert after.pop(lost) == key_columns(mime.SortKeys())  # a lost file: empty keys
    before.pop(lost)
    assert after == before
    inbox = folder(svc, account, "INBOX").id
    assert sorted_by(svc, inbox, "REVERSE SUBJECT")[:2] == [1000, 999]  # "OLD 999" ...


def downgrade(svc: Service, revision: str) -> None:
    with svc.engine.begin() as conn:
        cfg = alembic_config(svc.engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


# -- SORT --------------------------------------------------------------------------------------

def test_sort_by_subject_then_reverse_date_as_in_rfc_5256(mailbox) -> None:
    svc, account = mailbox
    day = "Mon, 7 Feb 1994 21:52:2{} -0800"
    folder_id = put(svc, account, "Sorting", [
        mail("b", day.format(1)), mail("c (fwd)", day.format(1)),
        mail("Re: a", day.format(2)), mail("[list] a", day.format(1)),
        mail("a", day.format(3))])
    assert sorted_by(svc, folder_id, "SUBJECT", "REVERSE DATE") == [5, 3, 4, 1, 2]
    assert sorted_by(svc, folder_id, "REVERSE SUBJECT") == [2, 1, 3, 4, 5]  # ties stay UID order
    with svc.reader.connect() as conn:
        assert sort_uids(conn, folder_id, [4, 1, 5, 77], [("SUBJECT", False)]) == [4, 5, 1]
        assert sort_uids(conn, folder_id, [], [("SIZE", False)]) == []


def test_sort_date_is_the_utc_date_header_else_the_internal_date(mailbox) -> None:
    svc, account = mailbox
    folder_id = put(svc, account, "Dates", [
        mail(date="Tue, 8 Feb 1994 01:00:00 +0200"),  # 7 Feb 23:00 UTC
        mail(date="not a date"),  # internal date: 7 Feb 23:30 UTC
        mail(date="Mon, 7 Feb 1994 22:00:00 -0000"),
        mail()], [760_000_000.0, 760_663_800.0, 1.0, 760_000_000.0])
    assert sorted_by(svc, folder_id, "DATE") == [4, 3, 1, 2]
    assert sorted_by(svc, folder_id, "REVERSE DATE") == [2, 1, 3, 4]
    assert sorted_by(svc, folder_id, "ARRIVAL") == [3, 1, 4, 2]


def test_sort_addresses_and_display_names(mailbox) -> None:
    svc, account = mailbox
    folder_id = put(svc, account, "People", [
        mail(From="zed <Alpha@z.org>", To="b@x", Cc="Bob <c@x>"),
        mail(From="alpha@a.org", To="A@y", Cc="a: b@x;"),
        mail(From="=?utf-8?q?=C3=84rger?= <x@y>", To=""),
        mail()])
    assert sorted_by(svc, folder_id, "FROM") == [4, 1, 2, 3]
    assert sorted_by(svc, folder_id, "DISPLAYFROM") == [4, 2, 3, 1]  # Ä casemaps to A + ¨
    assert sorted_by(svc, folder_id, "TO") == [3, 4, 2, 1]
    assert sorted_by(svc, folder_id, "DISPLAYTO") == [3, 4, 2, 1]
    assert sorted_by(svc, folder_id, "CC", "REVERSE SIZE") == [3, 4, 2, 1]
    with svc.reader.connect() as conn, pytest.raises(ValueError, match="BOGUS"):
        sort_uids(conn, folder_id, [1], [("BOGUS", False)])


# -- THREAD ------------------------------------------------------------------------------------

def test_thread_references_reproduces_the_rfc_5256_response_example(mailbox) -> None:
    svc, account = mailbox
    labels = [2, 3, 6, 4, 23, 44, 7, 96]
    parent = {6: 3, 4: 6, 23: 4, 44: 6, 7: 44, 96: 7}

    def chain(label: int) -> list[int]:
        up = []
        while label in parent:
            label = parent[label]
            up.insert(0, label)
        return up

    folder_id = put(svc, account, "Example", [
        mail(f"topic {label}" if label in (2, 3) else f"Re: topic {chain(label)[0]}",
             message_id=f"<{label}@x>",
             references=" ".join(f"<{up}@x>" for up in chain(label)) or None)
        for label in labels])
    got = threaded(svc, folder_id, "REFERENCES", dict(enumerate(labels, 1)))
    assert got == "(2)(3 6 (4 23)(44 7 96))"


@pytest.mark.parametrize(("messages", "expected"), [
    # a missing parent of two top-level messages stays as a dummy
    ([mail("x", references="<gone@x>"), mail("y", references="<gone@x>")], "((1)(2))"),
    # ... of one is dropped, the child promoted
    ([mail("x", references="<gone@x>"), mail("y")], "(1)(2)"),
    # inside a thread, dummies go and their children move up
    ([mail("x", message_id="<a@x>"), mail("y", references="<a@x> <gone@x>"),
      mail("z", references="<a@x> <gone@x>")], "(1 (2)(3))"),
    # In-Reply-To counts when there is no References
    ([mail("x", message_id="<a@x>"), mail("y", in_reply_to="Your note <a@x>")], "(1 2)"),
    # a parent arriving after its replies takes them
    ([mail("Re: x", references="<a@x>"), mail("x", message_id="<a@x>")], "(2 1)"),
    # same base subject: a reply goes under the original ...
    ([mail("Re: foo"), mail("foo")], "(2 1)"),
    # ... two originals (or two replies) under a new dummy; no subject: never merged
    ([mail("foo"), mail("foo"), mail("Re: bar"), mail("RE: bar"), mail(), mail()],
     "((1)(2))((3)(4))(5)(6)"),
    # a kept dummy takes a later thread of the same subject
    ([mail("x", references="<gone@x>"), mail("Re: x", references="<gone@x>"), mail("x")],
     "((1)(2)(3))"),
    # duplicate Message-IDs: only the first keeps it
    ([mail("x", message_id="<a@x>"), mail("y", message_id="<a@x>"),
      mail("z", references="<a@x>")], "(1 3)(2)"),
    # reference loops are not made: 1 is under 2 first, so 2 cannot go under 1
    ([mail("x", message_id="<a@x>", references="<b@x>"),
      mail("y", message_id="<b@x>", references="<a@x>"),
      mail("z", message_id="<c@x>", references="<c@x>")], "(2 1)(3)"),
])
def test_thread_references_rules(mailbox, messages: list[bytes], expected: str) -> None:
    svc, account = mailbox
    assert threaded(svc, put(svc, account, "Rules", messages), "REFERENCES") == expected


def test_thread_orderedsubject_groups_by_base_subject_ordered_by_sent_date(mailbox) -> None:
    svc, account = mailbox
    day = "Mon, 7 Feb 1994 21:52:2{} -0800"
    folder_id = put(svc, account, "Ordered", [
        mail("b", day.format(5)), mail("Re: a", day.format(3)), mail("a", day.format(4)),
        mail("c"), mail("Fwd: b", day.format(1)), mail("[x] a", day.format(4))],
        [NOW] * 6)
    assert threaded(svc, folder_id, "ORDEREDSUBJECT") == "(5 1)(2 (3)(6))(4)"
    with svc.reader.connect() as conn, pytest.raises(ValueError, match="REFS"):
        thread_uids(conn, folder_id, [1], "refs")


def test_a_reply_chain_thousands_deep_threads_without_recursion(mailbox) -> None:
    svc, account = mailbox
    depth = 3000
    folder_id = put(svc, account, "Deep", [
        mail(f"Re: deep {n}", message_id=f"<d{n}@x>", references=f"<d{n - 1}@x>")
        for n in range(depth)])
    expected = "(" + " ".join(str(n) for n in range(1, depth + 1)) + ")"
    assert threaded(svc, folder_id, "REFERENCES") == expected


def test_sort_and_thread_of_ten_thousand_messages_are_one_query_each(sqlite_svc) -> None:
    svc = sqlite_svc
    account = new_account(svc)
    count = 10_000
    importer.import_sources(svc, ADDRESS, [importer.Source("Big", mail(
        f"{'Re: ' if n % 3 else ''}topic {n % 700}", f"Mon, 7 Feb 1994 {n % 24}:00:00 +0000",
        f"<m{n}@x>", f"<m{n // 2}@x>" if n else None, From=f"user{n % 97}@example.org"),
        (), 1_000_000.0 + n) for n in range(count)])
    folder_id = folder(svc, account, "Big").id
    uids = list(range(1, count + 1))
    timings = {}
    with svc.reader.connect() as conn, counting(svc) as seen:
        for name, run in [
            ("sort", lambda: sort_uids(conn, folder_id, uids, [("SUBJECT", False),
                                                            ("DATE", True)])),
            ("thread", lambda: thread_uids(conn, folder_id, uids, "REFERENCES")),
            ("orderedsubject", lambda: thread_uids(conn, folder_id, uids, "ORDEREDSUBJECT"))]:
            started = time.perf_counter()
            result = run()
            timings[name] = time.perf_counter() - started
            assert result
    assert seen.count == 3, seen.texts
    print(f"10 000 messages: {', '.join(f'{k} {v * 1000:.0f} ms' for k, v in timings.items())}")
    assert max(timings.values()) < 60  # generous: a shared, slow machine


# -- the door's replies --------------------------------------------------------------------

def test_sort_and_esearch_replies() -> None:
    returns = SearchReturn(frozenset({"MIN", "MAX", "ALL", "COUNT"}))
    assert sort_reply([2, 84, 882]) == b"* SORT 2 84 882\r\n"
    assert sort_reply([]) == b"* SORT\r\n"
    assert sort_reply([3, 1], modseq=917) == b"* SORT 3 1 (MODSEQ 917)\r\n"
    assert esearch_reply("E01", [23765, 23764, 23763, 23761], SearchReturn(frozenset({"ALL"})),
                         uid=True) == b'* ESEARCH (TAG "E01") UID ALL 23765,23764,23763,23761\r\n'
    assert esearch_reply("A1", [5, 3, 4, 2, 1], returns, uid=False) == \
        b'* ESEARCH (TAG "A1") MIN 5 MAX 1 ALL 5,3:4,2,1 COUNT 5\r\n'
    assert esearch_reply("A1", [], returns, uid=True) == b'* ESEARCH (TAG "A1") UID COUNT 0\r\n'
    assert esearch_reply("A1", [1], SearchReturn(frozenset({"SAVE"})), uid=False) == b""
    partial = SearchReturn(frozenset({"PARTIAL"}), (-2, -1))
    assert esearch_reply("A1", [9, 8, 7], partial, uid=False) == \
        b'* ESEARCH (TAG "A1") PARTIAL (-1:-2 8,7)\r\n'
    assert esearch_reply("A1", [9], SearchReturn(frozenset({"PARTIAL"}), (5, 9)), uid=False) == \
        b'* ESEARCH (TAG "A1") PARTIAL (5:9 NIL)\r\n'
    assert sequence_in_order([1, 2, 3, 7, 5, 6, 6]) == "1:3,7,5:6,6"


def test_thread_replies() -> None:
    assert thread_reply([]) == b"* THREAD\r\n"
    assert thread_reply([ThreadNode(None, [ThreadNode(3), ThreadNode(5)])]) == \
        b"* THREAD ((3)(5))\r\n"
    nested = ThreadNode(1, [ThreadNode(2, [ThreadNode(3)]), ThreadNode(4)])
    assert thread_reply([nested, ThreadNode(9)], {1: 10, 2: 20, 3: 30, 4: 40, 9: 90}.get) == \
        b"* THREAD (10 (20 30)(40))(90)\r\n"


# -- Dovecot's imaptest groups -------------------------------------------------------------

_FROM_LINE = re.compile(rb"^From \S+ +(\w{3} \w{3} +\d+ \d+:\d+:\d+ \d{4})(?: ([+-]\d{4}))?",
                        re.MULTILINE)


def mbox_messages(path: Path) -> list[tuple[bytes, float]]:
    """The messages of an imaptest mbox with the internal dates imaptest APPENDs them with
    (the From line's date, in its zone, UTC without one)."""
    data = path.read_bytes()
    messages = mime.split_mbox(data)
    dates = []
    for match in _FROM_LINE.finditer(data):
        moment = datetime.datetime.strptime(" ".join(match[1].decode().split()),
                                            "%a %b %d %H:%M:%S %Y")
        zone = match[2].decode() if match[2] else "+0000"
        offset = (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 60 + int(zone[3:]))
        dates.append(moment.replace(tzinfo=datetime.UTC).timestamp() - offset * 60)
    assert len(dates) == len(messages), path
    return list(zip(messages, dates, strict=True))


def script(path: Path) -> tuple[dict[str, str], list[tuple[str, str, list[str]]]]:
    """Header, then (status, command, expected untagged replies) of one group."""
    head, _, body = path.read_text().partition("\n\n")
    header = dict(line.split(":", 1) for line in head.splitlines())
    steps: list[tuple[str, str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("* "):
            steps[-1][2].append(line)
        elif line.strip():
            status, _, text = line.partition(" ")
            steps.append((status, text, []))
    return {k.strip(): v.strip() for k, v in header.items()}, steps


@pytest.mark.skipif(not GROUPS, reason=f"imaptest scripts not found at {SCRIPTS}")
@pytest.mark.parametrize("group", GROUPS or [SCRIPTS], ids=lambda path: path.name)
def test_imaptest_sort_and_thread_groups(mailbox, group: Path) -> None:
    svc, account = mailbox
    header, steps = script(group)
    source = group.with_name(group.name + ".mbox")
    found = mbox_messages(source if source.exists() else group.with_name("default.mbox"))
    count = header.get("messages", "0")  # none before the script's own APPENDs
    first = len(found) if count == "all" else int(count)
    folder_id = put(svc, account, "imaptest", [m for m, _ in found[:first]],
                    [d for _, d in found[:first]])
    appending = iter(found[first:])
    checked = 0
    for number, (status, text, expected) in enumerate(steps):
        tag = f"t{number}"
        if text in ("append", "select $mailbox"):  # the next mbox message; selected already
            if text == "append":
                raw, date = next(appending)
                append(svc, account, "imaptest", [Incoming(raw, (), date)])
            continue
        parsed = parse_command(RawCommand((f"{tag} {text}".encode(),)))
        if status == "bad":
            assert isinstance(parsed, c.ParseError), text
            continue
        with svc.reader.connect() as conn:
            uids = list(snapshot(conn, folder_id).uids)
        seq_of = {uid: seq for seq, uid in enumerate(uids, 1)}
        with svc.engine.begin() as conn:
            reply = run(conn, parsed, account, folder_id, uids, seq_of)
        if expected:
            want = [line.replace("$tag", f'"{tag}"').lower() for line in expected]
            assert reply.decode().lower().splitlines() == want, text
            checked += 1
    assert checked


def run(conn, command: c.Command | c.ParseError, account: int, folder_id: int,
        uids: list[int], seq_of: dict[int, int]) -> bytes:
    """One command of these groups, the way the session would do it."""
    match command:
        case c.Sort(tag=tag, criteria=criteria, key=key, uid=uid, returns=returns):
            found = sort_uids(conn, folder_id, wanted(key, uids),
                              [(k.key, k.reverse) for k in criteria])
            numbers = found if uid else [seq_of[u] for u in found]
            return sort_reply(numbers) if returns is None else \
                esearch_reply(tag, numbers, returns, uid=uid)
        case c.Thread(algorithm=algorithm, key=key, uid=uid):
            threads = thread_uids(conn, folder_id, wanted(key, uids), algorithm)
            return thread_reply(threads, None if uid else seq_of.__getitem__)
        case c.Store(messages=messages, flags=flags):
            picked = [uids[low - 1:high] for low, high in messages.resolve(len(uids))]
            store_flags(conn, folder_id, UidSet.of(u for part in picked for u in part),
                        FlagOperation.ADD, list(flags))
            return b""
        case c.Expunge():
            expunge(conn, account, folder_id, None, NOW)
            return b""
    raise AssertionError(f"not expected in these groups: {command}")


def wanted(key: object, uids: list[int]) -> list[int]:
    match key:
        case SearchAll():
            return uids
        case SearchMessages(messages=messages, uid=False):
            return [u for low, high in messages.resolve(len(uids)) for u in uids[low - 1:high]]
    raise AssertionError(f"search key not expected in these groups: {key}")
