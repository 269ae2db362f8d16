"""Many LMTP deliveries at once (they share commits: `store.commits`): each recipient gets
every message exactly once, byte for byte, and `kill -9` in the middle of such a load never
loses a message that got its 250 nor stores one twice."""

from __future__ import annotations

import hashlib
import imaplib
import os
import random
import signal
import smtplib
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from live_server import RunningServer, start_server, wait_until
from smtp_clients import LISTENERS, at_once, serving, split_trace

ALICE, BOB = "alice@example.test", "bob@example.test"
PASSWORD = "correct-horse-battery"
OUTSIDER = "someone@outside.example"


def _message(n: int) -> bytes:
    """Numbered, about 10 KB, with a body that says which number it belongs to."""
    body = "".join(f"line {i} of message {n}\r\n" for i in range(400))
    return (f"From: {OUTSIDER}\r\nTo: {ALICE}\r\nSubject: load {n}\r\n"
            f"Message-ID: <load.{n}@outside.example>\r\n\r\n{body}").encode()


def _deliver(port: int, numbers: range, recipients: list[str]) -> list[list[int]]:
    """One LMTP connection delivering these messages; the reply codes of each."""
    codes = []
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo_or_helo_if_needed()
        for n in numbers:
            client.mail(OUTSIDER)
            for rcpt in recipients:
                assert client.rcpt(rcpt)[0] == 250
            first = client.data(_message(n))
            codes.append([first[0]] + [client.getreply()[0] for _ in recipients[1:]])
    return codes


def _stored(server: RunningServer, address: str) -> list[bytes]:
    """Every message of the INBOX, over IMAP."""
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    try:
        client.login(address, PASSWORD)
        client.select("INBOX", readonly=True)
        _, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
        return [part[1] for part in data if isinstance(part, tuple)]
    finally:
        client.logout()


def _numbers(stored: list[bytes]) -> Counter[int]:
    """How often each numbered message is there; each must be whole."""
    found: Counter[int] = Counter()
    for raw in stored:
        _, rest = split_trace(raw)
        n = int(rest.split(b"Subject: load ", 1)[1].split(b"\r\n", 1)[0])
        assert hashlib.sha256(rest).digest() == hashlib.sha256(_message(n)).digest()
        found[n] += 1
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    yield from serving(tmp_path / "data")


def test_many_concurrent_lmtp_deliveries_all_arrive_exactly_once(
        server: RunningServer) -> None:
    at_once((server.account, ALICE, PASSWORD), (server.account, BOB, PASSWORD))
    recipients = [ALICE, "bob+tag@example.test", "alice+x@example.test"]
    with ThreadPoolExecutor(20) as pool:  # 20 connections, 10 messages each
        replies = list(pool.map(_deliver, [server.ports["lmtp"]] * 20,
                                [range(c * 10, (c + 1) * 10) for c in range(20)],
                                [recipients] * 20))
    assert all(codes == [250, 250, 250] for conn in replies for codes in conn)
    everything = Counter(range(200))
    assert _numbers(_stored(server, ALICE)) == everything  # one copy per account
    assert _numbers(_stored(server, BOB)) == everything


class _Sender(threading.Thread):
    """Delivers numbered messages over LMTP until stopped; remembers those that got 250."""

    def __init__(self, server: RunningServer, numbers: range) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.numbers = iter(numbers)
        self.acknowledged: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            with smtplib.LMTP("127.0.0.1", self.server.ports["lmtp"], timeout=10) as client:
                for n in self.numbers:
                    if self.stopping.is_set():
                        return
                    if client.sendmail(OUTSIDER, [ALICE], _message(n)) == {}:
                        self.acknowledged.append(n)
        except (OSError, smtplib.SMTPException):
            return  # the server was killed


def test_kill_9_during_concurrent_lmtp_loses_nothing_and_stores_nothing_twice(
        tmp_path: Path) -> None:
    """MAILGATE_TEST_KILLS (default 10) kills while 8 connections deliver."""
    data = tmp_path / "data"
    rng = random.Random(21)
    acknowledged: list[int] = []
    server = start_server(data, LISTENERS)
    try:
        server.account(ALICE, PASSWORD)
        for kill in range(int(os.environ.get("MAILGATE_TEST_KILLS", "10"))):
            senders = [_Sender(server, range((kill * 8 + i) * 10_000,
                                             (kill * 8 + i + 1) * 10_000)) for i in range(8)]
            for sender in senders:
                sender.start()
            wait_until(lambda s=senders: sum(len(x.acknowledged) for x in s) >= 8, 30)
            threading.Event().wait(rng.uniform(0.0, 0.4))  # a random moment of the load
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            for sender in senders:
                sender.stopping.set()
                sender.join(15)
                acknowledged += sender.acknowledged
            server = start_server(data, LISTENERS)
        stored = _numbers(_stored(server, ALICE))
        twice = [n for n, count in stored.items() if count > 1]
        assert not twice, f"stored twice: {twice[:10]}"
        lost = sorted(set(acknowledged) - set(stored))
        assert not lost, f"{len(lost)} messages got 250 and are gone: {lost[:10]}"
        assert len(acknowledged) >= 80
    finally:
        server.stop()
    server.assert_clean_exit()
