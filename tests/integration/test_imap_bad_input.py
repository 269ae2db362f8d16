"""Bad input at a real IMAP listener: every kind gets a tagged BAD/NO (or a clean BYE),
changes no data and leaves the account's other sessions working.

Each test runs against a real `mailgate serve` and checks, after the bad input, that a
snapshot of the account taken by a second client (folders, STATUS counts, UIDs and flags)
is what it was before, and that the second client's session works throughout.
"""

from __future__ import annotations

import imaplib
import itertools
import re
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_raw import RawImap, tagged_lines
from live_server import RunningServer, start_server

PASSWORD = "correct horse battery"
MAX_MESSAGE = 1024 * 1024  # storage.max_message_bytes for these servers
MESSAGES = [
    (b"(\\Seen)", b"Subject: one\r\nFrom: a@example.org\r\n\r\nfirst\r\n"),
    (b"(\\Flagged $Work)", b"Subject: two\r\nFrom: b@example.org\r\n\r\nsecond\r\n"),
    (b"()", b"Subject: three\r\nFrom: c@example.org\r\n\r\nthird\r\n"),
]
_accounts = itertools.count(1)


def _serving(tmp_path: Path, extra_env: dict[str, str]) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data", ("imap", "http"), extra_env={
        "MAILGATE_STORAGE_MAX_MESSAGE_BYTES": str(MAX_MESSAGE), **extra_env})
    yield running
    running.stop_cleanly()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serving(tmp_path_factory.mktemp("bad-input"), {})


def _account(server: RunningServer) -> str:
    """A new account with three messages in INBOX (flags set) and a folder "Projects"."""
    address = f"user{next(_accounts)}@example.test"
    server.account(address, PASSWORD)
    client = RawImap(server)
    client.login(address, PASSWORD)
    for n, (flags, body) in enumerate(MESSAGES):
        reply = client.command(b"A%d" % n, b"APPEND INBOX " + flags + b" {%d+}\r\n" % len(body)
                               + body)
        assert reply.status(b"A%d" % n) == b"OK", reply.data
    assert client.command(b"C", b"CREATE Projects").status(b"C") == b"OK"
    client.command(b"Z", b"LOGOUT")
    client.close()
    return address


@pytest.fixture
def account(server: RunningServer) -> str:
    return _account(server)


def snapshot(server: RunningServer, address: str) -> dict[str, object]:
    """What a second client sees of the account: folders, their STATUS, INBOX's UIDs and
    flags (less \\Recent, which depends on who looked first)."""
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=15)
    client.login(address, PASSWORD)
    typ, listed = client.list()
    assert typ == "OK"
    names = sorted(line.rsplit(b' "/" ', 1)[1] for line in listed if isinstance(line, bytes))
    status = {}
    for name in names:
        typ, data = client.status(name.decode(),
                                  "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)")
        assert typ == "OK", data
        status[name] = data[0]
    typ, _ = client.select("INBOX", readonly=True)
    assert typ == "OK"
    typ, fetched = client.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK"
    flags = [re.sub(rb"\\Recent ?", b"", line) for line in fetched if isinstance(line, bytes)]
    client.logout()
    return {"folders": names, "status": status, "inbox": flags}


class Bystander:
    """A second session of the same account, SELECTed on INBOX, checked after each step."""

    def __init__(self, server: RunningServer, address: str, messages: int = 3) -> None:
        self.client = RawImap(server)
        self.client.login(address, PASSWORD)
        self.steps = itertools.count()
        self.messages = messages
        selected = self.client.command(b"S", b"SELECT INBOX")
        assert selected.status(b"S") == b"OK", selected.data
        assert b"* %d EXISTS" % messages in selected.data, selected.data

    def still_works(self) -> None:
        tag = b"B%d" % next(self.steps)
        reply = self.client.command(tag, b"FETCH 1:* (UID FLAGS)")
        assert reply.status(tag) == b"OK", reply.data
        assert reply.data.count(b" FETCH (") == self.messages, reply.data
        assert b"BYE" not in reply.data

    def close(self) -> None:
        reply = self.client.command(b"Z", b"LOGOUT")
        assert reply.status(b"Z") == b"OK"
        self.client.close()


