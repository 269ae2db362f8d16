"""The asyncio POP3 listener on 127.0.0.1, driven by stdlib poplib and raw sockets."""

from __future__ import annotations

import asyncio
import itertools
import logging
import poplib
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
import trustme

from mailgate import memory
from mailgate.policy.decision import Decision
from mailgate.protocols import refusals
from mailgate.protocols.pop3.backend import MaildropEntry, Principal
from mailgate.protocols.pop3.listener import _is_loopback, _slices, start_pop3_server
from mailgate.protocols.preauth import PreauthLimiter
from mailgate.protocols.refusals import Refusal

ALICE = Principal(7, "alice@example.org", "password")
GREETING = b"+OK mailgate POP3 ready\r\n"
TOO_MANY = b"-ERR [SYS/TEMP] too many connections from your address\r\n"
TOO_SLOW = b"-ERR [SYS/TEMP] sign-in took too long\r\n"
BIG = (
    b"Subject: big\r\n\r\n"
    + b".dot line\r\n"
    + b"x" * 998
    + b"\r\n" * 1
    + (b"0123456789" * 99 + b"\r\n") * 20000
)


def small_messages() -> dict[int, bytes]:
    return {
        101: b"Subject: one\r\n\r\nhello\r\n.dotted\r\n",
        102: b"Subject: two\r\nX-Tag: 2\r\n\r\nline 1\r\nline 2\r\nline 3\r\n",
        103: b"Subject: three\r\n\r\nbye\r\n",
    }


@dataclass
class FakeBackend:
    """An in-memory Pop3Backend that records every call."""

    messages: dict[int, bytes] = field(default_factory=small_messages)
    door: Decision | None = None
    fail_authenticate: bool = False
    holder: str | None = None
    calls: list[tuple[object, ...]] = field(default_factory=list)
    on_close: dict[str, Callable[[], None]] = field(default_factory=dict)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def authenticate(
        self, mechanism: str, username: str, secret: str, peer: str, tls: bool
    ) -> Principal | Refusal:
        self.calls.append(("authenticate", mechanism, username, peer, tls))
        if self.fail_authenticate:
            raise RuntimeError("database is down")
        if (username, secret) != ("alice", "secret"):
            return Refusal("credentials")
        if self.door is not None:
            return Refusal("door", self.door)
        return ALICE

    async def open_maildrop(
        self, principal: Principal, session_id: str, peer: str, on_close: Callable[[], None]
    ) -> list[MaildropEntry] | None:
        self.calls.append(("open_maildrop", session_id))
        if self.holder is not None:
            return None
        self.holder = session_id
        self.on_close[session_id] = on_close
        return [MaildropEntry(mid, f"uid-{mid}", len(body)) for mid, body in self.messages.items()]

    async def read_message(self, principal: Principal, message_id: int) -> bytes:
        self.calls.append(("read_message", message_id))
        return self.messages[message_id]

    async def commit_deletes(self, principal: Principal, message_ids: list[int]) -> None:
        self.calls.append(("commit_deletes", message_ids))
        for message_id in message_ids:
            del self.messages[message_id]

    async def close_maildrop(self, principal: Principal, session_id: str) -> None:
        self.calls.append(("close_maildrop", session_id))
        if self.holder == session_id:
            self.holder = None
        self.on_close.pop(session_id, None)
        self.released.set()

    def called(self, name: str) -> list[tuple[object, ...]]:
        return [call for call in self.calls if call[0] == name]


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls() -> Tls:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return Tls(server, client)


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing may crash: no error records, from asyncio or from the door, unless expected."""
    caplog.set_level(logging.INFO)
    yield
    errors = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and not getattr(r, "expected", False)
    ]
    assert errors == [], [r.getMessage() for r in errors]


@pytest.fixture(autouse=True)
async def close_raw_clients() -> AsyncIterator[None]:
    yield
    while Raw.opened:
        Raw.opened.pop().close()


@dataclass
class Running:
    port: int
    server: asyncio.Server


async def serve(
    backend: FakeBackend,
    tls: Tls | None = None,
    *,
    implicit: bool = False,
    idle: float = 600.0,
    preauth: PreauthLimiter | None = None,
) -> Running:
    """A listener on a free port; by default its clients get all the time and room they want."""
    server = await start_pop3_server(
        backend,
        "127.0.0.1",
        0,
        tls.server if tls else None,
        implicit,
        preauth=preauth or PreauthLimiter(signin_deadline=600.0, max_per_address=10_000),
        idle_timeout=idle,
    )
    return Running(server.sockets[0].getsockname()[1], server)


@pytest.fixture
async def pop3(backend: FakeBackend) -> AsyncIterator[Running]:
    running = await serve(backend)
    yield running
    running.server.close()
    await running.server.wait_closed()


@pytest.fixture
async def pop3_stls(backend: FakeBackend, tls: Tls) -> AsyncIterator[Running]:
    running = await serve(backend, tls)
    yield running
    running.server.close()


@pytest.fixture
async def pop3s(backend: FakeBackend, tls: Tls) -> AsyncIterator[Running]:
    running = await serve(backend, tls, implicit=True)
    yield running
    running.server.close()


def client(port: int) -> poplib.POP3:
    return poplib.POP3("127.0.0.1", port, timeout=5)


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class Raw:
    """A raw client connection: send bytes, read answers."""

    opened: ClassVar[list[asyncio.StreamWriter]] = []

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.opened.append(writer)

    @classmethod
    async def connect(cls, port: int, source: str = "127.0.0.1") -> Raw:
        """Connected from the address `source` (any 127.x.y.z), and greeted."""
        raw = await cls.open(port, source)
        assert await raw.line() == GREETING
        return raw

    @classmethod
    async def open(cls, port: int, source: str = "127.0.0.1") -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)))

    async def line(self) -> bytes:
        return await asyncio.wait_for(self.reader.readline(), 5)

    async def ask(self, data: bytes, lines: int = 1) -> list[bytes]:
        self.writer.write(data)
        return [await self.line() for _ in range(lines)]

    async def sign_in(self) -> None:
        answers = await self.ask(b"USER alice\r\nPASS secret\r\n", 2)
        assert answers[1].startswith(b"+OK signed in")

    async def closed_by_server(self, timeout: float = 2.0) -> bool:
        try:
            rest = await asyncio.wait_for(self.reader.read(), timeout)
        except ConnectionResetError:
            return True
        return rest == b"" or self.reader.at_eof()

    def reset(self) -> None:
        """Close abruptly with a TCP RST."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


