"""Random sessions at a real IMAP listener: valid commands, mangled ones and garbage, mixed.

Hypothesis drives one connection per example, one step at a time (each step is sent, then
read until answered), against a `mailgate serve` shared by the examples. Properties:

- every tagged command gets exactly one tagged response, and no other tag is answered;
  a session ends only with `* BYE` (LOGOUT, too many bad commands), never silently;
- no exception escapes: no "Internal server error" BYE, no traceback in any reply or in
  the server's log;
- the account stays consistent: in every folder the UIDs are ascending and below UIDNEXT,
  and EXISTS, STATUS MESSAGES and the number of FETCH responses agree.

`make test` runs a short profile; HYPOTHESIS_PROFILE=fuzz (what `make fuzz` sets) runs long.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imap_raw import RawImap, Reply, tagged_lines
from live_server import RunningServer, start_server

ADDRESS = "prop@example.test"
PASSWORD = "correct horse battery"
MAX_MESSAGE = 64 * 1024
PROFILES = {
    "default": settings(max_examples=30, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow]),
    "fuzz": settings(max_examples=1000, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow]),
}
PROFILE = PROFILES[os.environ.get("HYPOTHESIS_PROFILE", "default")
                   if os.environ.get("HYPOTHESIS_PROFILE") in PROFILES else "default"]
LEAKS = (b"Traceback", b"Internal server error", b'File "', b"Error:", b"Exception")
_LITERAL_AT_END = re.compile(rb"\{[0-9]*\+?\}$")
#: Commands that would change the connection itself (TLS, compression): kept out.
_CONNECTION_CHANGING = re.compile(rb"STARTTLS|COMPRESS", re.IGNORECASE)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("properties") / "data", ("imap", "http"),
                           extra_env={"MAILGATE_STORAGE_MAX_MESSAGE_BYTES": str(MAX_MESSAGE)})
    running.account(ADDRESS, PASSWORD)
    client = RawImap(running)
    client.login(ADDRESS, PASSWORD)
    for n in range(4):
        body = b"Subject: m%d\r\nFrom: x@example.org\r\n\r\nbody %d\r\n" % (n, n)
        assert client.command(b"A", b"APPEND INBOX {%d+}\r\n" % len(body) + body).status(
            b"A") == b"OK"
    assert client.command(b"C", b"CREATE Projects").status(b"C") == b"OK"
    client.close()
    yield running
    running.stop_cleanly()


# -- what a step sends -------------------------------------------------------------------------

REACHABLE = {b'"INBOX"', b'"Projects"', b'"Nope"', b'"Tmp 1"', b'"Tmp2"'}  # as LIST has them
_mailbox = st.sampled_from([*sorted(REACHABLE), b"INBOX", b"Tmp2", b'""', b'"&Jjo"', b'"\xff"',
                            b"{5+}\r\nINBOX"])
_number = st.sampled_from([b"0", b"1", b"2", b"3", b"*", b"4294967295", b"99"])
_set = st.builds(lambda a, sep, b: a + sep + b, _number, st.sampled_from([b"", b":", b","]),
                 _number).map(lambda s: s.rstrip(b":,") or b"1")
_flag = st.sampled_from([b"\\Seen", b"\\Flagged", b"\\Deleted", b"\\Draft", b"$Work",
                         b"\\Recent", b"\\Bogus"])
_flags = st.lists(_flag, max_size=3).map(lambda f: b"(" + b" ".join(f) + b")")
_fetch_items = st.sampled_from([b"FLAGS", b"(UID FLAGS)", b"ALL", b"FULL", b"BODY.PEEK[]",
                                b"(BODY[HEADER.FIELDS (SUBJECT)] RFC822.SIZE)", b"BODYSTRUCTURE",
                                b"(ENVELOPE INTERNALDATE)", b"BINARY.PEEK[1]", b"BODY[1.MIME]",
                                b"(FLAGS) (CHANGEDSINCE 1)", b"MODSEQ"])
_search = st.sampled_from([b"ALL", b"SEEN", b"UNSEEN FLAGGED", b"OR SEEN DELETED",
                           b"NOT (SUBJECT m1)", b"TEXT body", b"UID 1:*", b"LARGER 10",
                           b"RETURN (MIN MAX COUNT) ALL", b"RETURN (SAVE) SEEN", b"$",
                           b"MODSEQ 1", b"SINCE 1-Jan-2020", b"CHARSET UTF-8 BODY x"])
_message = st.sampled_from([b"Subject: new\r\n\r\nhi\r\n", b"x", b"\r\n\r\n",
                            b"Subject: \xff\xfe\r\n\r\n\x00\r\n"])


def _append(mailbox: bytes, flags: bytes, body: bytes) -> bytes:
    return b"APPEND " + mailbox + b" " + flags + b" {%d+}\r\n" % len(body) + body


_valid = st.one_of(
    st.sampled_from([b"NOOP", b"CAPABILITY", b"CHECK", b"EXPUNGE", b"CLOSE", b"UNSELECT",
                     b"NAMESPACE", b'LIST "" *', b'LIST "" %', b'LSUB "" *', b"ID NIL",
                     b"ENABLE CONDSTORE", b"ENABLE QRESYNC UTF8=ACCEPT", b'GETQUOTAROOT INBOX',
                     b"LOGOUT", b'LOGIN "prop@example.test" "correct horse battery"',
                     b'LOGIN "prop@example.test" "wrong"', b"IDLE", b"AUTHENTICATE PLAIN",
                     b'LIST "" * RETURN (STATUS (MESSAGES UIDNEXT))']),
    st.builds(lambda verb, box: verb + b" " + box,
              st.sampled_from([b"SELECT", b"EXAMINE", b"CREATE", b"DELETE", b"SUBSCRIBE",
                               b"UNSUBSCRIBE"]), _mailbox),
    st.builds(lambda a, b: b"RENAME " + a + b" " + b, _mailbox, _mailbox),
    st.builds(lambda box: b"STATUS " + box + b" (MESSAGES UIDNEXT UNSEEN SIZE)", _mailbox),
    st.builds(lambda uid, s, items: uid + b"FETCH " + s + b" " + items,
              st.sampled_from([b"", b"UID "]), _set, _fetch_items),
    st.builds(lambda uid, s, mode, flags: uid + b"STORE " + s + b" " + mode + b" " + flags,
              st.sampled_from([b"", b"UID "]), _set,
              st.sampled_from([b"+FLAGS", b"-FLAGS", b"FLAGS", b"+FLAGS.SILENT",
                               b"(UNCHANGEDSINCE 1) +FLAGS"]), _flags),
    st.builds(lambda uid, key: uid + b"SEARCH " + key, st.sampled_from([b"", b"UID "]),
              _search),
    st.builds(lambda verb, s, box: verb + b" " + s + b" " + box,
              st.sampled_from([b"COPY", b"MOVE", b"UID COPY", b"UID MOVE", b"UID EXPUNGE"]),
              _set, _mailbox),
    st.builds(lambda key: b"SORT (SUBJECT REVERSE DATE) UTF-8 " + key, _search),
    st.builds(lambda key: b"THREAD REFERENCES UTF-8 " + key, _search),
    st.builds(_append, _mailbox, _flags, _message),
)
_noise = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@st.composite
def _mangled(draw: st.DrawFn) -> bytes:
    """A valid command cut short, with octets inserted, or with a bracket added or lost."""
    text = draw(_valid.filter(lambda t: b"{" not in t))  # literals keep their exact size
    how = draw(st.sampled_from(["cut", "insert", "bracket", "drop"]))
    at = draw(st.integers(min_value=0, max_value=len(text)))
    if how == "cut":
        return text[:at]
    if how == "insert":
        return text[:at] + draw(_noise) + text[at:]
    if how == "bracket":
        return text[:at] + draw(st.sampled_from([b"(", b")", b"[", b"]", b"<", b'"'])) + text[at:]
    return text[:at] + text[at + 1:]


@dataclass(frozen=True)
class Step:
    """What one step sends after its tag (`tag` None: octets sent with no tag at all)."""

    kind: str
    data: bytes


def _safe(line: bytes) -> bytes:
    """The line without what would take the connection elsewhere (TLS, compression), and
    without a literal marker at its very end (the next step would be read as its octets)."""
    line = _CONNECTION_CHANGING.sub(b"NOOP", line)
    while _LITERAL_AT_END.search(line.split(b"\r\n")[-1]):
        line += b" x"
    return line


_steps = st.one_of(
    st.builds(Step, st.just("valid"), _valid),
    st.builds(Step, st.just("mangled"), _mangled()),
    st.builds(Step, st.just("garbage"), _noise),
    st.builds(Step, st.just("untagged"), _noise),
    st.builds(Step, st.just("long-line"), st.integers(70_000, 140_000).map(
        lambda n: b"SELECT " + b"x" * n)),
    st.builds(Step, st.just("literal-too-large"), st.sampled_from(
        [b"APPEND INBOX {%d}" % (MAX_MESSAGE + 1), b"LOGIN {99999999999999999999}"])),
    st.builds(Step, st.just("nonsync-too-large"), st.integers(
        MAX_MESSAGE + 1, 3 * MAX_MESSAGE).map(lambda n: b"%d" % n)),
    st.builds(Step, st.just("literal"), _message),
)


# -- running a step ----------------------------------------------------------------------------


class Ended(Exception):
    """The server ended the session (after a BYE)."""


def _send(client: RawImap, data: bytes) -> None:
    """Send, unless the server has already closed (its BYE is then read next)."""
    try:
        client.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _answer(client: RawImap, tag: bytes) -> bytes:
    """Read until `tag` is answered; a continuation request nobody planned (IDLE,
    AUTHENTICATE) is answered "*" (cancel / not DONE)."""
    seen: list[bytes] = []
    while True:
        line = client.line()
        if not line:
            data = b"".join(seen)
            assert b"* BYE " in data, f"the server closed without BYE after {data!r}"
            raise Ended(data)
        seen.append(line)
        if line.startswith(b"+"):
            _send(client, b"*\r\n")
        elif Reply(line).tagged(tag):
            return b"".join(seen)


def run_step(client: RawImap, n: int, step: Step) -> tuple[bytes, bytes]:
    """Send one step; (the tag that must be answered, what the server sent)."""
    tag = b"t%d" % n
    if step.kind == "untagged":
        _send(client, _safe(b"*" + step.data) + b"\r\n")  # "*" is never a tag
        tag = b"y%d" % n  # a NOOP after it: everything before is its answer
        _send(client, tag + b" NOOP\r\n")
    elif step.kind == "literal-too-large":
        _send(client, tag + b" " + step.data + b"\r\n")  # the octets are never sent
    elif step.kind == "nonsync-too-large":
        size = int(step.data)
        _send(client, tag + b" APPEND INBOX {%d+}\r\n" % size + b"t0 LOGOUT\r\n" * (size // 11)
                    + b"x" * (size % 11) + b"\r\n")
    elif step.kind == "literal":
        _send(client, tag + b" APPEND Projects {%d}\r\n" % len(step.data))
        first = client.line()
        if first.startswith(b"+"):
            _send(client, step.data + b"\r\n")
        else:
            assert first.startswith(tag + b" "), first
            return tag, first
    else:
        _send(client, tag + b" " + _safe(step.data) + b"\r\n")
    return tag, _answer(client, tag)


def check_answer(tag: bytes, data: bytes) -> None:
    for leak in LEAKS:
        assert leak not in data, data
    answered = [found for found, _ in tagged_lines(data)]
    assert answered == [tag], f"{tag!r} answered as {answered!r}: {data!r}"


def check_consistent(server: RunningServer) -> None:
    """In every folder the steps can reach: UIDs ascending, below UIDNEXT; EXISTS = STATUS
    MESSAGES = the number of FETCH responses."""
    client = RawImap(server)
    client.login(ADDRESS, PASSWORD)
    listed = client.command(b"l", b'LIST "" *')
    names = set(re.findall(rb'^\* LIST \([^)]*\) "/" (.+)\r$', listed.data, re.MULTILINE))
    assert b'"INBOX"' in names, listed.data  # the steps may delete or rename the others
    for n, name in enumerate(sorted(names & REACHABLE)):
        status = client.command(b"s%d" % n, b"STATUS " + name + b" (MESSAGES UIDNEXT)")
        counts = re.search(rb"MESSAGES (\d+) UIDNEXT (\d+)", status.data)
        assert counts, status.data
        messages, uidnext = int(counts[1]), int(counts[2])
        examined = client.command(b"e%d" % n, b"EXAMINE " + name)
        exists = re.search(rb"^\* (\d+) EXISTS", examined.data, re.MULTILINE)
        assert exists and int(exists[1]) == messages, (name, status.data, examined.data)
        uids: list[int] = []
        if messages:
            fetched = client.command(b"f%d" % n, b"FETCH 1:* (UID)")
            uids = [int(u) for u in re.findall(rb"^\* \d+ FETCH \(UID (\d+)\)", fetched.data,
                                               re.MULTILINE)]
        assert len(uids) == messages, (name, uids, messages)
        assert uids == sorted(set(uids)) and all(0 < u < uidnext for u in uids), (name, uids)
    client.command(b"z", b"LOGOUT")
    client.close()


@PROFILE
@given(signed_in=st.booleans(), steps=st.lists(_steps, min_size=1, max_size=10))
def test_random_sessions_answer_every_tag_once_and_keep_the_data_consistent(
        server: RunningServer, signed_in: bool, steps: list[Step]) -> None:
    client = RawImap(server)
    try:
        if signed_in:
            client.login(ADDRESS, PASSWORD)
        for n, step in enumerate(steps):
            tag, data = run_step(client, n, step)
            check_answer(tag, data)
            if b"* BYE " in data + client.pending:  # LOGOUT, too many failures
                rest = client.until_closed()
                assert tagged_lines(rest) == [], rest
                break
    except Ended as ended:
        for leak in LEAKS:
            assert leak not in ended.args[0], ended.args[0]
    finally:
        client.close()
    check_consistent(server)
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log