def refused(client: RawImap, tag: bytes, text: bytes, statuses: tuple[bytes, ...]) -> bytes:
    """Send one command that must be refused; the tagged line, and the session still works."""
    reply = client.command(tag, text)
    assert not reply.closed, (text, reply.data)
    assert reply.status(tag) in statuses, (text, reply.data)
    assert b"Traceback" not in reply.data and b"Internal" not in reply.data
    probe = client.command(b"P" + tag, b"NOOP")
    assert probe.status(b"P" + tag) == b"OK", (text, probe.data)
    return reply.tagged(tag)[0]


def _literal_answer(client: RawImap) -> bytes:
    """The server's answer to a literal's size: "+ ..." or a tagged line (never both)."""
    return client.line()


# -- malformed commands, unbalanced parentheses ---------------------------------------------

MALFORMED = [
    b"FROBNICATE",
    b"NOOP extra",
    b"LOGIN (unbalanced",
    b'SELECT "INBOX',
    b"SELECT INBOX)",
    b"CREATE",
    b"STATUS INBOX (MESSAGES",
    b"STATUS INBOX MESSAGES)",
    b"LIST (SUBSCRIBED \"\" *",
    b"FETCH 1 (FLAGS",
    b"FETCH 1 FLAGS)",
    b"FETCH 1 (FLAGS UID))",
    b"FETCH 1 ((FLAGS)",
    b"FETCH 1 BODY[HEADER.FIELDS (SUBJECT]",
    b"SEARCH (OR SEEN",
    b"SEARCH OR SEEN)",
    b"SEARCH " + b"(" * 200 + b"ALL" + b")" * 200,
    b"STORE 1 +FLAGS (\\Seen",
    b"STORE 1 +FLAGS \\Seen)",
    b"STORE 1 FROB (\\Seen)",
    b"APPEND INBOX (\\Seen {5+}\r\nhello",
    b"UID",
    b"UID FROB 1",
    b"SORT (DATE UTF-8 ALL",
    b"\x00\x01\x02",
    b"FETCH 1 \xff\xfe",
]


@pytest.mark.parametrize("state", ["not authenticated", "authenticated", "selected"])
def test_malformed_commands_and_unbalanced_parentheses_get_bad(
        server: RunningServer, account: str, state: str) -> None:
    before = snapshot(server, account)
    bystander = Bystander(server, account)
    client = RawImap(server)
    if state != "not authenticated":
        client.login(account, PASSWORD)
    if state == "selected":
        assert client.command(b"S", b"SELECT INBOX").status(b"S") == b"OK"
    for n, text in enumerate(MALFORMED):
        refused(client, b"m%d" % n, text, (b"BAD",))
        bystander.still_works()
    for garbage in (b"\r\n", b"   \r\n", b"* NOOP\r\n", b"+ x\r\n", b"\xff\xfe\x00\r\n"):
        client.send(garbage)
        assert client.line().startswith(b"* BAD "), garbage
    assert client.command(b"z", b"NOOP").status(b"z") == b"OK"
    client.close()
    bystander.close()
    assert snapshot(server, account) == before


# -- invalid sequence sets ---------------------------------------------------------------------

INVALID_SETS = [
    b"FETCH 0 FLAGS",
    b"FETCH 0:2 FLAGS",
    b"FETCH 4 FLAGS",  # beyond the three messages
    b"FETCH 2:9 FLAGS",
    b"FETCH -1 FLAGS",
    b"FETCH 1: FLAGS",
    b"FETCH :2 FLAGS",
    b"FETCH 1,,2 FLAGS",
    b"FETCH 1:2:3 FLAGS",
    b"FETCH x FLAGS",
    b"FETCH 4294967296 FLAGS",
    b"FETCH 99999999999999999999999 FLAGS",
    b"UID FETCH 0 FLAGS",
    b"UID FETCH 0:* FLAGS",
    b"STORE 5 +FLAGS (\\Deleted)",
    b"STORE 0:* +FLAGS (\\Deleted)",
    b"COPY 4 Projects",
    b"MOVE 0 Projects",
    b"UID MOVE 0 Projects",
    b"SEARCH 0:1",
    b"SEARCH UID 0",
    b"UID EXPUNGE 0",
]


def test_invalid_sequence_sets_are_bad_and_touch_nothing(server: RunningServer,
                                                          account: str) -> None:
    before = snapshot(server, account)
    bystander = Bystander(server, account)
    client = RawImap(server)
    client.login(account, PASSWORD)
    assert client.command(b"S", b"SELECT INBOX").status(b"S") == b"OK"
    for n, text in enumerate(INVALID_SETS):
        reply = client.command(b"s%d" % n, text)
        assert reply.status(b"s%d" % n) == b"BAD", (text, reply.data)
        assert b" FETCH " not in reply.data and b"EXPUNGE" not in reply.data, reply.data
        bystander.still_works()
    assert client.command(b"z", b"LOGOUT").status(b"z") == b"OK"
    client.close()
    bystander.close()
    assert snapshot(server, account) == before