# -- a whole session with poplib ----------------------------------------------------------------


async def test_poplib_every_command(pop3: Running, backend: FakeBackend) -> None:
    def session() -> None:
        pop = client(pop3.port)
        assert pop.getwelcome() == b"+OK mailgate POP3 ready"
        capabilities = pop.capa()
        assert {
            "TOP",
            "UIDL",
            "USER",
            "SASL",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "IMPLEMENTATION",
        } <= set(capabilities)
        assert capabilities["SASL"] == ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"]
        assert "STLS" not in capabilities  # no ssl_context on this listener
        assert pop.user("alice") == b"+OK send PASS"
        assert pop.pass_("secret").startswith(b"+OK signed in: 3 messages")
        sizes = [len(body) for body in small_messages().values()]
        assert pop.stat() == (3, sum(sizes))
        response, listing, _ = pop.list()
        assert listing == [f"{n} {size}".encode() for n, size in enumerate(sizes, 1)]
        assert pop.list(2) == f"+OK 2 {sizes[1]}".encode()
        response, lines, _ = pop.retr(1)
        assert lines == [b"Subject: one", b"", b"hello", b".dotted"]  # poplib unstuffs
        assert response == f"+OK {sizes[0]} octets".encode()
        _, top, _ = pop.top(2, 1)
        assert top == [b"Subject: two", b"X-Tag: 2", b"", b"line 1"]
        assert pop.uidl()[1] == [b"1 uid-101", b"2 uid-102", b"3 uid-103"]
        assert pop.uidl(3) == b"+OK 3 uid-103"
        assert pop.noop() == b"+OK"
        assert pop.dele(1) == b"+OK message 1 deleted"
        with pytest.raises(poplib.error_proto, match="already deleted"):
            pop.retr(1)
        assert pop.stat() == (2, sum(sizes[1:]))
        assert pop.rset().startswith(b"+OK maildrop has 3 messages")
        pop.dele(3)
        assert pop.quit() == b"+OK mailgate POP3 signing off"

    await asyncio.to_thread(session)
    assert backend.called("commit_deletes") == [("commit_deletes", [103])]
    await until(lambda: bool(backend.called("close_maildrop")))
    assert backend.called("authenticate") == [("authenticate", "USER", "alice", "127.0.0.1", False)]
    assert sorted(backend.messages) == [101, 102]