# -- mailbox names: not UTF-8, not valid modified UTF-7 ---------------------------------------

NAMES_REV1 = [b'"\xff\xfe"', b'"caf\xc3\xa9"', b'"&Jjo"', b'"&AGE-"', b'"a&b"', b'"&2D0-"',
              b'"a&AAA-b"', b'"Entw&AP-rfe"']
NAMES_UTF8 = [b'"\xff\xfe"', b'"\xc3("', b'"\xed\xa0\x80"', b'"a\x01b"', b'"\xe2\x82"']


@pytest.mark.parametrize("utf8", [False, True], ids=["modified-utf7", "utf8-accept"])
def test_invalid_mailbox_names_are_refused_by_create_select_and_rename(
        server: RunningServer, account: str, utf8: bool) -> None:
    before = snapshot(server, account)
    bystander = Bystander(server, account)
    client = RawImap(server)
    client.login(account, PASSWORD)
    if utf8:
        assert client.command(b"E", b"ENABLE UTF8=ACCEPT").status(b"E") == b"OK"
    tags = (f"n{n}".encode() for n in itertools.count())
    for name in NAMES_UTF8 if utf8 else NAMES_REV1:
        for text in (b"CREATE " + name, b"SELECT " + name, b"EXAMINE " + name,
                     b"RENAME Projects " + name, b"RENAME " + name + b" Elsewhere",
                     b"DELETE " + name, b"STATUS " + name + b" (MESSAGES)",
                     b"APPEND " + name + b" {5+}\r\nhello"):
            refused(client, next(tags), text, (b"NO", b"BAD"))
        bare = name.strip(b'"')  # the same octets as a literal
        tag = next(tags)
        client.send(tag + b" CREATE {%d}\r\n" % len(bare))
        assert _literal_answer(client).startswith(b"+")
        client.send(bare + b"\r\n")
        assert client.until_tagged(tag).status(tag) in (b"NO", b"BAD")
        bystander.still_works()
    assert client.command(b"z", b"LOGOUT").status(b"z") == b"OK"
    client.close()
    bystander.close()
    assert snapshot(server, account) == before


# -- commands in the wrong state ---------------------------------------------------------------

SELECTED_ONLY = [b"CHECK", b"CLOSE", b"UNSELECT", b"EXPUNGE", b"UID EXPUNGE 1",
                 b"FETCH 1 FLAGS", b"UID FETCH 1 FLAGS", b"STORE 1 +FLAGS (\\Deleted)",
                 b"UID STORE 1 +FLAGS (\\Deleted)", b"SEARCH ALL", b"UID SEARCH ALL",
                 b"SORT (DATE) UTF-8 ALL", b"THREAD REFERENCES UTF-8 ALL",
                 b"COPY 1 Projects", b"UID COPY 1 Projects", b"MOVE 1 Projects",
                 b"UID MOVE 1 Projects", b"CANCELUPDATE \"x\""]
SIGNED_IN_ONLY = [b"SELECT INBOX", b"EXAMINE INBOX", b"CREATE Fresh", b"DELETE Projects",
                  b"RENAME Projects Renamed", b"SUBSCRIBE Projects", b"UNSUBSCRIBE Projects",
                  b'LIST "" *', b'LSUB "" *', b"STATUS INBOX (MESSAGES)", b"NAMESPACE",
                  b"ENABLE CONDSTORE", b"COMPRESS DEFLATE", b"IDLE", b'GETQUOTA ""',
                  b"GETQUOTAROOT INBOX", b'SETQUOTA "" (STORAGE 1)',
                  b"APPEND INBOX {5+}\r\nhello"]
NOT_AUTHENTICATED_ONLY = [b'LOGIN "x@example.test" "y"', b"AUTHENTICATE PLAIN AGEAYg==",
                          b"STARTTLS"]
WRONG = {
    "not authenticated": SELECTED_ONLY + SIGNED_IN_ONLY,
    "authenticated": SELECTED_ONLY + NOT_AUTHENTICATED_ONLY,
    "selected": NOT_AUTHENTICATED_ONLY,
}


@pytest.mark.parametrize("state", list(WRONG))
def test_commands_in_the_wrong_state_are_bad_and_change_nothing(
        server: RunningServer, account: str, state: str) -> None:
    before = snapshot(server, account)
    bystander = Bystander(server, account)
    client = RawImap(server)
    if state != "not authenticated":
        client.login(account, PASSWORD)
    if state == "selected":
        assert client.command(b"S", b"SELECT INBOX").status(b"S") == b"OK"
    for n, text in enumerate(WRONG[state]):
        line = refused(client, b"w%d" % n, text, (b"BAD",))
        assert b"not allowed in the " + state.encode() + b" state" in line, (text, line)
        bystander.still_works()
    if state == "selected":  # still selected: the refusals left the state alone
        assert client.command(b"f", b"FETCH 1 FLAGS").status(b"f") == b"OK"
    client.close()
    bystander.close()
    assert snapshot(server, account) == before


def test_nothing_after_logout_is_read(server: RunningServer, account: str) -> None:
    before = snapshot(server, account)
    client = RawImap(server)
    client.login(account, PASSWORD)
    client.send(b"S SELECT INBOX\r\nz LOGOUT\r\nx1 STORE 1:* +FLAGS (\\Deleted)\r\n"
                b"x2 EXPUNGE\r\nx3 DELETE Projects\r\n")
    rest = client.until_closed()
    assert [tag for tag, _ in tagged_lines(rest)] == [b"S", b"z"], rest
    assert b"* BYE" in rest
    client.close()
    assert snapshot(server, account) == before


# -- literals over the limit -------------------------------------------------------------------


def test_a_synchronizing_literal_over_the_limit_is_refused_before_it_is_sent(
        server: RunningServer, account: str) -> None:
    before = snapshot(server, account)
    bystander = Bystander(server, account)
    client = RawImap(server)
    client.send(b"p1 LOGIN {100000}\r\n")  # before sign-in: 8 KiB at most
    answer = _literal_answer(client)
    assert answer.startswith(b"p1 ") and b"p1 OK" not in answer, answer
    client.login(account, PASSWORD)
    for n, size in enumerate((MAX_MESSAGE + 1, 10**30)):
        tag = b"l%d" % n
        client.send(tag + b" APPEND INBOX {%d}\r\n" % size)
        answer = _literal_answer(client)  # no octet of the literal was sent
        assert answer.startswith(tag + b" NO [TOOBIG]"), answer
        assert client.command(b"q%d" % n, b"NOOP").status(b"q%d" % n) == b"OK"
        bystander.still_works()
    client.close()
    bystander.close()
    assert snapshot(server, account) == before