async def test_wrong_password_gets_the_credentials_refusal(
    pop3: Running, backend: FakeBackend
) -> None:
    def session() -> str:
        pop = client(pop3.port)
        pop.user("alice")
        with pytest.raises(poplib.error_proto) as caught:
            pop.pass_("wrong")
        pop.quit()
        return caught.value.args[0].decode()

    assert await asyncio.to_thread(session) == refusals.pop3(Refusal("credentials"))
    assert backend.called("open_maildrop") == []


async def test_closed_door_gets_the_door_refusal(pop3: Running, backend: FakeBackend) -> None:
    backend.door = Decision(
        "pop",
        False,
        "plan_default",
        "POP is off by default for accounts on plan standard. "
        "Contact the help desk to request access.",
        "plan",
    )
    raw = await Raw.connect(pop3.port)
    answers = await raw.ask(b"USER alice\r\nPASS secret\r\n", 2)
    assert answers[1] == (refusals.pop3(Refusal("door", backend.door)) + "\r\n").encode()


async def test_second_session_finds_the_maildrop_in_use(
    pop3: Running, backend: FakeBackend
) -> None:
    first = await Raw.connect(pop3.port)
    await first.sign_in()
    second = await Raw.connect(pop3.port)
    answers = await second.ask(b"USER alice\r\nPASS secret\r\n", 2)
    assert answers[1] == b"-ERR [IN-USE] Mailbox is locked by another session\r\n"
    assert len(backend.called("close_maildrop")) == 0  # the second never held it
    await first.ask(b"QUIT\r\n")
    await until(lambda: backend.holder is None)
    await second.sign_in()


async def test_sasl_plain_over_the_wire(pop3: Running, backend: FakeBackend) -> None:
    raw = await Raw.connect(pop3.port)
    assert await raw.ask(b"AUTH PLAIN\r\n") == [b"+ \r\n"]
    answer = await raw.ask(b"AGFsaWNlAHNlY3JldA==\r\n")
    assert answer[0].startswith(b"+OK signed in")
    assert backend.called("authenticate")[0][1:3] == ("PLAIN", "alice")


# -- TLS -----------------------------------------------------------------------------------


async def test_stls_with_poplib(pop3_stls: Running, backend: FakeBackend, tls: Tls) -> None:
    def session() -> None:
        pop = client(pop3_stls.port)
        assert "STLS" in pop.capa()
        pop.stls(context=tls.client)
        assert "STLS" not in pop.capa()
        pop.user("alice")
        pop.pass_("secret")
        assert pop.stat()[0] == 3
        pop.quit()

    await asyncio.to_thread(session)
    assert backend.called("authenticate")[0][-1] is True  # tls=True reached the backend


async def test_pop3s_implicit_tls_with_poplib(
    pop3s: Running, backend: FakeBackend, tls: Tls
) -> None:
    def session() -> None:
        pop = poplib.POP3_SSL("127.0.0.1", pop3s.port, context=tls.client, timeout=5)
        assert "STLS" not in pop.capa()
        pop.user("alice")
        pop.pass_("secret")
        assert pop.retr(3)[1] == [b"Subject: three", b"", b"bye"]
        pop.quit()

    await asyncio.to_thread(session)
    assert backend.called("authenticate")[0][-1] is True


async def test_stls_discards_plaintext_injected_after_it(
    pop3_stls: Running, backend: FakeBackend, tls: Tls
) -> None:
    def session() -> list[bytes]:
        sock = socket.create_connection(("127.0.0.1", pop3_stls.port), timeout=5)
        reader = sock.makefile("rb")
        assert reader.readline() == b"+OK mailgate POP3 ready\r\n"
        sock.sendall(b"STLS\r\nUSER alice\r\nPASS secret\r\n")
        assert reader.readline() == b"+OK begin TLS negotiation\r\n"
        secure = tls.client.wrap_socket(sock, server_hostname="127.0.0.1")
        secure.sendall(b"STAT\r\nQUIT\r\n")
        answers = secure.makefile("rb")
        lines = [answers.readline(), answers.readline()]
        secure.close()
        return lines

    assert await asyncio.to_thread(session) == [
        b"-ERR sign in first\r\n",
        b"+OK mailgate POP3 signing off\r\n",
    ]
    assert backend.called("authenticate") == []


async def test_a_command_sent_with_the_tls_finished_message_is_answered(
    pop3_stls: Running, tls: Tls
) -> None:
    """curl sends its first command right behind the handshake; it must not be lost."""

    def session() -> bytes:
        sock = socket.create_connection(("127.0.0.1", pop3_stls.port), timeout=5)
        assert sock.recv(100) == b"+OK mailgate POP3 ready\r\n"
        sock.sendall(b"STLS\r\n")
        assert sock.recv(100) == b"+OK begin TLS negotiation\r\n"
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls_client = tls.client.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
        while True:
            try:
                tls_client.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        tls_client.write(b"NOOP\r\n")
        sock.sendall(outgoing.read())  # the client's Finished and NOOP in one segment
        answer = b""
        while not answer.endswith(b"\r\n"):
            incoming.write(sock.recv(65536))
            try:
                answer += tls_client.read(65536)
            except ssl.SSLWantReadError:
                continue
        sock.close()
        return answer

    assert await asyncio.to_thread(session) == b"-ERR sign in first\r\n"


async def test_many_tls_sessions_at_once_each_get_their_own_bytes(
    pop3s: Running, pop3_stls: Running, backend: FakeBackend, tls: Tls
) -> None:
    """TLS connections share one receive buffer (protocols.tlslayer): never each other's data."""

    async def session(number: int) -> bytes:
        if number % 2:
            raw = await Raw.connect(pop3_stls.port)
            await raw.ask(b"STLS\r\n")
            await raw.writer.start_tls(tls.client, server_hostname="127.0.0.1")
        else:
            raw = Raw(*await asyncio.open_connection(
                "127.0.0.1", pop3s.port, ssl=tls.client, server_hostname="127.0.0.1"))
            assert await raw.line() == GREETING
        name = f"user-{number}-" + "x" * (number * 37 % 900)
        answers = await raw.ask(f"USER {name}\r\nPASS wrong\r\nQUIT\r\n".encode(), 3)
        assert answers[0] == b"+OK send PASS\r\n"
        return answers[1]

    answers = await asyncio.gather(*(session(n) for n in range(60)))
    assert set(answers) == {(refusals.pop3(Refusal("credentials")) + "\r\n").encode()}
    names = sorted(call[2] for call in backend.called("authenticate"))
    assert names == sorted(f"user-{n}-" + "x" * (n * 37 % 900) for n in range(60))


async def test_failed_tls_handshakes_do_not_hurt_the_server(
    pop3s: Running, pop3_stls: Running, tls: Tls
) -> None:
    plain = Raw(*await asyncio.open_connection("127.0.0.1", pop3s.port))
    plain.writer.write(b"USER alice\r\n" * 50)
    assert await asyncio.wait_for(plain.reader.read(), 5) == b""
    raw = await Raw.connect(pop3_stls.port)
    await raw.ask(b"STLS\r\n")
    raw.writer.write(b"this is not a TLS client hello\r\n" * 20)
    assert await raw.closed_by_server()

    def session() -> None:
        pop = poplib.POP3_SSL("127.0.0.1", pop3s.port, context=tls.client, timeout=5)
        pop.quit()

    await asyncio.to_thread(session)