@pytest.mark.parametrize("signed_in", [False, True], ids=["before-sign-in", "signed-in"])
def test_a_non_synchronizing_literal_over_the_limit_is_answered_at_once_and_skipped(
        server: RunningServer, account: str, signed_in: bool) -> None:
    before = snapshot(server, account)
    bystander = Bystander(server, account)
    client = RawImap(server)
    if signed_in:
        client.login(account, PASSWORD)
        command, size = b"APPEND INBOX", MAX_MESSAGE + 1
    else:
        command, size = b"LOGIN", 100000
    client.send(b"n1 " + command + b" {%d+}\r\n" % size)
    answer = _literal_answer(client)  # before any octet of the literal was sent
    assert answer.startswith(b"n1 BAD [TOOBIG]"), answer
    # The octets still come (the client did not wait): skipped, never read as commands.
    injected = b"x1 DELETE Projects\r\nx2 STORE 1:* +FLAGS (\\Deleted)\r\nx3 EXPUNGE\r\n"
    octets = (injected * (size // len(injected) + 1))[:size]
    client.send(octets + b"\r\n")
    reply = client.command(b"n2", b"NOOP")
    assert [tag for tag, _ in tagged_lines(reply.data)] == [b"n2"], reply.data
    assert reply.status(b"n2") == b"OK"
    bystander.still_works()
    client.close()
    bystander.close()
    assert snapshot(server, account) == before


def test_an_overlong_line_is_bad_and_the_session_goes_on(server: RunningServer,
                                                         account: str) -> None:
    before = snapshot(server, account)
    bystander = Bystander(server, account)
    client = RawImap(server)
    client.login(account, PASSWORD)
    reply = client.command(b"o1", b"SELECT " + b"x" * 200_000)
    assert reply.tagged(b"o1")[0].startswith(b"BAD [TOOBIG]"), reply.data
    assert client.command(b"o2", b"SELECT INBOX").status(b"o2") == b"OK"
    bystander.still_works()
    client.close()
    bystander.close()
    assert snapshot(server, account) == before


# -- slow-loris before sign-in -----------------------------------------------------------------

DEADLINE = 2


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serving(tmp_path_factory.mktemp("deadline"),
                        {"MAILGATE_AUTH_SIGNIN_DEADLINE_SECONDS": str(DEADLINE)})


SLOW_LORISES = [
    b"a1 LOGIN alice@example.test hunter2 and on and on",  # a line that never ends
    b"a1 LOGIN {500}\r\nalice",  # a literal that never completes
    b"a1 NOOP\r\n",  # a client that keeps busy
]


def _trickle(clients: list[RawImap], octets: list[bytes], every: float) -> list[bytes]:
    """Each client sends its octets one at a time (over and over), `every` seconds apart,
    until the server closes it; what the server sent each."""
    seen = [b""] * len(clients)
    sent = [0] * len(clients)
    open_ = set(range(len(clients)))
    started = time.monotonic()
    while open_:
        assert time.monotonic() - started < DEADLINE + 20, seen
        for n in open_:
            try:
                clients[n].send(octets[n][sent[n] % len(octets[n]):][:1])
                sent[n] += 1
            except (BrokenPipeError, ConnectionResetError):
                pass
        readable, _, _ = select.select([clients[n].sock for n in open_], [], [], every)
        for n in list(open_):
            if clients[n].sock in readable:
                chunk = clients[n].sock.recv(65536)
                seen[n] += chunk
                if not chunk:
                    open_.discard(n)
    return seen


def test_slow_lorises_are_closed_at_the_sign_in_deadline(strict_server: RunningServer) -> None:
    account = _account(strict_server)
    before = snapshot(strict_server, account)
    bystander = Bystander(strict_server, account)
    started = time.monotonic()
    clients = [RawImap(strict_server) for _ in SLOW_LORISES]
    seen = _trickle(clients, SLOW_LORISES, every=0.1)
    lasted = time.monotonic() - started
    for octets, answer in zip(SLOW_LORISES, seen, strict=True):
        assert answer.endswith(b"* BYE Sign-in took too long.\r\n"), (octets, answer)
    assert DEADLINE - 0.5 <= lasted < DEADLINE + 10, lasted
    for client in clients:
        client.close()
    bystander.still_works()  # signed in before the deadline: untouched by it
    bystander.close()
    assert snapshot(strict_server, account) == before


# -- a client that never reads -----------------------------------------------------------------

BIG_MESSAGES = 40
BIG_SIZE = 600 * 1024  # 40 x 600 KiB: a 23 MiB mailbox
PIPELINED_FETCHES = 10  # 234 MiB asked for, never read
MIB = 1024


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def _send_queue(pid: int, server_port: int, client_port: int) -> int:
    """Octets the server's socket to `client_port` has queued, not yet taken by the peer."""
    wanted = f"0100007F:{server_port:04X} 0100007F:{client_port:04X}"
    with open(f"/proc/{pid}/net/tcp") as table:
        for line in table:
            fields = line.split()
            if f"{fields[1]} {fields[2]}" == wanted:
                return int(fields[4].split(":")[0], 16)
    return 0


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[RunningServer]:
    yield from _serving(tmp_path, {})


def test_a_client_that_never_reads_holds_little_server_memory(fresh_server: RunningServer
                                                              ) -> None:
    server = fresh_server
    address = "reader@example.test"
    server.account(address, PASSWORD)
    filler = RawImap(server)
    filler.login(address, PASSWORD)
    sizes = []
    for n in range(BIG_MESSAGES):
        body = b"Subject: big %d\r\n\r\n" % n + (b"%05d " % n + b"x" * 72 + b"\r\n") * (
            BIG_SIZE // 80)
        sizes.append(len(body))
        tag = b"A%d" % n
        reply = filler.command(tag, b"APPEND INBOX {%d+}\r\n" % len(body) + body)
        assert reply.status(tag) == b"OK", reply.data
    filler.close()
    pid = server.proc.pid
    warm = RawImap(server)
    warm.login(address, PASSWORD)
    assert warm.command(b"W", b"SELECT INBOX").status(b"W") == b"OK"
    assert warm.command(b"F", b"FETCH 1 BODY.PEEK[]").status(b"F") == b"OK"
    warm.close()
    before = snapshot(server, address)
    baseline = _status_kib(pid, "VmRSS")

    stalled = RawImap(server, receive_buffer=4096)
    stalled.login(address, PASSWORD)
    assert stalled.command(b"S", b"SELECT INBOX").status(b"S") == b"OK"
    stalled.send(b"".join(b"f%d FETCH 1:* BODY.PEEK[]\r\n" % n
                          for n in range(PIPELINED_FETCHES)))
    client_port = stalled.sock.getsockname()[1]
    # From here on the client reads nothing. The server has started answering once its
    # socket holds octets the client has not taken.
    wait_for = time.monotonic() + 30
    while _send_queue(pid, server.ports["imap"], client_port) == 0:
        assert time.monotonic() < wait_for, "the server never answered the FETCH"
        select.select([], [], [], 0.05)
    other = Bystander(server, address, BIG_MESSAGES)
    for _ in range(5):
        other.still_works()
        tag = b"b%d" % next(other.steps)
        body = other.client.command(tag, b"FETCH 2 BODY.PEEK[]")
        assert body.status(tag) == b"OK" and len(body.data) > BIG_SIZE
        tag = b"s%d" % next(other.steps)
        assert other.client.command(tag, b"STATUS Sent (MESSAGES)").status(tag) == b"OK"
    peak = _status_kib(pid, "VmHWM") - baseline
    held = _status_kib(pid, "VmRSS") - baseline
    whole = other.client.command(b"all", b"FETCH 1:* (UID BODY.PEEK[])")  # over many hops
    assert whole.status(b"all") == b"OK"
    assert re.findall(rb"\* (\d+) FETCH \(UID (\d+) BODY\[\] \{(\d+)\}", whole.data) == [
        (b"%d" % n, b"%d" % n, b"%d" % size) for n, size in enumerate(sizes, 1)]
    other.close()
    stalled.close()
    print(f"never-reading client: +{held / MIB:.1f} MiB held, peak +{peak / MIB:.1f} MiB")
    assert peak < 16 * MIB, f"the server grew by {peak / MIB:.0f} MiB"
    assert snapshot(server, address) == before


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _until_idle(pid: int, timeout: float = 120.0) -> None:
    """Until the server has used under 30 ms of CPU in 0.3 s: it has done what it could."""
    deadline = time.monotonic() + timeout
    before = _cpu_ticks(pid)
    while True:
        select.select([], [], [], 0.3)
        now = _cpu_ticks(pid)
        if now - before < 3:
            return
        assert time.monotonic() < deadline, "the server never went idle"
        before = now


SEARCH_MESSAGES = 2000
PIPELINED_SEARCHES = 1500  # about 13 MiB of answers, 11 MiB of them once held at once


def test_a_client_that_never_reads_its_searches_holds_little_server_memory(
        fresh_server: RunningServer) -> None:
    server = fresh_server
    address = "searcher@example.test"
    server.account(address, PASSWORD)
    filler = RawImap(server)
    filler.login(address, PASSWORD)
    body = b"Subject: s\r\n\r\nx\r\n"
    messages = b"".join(b" {%d+}\r\n" % len(body) + body for _ in range(SEARCH_MESSAGES))
    assert filler.command(b"A", b"APPEND INBOX" + messages).status(b"A") == b"OK"
    assert filler.command(b"S", b"SELECT INBOX").status(b"S") == b"OK"
    assert filler.command(b"F", b"SEARCH ALL").status(b"F") == b"OK"
    filler.close()
    pid = server.proc.pid
    before = snapshot(server, address)
    baseline = _status_kib(pid, "VmRSS")

    stalled = RawImap(server, receive_buffer=4096)
    stalled.login(address, PASSWORD)
    assert stalled.command(b"S", b"SELECT INBOX").status(b"S") == b"OK"
    stalled.send(b"".join(b"q%d SEARCH ALL\r\n" % n for n in range(PIPELINED_SEARCHES)))
    _until_idle(pid)  # reading nothing meanwhile
    other = Bystander(server, address, SEARCH_MESSAGES)
    other.still_works()
    peak = _status_kib(pid, "VmHWM") - baseline
    answered = stalled.until_tagged(b"q%d" % (PIPELINED_SEARCHES - 1))  # reading at last
    assert [tag for tag, _ in tagged_lines(answered.data)] == [
        b"q%d" % n for n in range(PIPELINED_SEARCHES)]
    other.close()
    stalled.close()
    print(f"never-reading client of SEARCH: peak +{peak / MIB:.1f} MiB")
    assert peak < 4 * MIB, f"the server grew by {peak / MIB:.0f} MiB"
    assert snapshot(server, address) == before