# -- bad input and abrupt endings -------------------------------------------------------------


async def test_overlong_line_then_a_normal_command(pop3: Running) -> None:
    raw = await Raw.connect(pop3.port)
    assert await raw.ask(b"USER " + b"a" * 100_000 + b"\r\nCAPA\r\n", 2) == [
        b"-ERR line too long\r\n",
        b"+OK capability list follows\r\n",
    ]


async def test_invalid_utf8_and_unknown_commands(pop3: Running) -> None:
    raw = await Raw.connect(pop3.port)
    assert await raw.ask(b"USER \xff\xfe\r\nFROB\r\nQUIT\r\n", 3) == [
        b"-ERR commands must be valid UTF-8\r\n",
        b"-ERR unknown command\r\n",
        b"+OK mailgate POP3 signing off\r\n",
    ]
    assert await raw.closed_by_server()


async def test_ten_bad_commands_close_the_connection(pop3: Running) -> None:
    raw = await Raw.connect(pop3.port)
    raw.writer.write(b"NOPE\r\n" * 10)
    answers = (await asyncio.wait_for(raw.reader.read(), 5)).split(b"\r\n")
    assert answers == [b"-ERR unknown command"] * 10 + [b""]


async def test_three_failed_sign_ins_close_the_connection(pop3: Running) -> None:
    raw = await Raw.connect(pop3.port)
    raw.writer.write(b"USER a\r\nPASS b\r\n" * 3)
    answers = (await asyncio.wait_for(raw.reader.read(), 5)).split(b"\r\n")
    assert answers.count(refusals.pop3(Refusal("credentials")).encode()) == 3


async def test_pipelined_commands_then_half_close(pop3: Running, backend: FakeBackend) -> None:
    raw = await Raw.connect(pop3.port)
    raw.writer.write(b"USER alice\r\nPASS secret\r\nSTAT\r\nRETR 3\r\nDELE 3\r\nQUIT\r\n")
    raw.writer.write_eof()
    answers = await asyncio.wait_for(raw.reader.read(), 5)
    assert answers.endswith(b"+OK message 3 deleted\r\n+OK mailgate POP3 signing off\r\n")
    assert backend.called("commit_deletes") == [("commit_deletes", [103])]


async def test_half_close_without_quit_answers_then_closes(
    pop3: Running, backend: FakeBackend
) -> None:
    raw = await Raw.connect(pop3.port)
    raw.writer.write(b"USER alice\r\nPASS secret\r\nDELE 1\r\nNOOP")  # last line unfinished
    raw.writer.write_eof()
    answers = await asyncio.wait_for(raw.reader.read(), 5)
    assert answers.endswith(b"+OK message 1 deleted\r\n")
    await until(lambda: bool(backend.called("close_maildrop")))
    assert backend.called("commit_deletes") == []


async def test_disconnect_without_quit_deletes_nothing(pop3: Running, backend: FakeBackend) -> None:
    raw = await Raw.connect(pop3.port)
    await raw.sign_in()
    await raw.ask(b"DELE 1\r\nDELE 2\r\n", 2)
    raw.writer.close()
    await until(lambda: bool(backend.called("close_maildrop")))
    assert backend.called("commit_deletes") == [] and len(backend.messages) == 3


async def test_abrupt_disconnect_during_a_large_retr(pop3: Running, backend: FakeBackend) -> None:
    backend.messages[101] = BIG
    raw = await Raw.connect(pop3.port)
    await raw.sign_in()
    raw.writer.write(b"RETR 1\r\n")
    assert (await raw.line()).startswith(b"+OK")
    await raw.reader.readexactly(100_000)
    raw.reset()
    await asyncio.wait_for(backend.released.wait(), 2)
    assert backend.called("commit_deletes") == []
    await (await Raw.connect(pop3.port)).sign_in()


async def test_large_retr_arrives_intact(pop3: Running, backend: FakeBackend) -> None:
    backend.messages[102] = BIG

    def session() -> list[bytes]:
        pop = client(pop3.port)
        pop.user("alice")
        pop.pass_("secret")
        lines = pop.retr(2)[1]
        pop.quit()
        return lines

    lines = await asyncio.to_thread(session)
    assert b"\r\n".join(lines) + b"\r\n" == BIG


async def test_on_close_ends_the_session_at_once(pop3: Running, backend: FakeBackend) -> None:
    raw = await Raw.connect(pop3.port)
    await raw.sign_in()
    await raw.ask(b"DELE 1\r\n")
    raw.writer.write(b"QUIT")  # not finished: the door closes first
    await asyncio.sleep(0.05)
    started = time.monotonic()
    ((session_id, on_close),) = backend.on_close.items()
    on_close()
    assert await raw.closed_by_server(timeout=0.2)
    assert time.monotonic() - started < 0.2
    await asyncio.wait_for(backend.released.wait(), 1)
    assert backend.called("commit_deletes") == []
    assert backend.called("close_maildrop") == [("close_maildrop", session_id)]
    on_close()  # firing again after the end is harmless


async def test_backend_failure_is_a_clean_sys_temp(
    pop3: Running, backend: FakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.fail_authenticate = True
    raw = await Raw.connect(pop3.port)
    raw.writer.write(b"USER alice\r\nPASS secret\r\n")
    answers = await asyncio.wait_for(raw.reader.read(), 5)
    assert answers == (
        b"+OK send PASS\r\n-ERR [SYS/TEMP] temporary server problem, try again later\r\n"
    )
    failures = [
        r for r in caplog.records if r.name == "mailgate.pop3" and r.levelno == logging.ERROR
    ]
    assert len(failures) == 1 and failures[0].exc_info is not None
    failures[0].expected = True


async def test_idle_sessions_are_closed_silently(backend: FakeBackend) -> None:
    running = await serve(backend, idle=0.2)
    try:
        raw = await Raw.connect(running.port)
        await raw.sign_in()
        await raw.ask(b"DELE 1\r\n")
        started = time.monotonic()
        assert await asyncio.wait_for(raw.reader.read(), 2) == b""
        assert time.monotonic() - started < 1.0
        await until(lambda: bool(backend.called("close_maildrop")))
        assert backend.called("commit_deletes") == []
    finally:
        running.server.close()


async def test_activity_keeps_a_session_alive(backend: FakeBackend) -> None:
    """Commands 0.2 s apart keep a session with a 1 s idle limit open for 1.6 s. (The
    margin is wide: with commands 0.1 s apart and a 0.3 s limit, a loaded machine once
    stalled the client long enough for the server to close the session.)"""
    running = await serve(backend, idle=1.0)
    try:
        raw = await Raw.connect(running.port)
        for _ in range(8):
            await asyncio.sleep(0.2)
            assert await raw.ask(b"CAPA\r\n") == [b"+OK capability list follows\r\n"]
            await asyncio.wait_for(raw.reader.readuntil(b"\r\n.\r\n"), 2)
    finally:
        running.server.close()


async def test_many_half_open_connections_then_a_normal_client(pop3: Running) -> None:
    tasks_before = len(asyncio.all_tasks())
    connections = []
    for index in range(500):
        reader, writer = await asyncio.open_connection("127.0.0.1", pop3.port)
        if index % 2:
            writer.write(b"USER al")  # a command that never ends
        connections.append(writer)
    await reader.readline()  # the last one was greeted: all 500 sessions exist
    assert len(asyncio.all_tasks()) == tasks_before  # idle sessions cost no task

    def session() -> int:
        pop = client(pop3.port)
        pop.user("alice")
        pop.pass_("secret")
        count = pop.stat()[0]
        pop.quit()
        return count

    assert await asyncio.to_thread(session) == 3
    for writer in connections:
        writer.transport.abort()


# -- before sign-in: the deadline and the cap per client address -------------------------------


def guard(deadline: float = 0.5, per_address: int = 3) -> PreauthLimiter:
    return PreauthLimiter(signin_deadline=deadline, max_per_address=per_address)


@pytest.fixture
async def guarded(backend: FakeBackend) -> AsyncIterator[Running]:
    """Clients have 0.5 s to sign in, and 3 unauthenticated connections per address."""
    running = await serve(backend, preauth=guard())
    yield running
    running.server.close()


async def test_a_byte_at_a_time_client_is_closed_at_the_signin_deadline(guarded: Running) -> None:
    raw = await Raw.connect(guarded.port)
    started = time.monotonic()
    answer = b""
    for byte in itertools.cycle(b"CAPA"):  # never a whole line, yet never idle
        raw.writer.write(bytes([byte]))
        try:
            answer = await asyncio.wait_for(raw.reader.readline(), 0.1)
            break
        except TimeoutError:
            assert time.monotonic() - started < 10, "still open long after the deadline"
    assert answer == TOO_SLOW
    assert time.monotonic() - started >= 0.5
    assert await raw.closed_by_server()


async def test_one_address_gets_a_few_unauthenticated_connections_another_its_own(
    guarded: Running,
) -> None:
    held = [await Raw.connect(guarded.port) for _ in range(3)]
    refused = await Raw.open(guarded.port)
    assert await refused.line() == TOO_MANY
    assert await refused.closed_by_server()
    other = await Raw.connect(guarded.port, source="127.0.0.2")
    assert await other.ask(b"CAPA\r\n") == [b"+OK capability list follows\r\n"]
    held[0].writer.close()  # a slot frees when its connection ends

    async def admitted() -> bool:
        return await (await Raw.open(guarded.port)).line() == GREETING

    deadline = time.monotonic() + 5
    while not await admitted():
        assert time.monotonic() < deadline, "the closed connection's slot never freed"


async def test_signing_in_frees_the_slot_and_lifts_the_deadline(guarded: Running) -> None:
    first = await Raw.connect(guarded.port)
    waiting = [await Raw.connect(guarded.port) for _ in range(2)]
    await first.sign_in()
    fourth = await Raw.connect(guarded.port)  # the signed-in session left the pool
    for raw in [*waiting, fourth]:
        assert await raw.line() == TOO_SLOW
    assert await first.ask(b"NOOP\r\n") == [b"+OK\r\n"]  # signed in: no deadline


async def test_a_client_silent_after_stls_is_cut_off_at_the_deadline(
    backend: FakeBackend, tls: Tls
) -> None:
    running = await serve(backend, tls, preauth=guard())
    try:
        raw = await Raw.connect(running.port)
        assert await raw.ask(b"STLS\r\n") == [b"+OK begin TLS negotiation\r\n"]
        assert await raw.closed_by_server(timeout=5)  # no ClientHello ever came
    finally:
        running.server.close()


async def test_pop3s_refuses_over_tls_too(backend: FakeBackend, tls: Tls) -> None:
    running = await serve(backend, tls, implicit=True, preauth=guard(per_address=1))
    try:

        async def tls_client() -> Raw:
            return Raw(*await asyncio.open_connection(
                "127.0.0.1", running.port, ssl=tls.client, server_hostname="127.0.0.1"))

        first = await tls_client()
        assert await first.line() == GREETING
        second = await tls_client()
        assert await second.line() == TOO_MANY
        assert await second.closed_by_server()
    finally:
        running.server.close()


async def test_memory_is_given_back_after_many_sessions_closed(
    backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    trims: list[None] = []
    monkeypatch.setattr(memory, "give_back_freed_memory", lambda: trims.append(None))
    running = await serve(backend, idle=0.2)  # sweeps every 0.05 s
    try:
        for _ in range(256):
            (await Raw.connect(running.port)).writer.close()
        await until(lambda: trims == [None])
    finally:
        running.server.close()


# -- helpers of the listener -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.1", False),
        ("::ffff:192.0.2.1", False),
        ("fe80::1%eth0", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback


def test_slices_regroup_without_changing_the_bytes() -> None:
    chunks = [b"+OK 5 octets\r\n", b"a" * 1000, b"b" * 10, b".\r\n"]
    pieces = list(_slices(chunks, 256))
    assert b"".join(bytes(piece) for piece in pieces) == b"".join(chunks)
    assert all(len(piece) == 256 for piece in pieces[:-1])
    assert list(_slices([], 256)) == []
