"""The outbound queue against a real `mailgate serve` and a real smarthost on loopback.

The smarthost is an aiosmtpd server run by the test (`smtp_receiver`): it keeps what it
receives, can refuse recipients (5xx), answer every recipient with a 4xx, or be down (its
port closed). Retry intervals are one and two seconds, so waiting for a retry is waiting for
a condition.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import shutil
import signal
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from live_server import RunningServer, start_server, wait_until
from smtp_clients import LISTENERS, mailbox, message, serving
from smtp_receiver import ESCAPE, REFUSED, Smarthost
from sqlalchemy import create_engine, text

from support import POSTGRES_URL, postgres_database

ALICE, BOB = "alice@example.test", "bob@example.test"
PASSWORD = "correct-horse-battery"


def _relay_env(smarthost: Smarthost, lifetime: str = "1h") -> dict[str, str]:
    return {"MAILGATE_SERVER_RELAY_HOST": "127.0.0.1",
            "MAILGATE_SERVER_RELAY_PORT": str(smarthost.port),
            "MAILGATE_SERVER_RELAY_TLS": "none",
            "MAILGATE_SERVER_QUEUE_RETRY_MIN": "1s",
            "MAILGATE_SERVER_QUEUE_RETRY_MAX": "2s",
            "MAILGATE_SERVER_QUEUE_LIFETIME": lifetime}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smarthost: Smarthost
           ) -> Iterator[RunningServer]:
    for running in serving(tmp_path_factory.mktemp("smtp-queue") / "data",
                           _relay_env(smarthost)):
        running.account(ALICE, PASSWORD)
        running.account(BOB, PASSWORD)
        yield running


def _submit(server: RunningServer, recipients: list[str], raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as client:
        client.login(ALICE, PASSWORD)
        assert client.sendmail(ALICE, recipients, raw) == {}


def _queue(server: RunningServer) -> list[dict[str, object]]:
    return list(json.loads(server.cli("queue", "list", "--json").stdout))


def _queued(server: RunningServer, subject: str) -> dict[str, object]:
    """The queue entry of the one message with this subject (found by its Received id)."""
    entries = [e for e in _queue(server)
               if any(subject.encode() in m for m in [_spooled(server, str(e["id"]))])]
    assert len(entries) == 1, entries
    return entries[0]


def _spooled(server: RunningServer, queue_id: str) -> bytes:
    path = server.data / "blobs" / "outbound" / queue_id
    return path.read_bytes() if path.exists() else b""


def _bounces(server: RunningServer, subject: str) -> list[email.message.Message]:
    found = [email.message_from_bytes(m) for m in mailbox(server, ALICE, PASSWORD)
             if b"multipart/report" in m and f"Subject: {subject}\r\n".encode() in m]
    return found


def _status_fields(report: email.message.Message) -> dict[str, str]:
    """The fields of the message/delivery-status part, as they were sent (one recipient)."""
    raw = report.as_bytes(policy=email.policy.compat32.clone(max_line_length=0)).decode()
    section = raw.split("Content-Type: message/delivery-status", 1)[1].split("\n--", 1)[0]
    return dict(line.split(": ", 1) for line in section.splitlines() if ": " in line)


def _audit(server: RunningServer, action: str) -> list[dict[str, object]]:
    entries = json.loads(server.cli("audit", "--json").stdout)
    return [e for e in entries if e["action"] == action]


def test_an_outside_recipient_gets_the_message_byte_identical_under_received(
        server: RunningServer, smarthost: Smarthost) -> None:
    subject = "to the world"
    raw = message(ALICE, "carol@outside.example", subject, "Hi.\r\n.dot line\r\n")
    _submit(server, ["carol@outside.example", BOB], raw)
    wait_until(lambda: smarthost.arrived(subject), 20, lambda: f"queue: {_queue(server)}")
    [(sender, recipients, data)] = smarthost.arrived(subject)
    assert (sender, recipients) == (ALICE, ["carol@outside.example"])
    assert data.startswith(b"Received: from ") and b"with ESMTPA id " in data
    received_end = data.index(b"\r\n", data.index(b"; "))
    assert data[received_end + 2:] == raw
    local = [m for m in mailbox(server, BOB, PASSWORD) if subject.encode() in m]
    assert len(local) == 1 and local[0].endswith(raw)  # local recipients directly
    wait_until(lambda: _queue(server) == [], 10, lambda: f"queue: {_queue(server)}")


def test_the_smarthost_down_a_while_then_up_gets_the_message_on_retry(
        server: RunningServer, smarthost: Smarthost) -> None:
    subject = "while the smarthost is down"
    smarthost.down()
    try:
        _submit(server, ["dana@outside.example"], message(ALICE, "dana@outside.example",
                                                          subject))
        wait_until(lambda: any(int(r["attempts"]) >= 2 for e in _queue(server)
                               for r in e["recipients"]), 20,  # type: ignore[attr-defined]
                   lambda: f"queue: {_queue(server)}")
        [entry] = _queue(server)
        [recipient] = entry["recipients"]  # type: ignore[misc]
        assert recipient["state"] == "queued" and "127.0.0.1" in recipient["last_error"]
    finally:
        smarthost.up()
    wait_until(lambda: smarthost.arrived(subject), 20, lambda: f"queue: {_queue(server)}")
    assert len(smarthost.arrived(subject)) == 1
    wait_until(lambda: _queue(server) == [], 10, lambda: f"queue: {_queue(server)}")


def test_a_5xx_from_the_remote_bounces_at_once_to_the_senders_inbox(
        server: RunningServer, smarthost: Smarthost) -> None:
    subject = "to a refused recipient"
    raw = message(ALICE, f"{REFUSED}@outside.example", subject)
    _submit(server, [f"{REFUSED}@outside.example", "erin@outside.example"], raw)
    wait_until(lambda: _bounces(server, subject), 20, lambda: f"queue: {_queue(server)}")
    [report] = _bounces(server, subject)
    assert report["From"].startswith("Mail Delivery System")
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    status = _status_fields(report)
    assert status["Final-Recipient"] == f"rfc822; {REFUSED}@outside.example"
    assert (status["Action"], status["Status"]) == ("failed", "5.1.1")
    assert status["Diagnostic-Code"].startswith("smtp; 550 5.1.1")
    headers = next(p for p in report.walk() if p.get_content_type() == "text/rfc822-headers")
    assert f"Subject: {subject}".encode() in headers.as_bytes()
    # the other recipient got it; nothing is left in the queue
    assert [r[1] for r in smarthost.arrived(subject)] == [["erin@outside.example"]]
    wait_until(lambda: _queue(server) == [], 10, lambda: f"queue: {_queue(server)}")
    [bounced] = [e for e in _audit(server, "queue.bounce") if e["account"] == ALICE
                 and e["recipients"][0]["address"] == f"{REFUSED}@outside.example"]
    assert bounced["returned"] is True


def test_queue_list_retry_and_delete_with_json(server: RunningServer,
                                               smarthost: Smarthost) -> None:
    smarthost.tempfail = True
    try:
        for subject in ("keep me", "drop me"):
            _submit(server, ["fay@outside.example"], message(ALICE, "fay@outside.example",
                                                             subject))
        keep, drop = _queued(server, "keep me"), _queued(server, "drop me")
        wait_until(lambda: all(r["last_error"] for e in _queue(server)
                               for r in e["recipients"]), 20)  # type: ignore[attr-defined]
        assert keep["sender"] == ALICE and keep["size"] > 0
        [recipient] = _queued(server, "keep me")["recipients"]  # type: ignore[misc]
        assert recipient["address"] == "fay@outside.example"
        assert recipient["last_error"].startswith("451 4.3.0 try later")
        assert recipient["last_error"].endswith("(in reply to RCPT TO)")
        assert ESCAPE in recipient["last_error"]  # JSON keeps the remote's words
        shown = server.cli("queue", "list").stdout
        assert "\x1b" not in shown and "\\x1b[31mred" in shown  # the terminal sees escapes
        deleted = json.loads(server.cli("queue", "delete", str(drop["id"]), "--json").stdout)
        assert deleted["id"] == drop["id"]
        assert [e["id"] for e in _queue(server)] == [keep["id"]]
        assert not _spooled(server, str(drop["id"]))
        [audited] = [e for e in _audit(server, "queue.delete") if e["queue_id"] == drop["id"]]
        assert audited["account"] == ALICE and audited["recipients"] == ["fay@outside.example"]
        retried = json.loads(server.cli("queue", "retry", str(keep["id"]), "--json").stdout)
        assert retried == {"id": keep["id"], "recipients": 1}
    finally:
        smarthost.tempfail = False
    wait_until(lambda: smarthost.arrived("keep me"), 20, lambda: f"queue: {_queue(server)}")
    assert not smarthost.arrived("drop me")
    missing = server.cli("queue", "delete", "0123456789ab", check=False)
    assert missing.returncode == 1 and "no queued message" in missing.stderr


def test_a_message_still_queued_after_its_lifetime_bounces(tmp_path: Path) -> None:
    nowhere = Smarthost()  # never up: its port stays closed
    subject = "never arrives"
    for server in serving(tmp_path / "data", _relay_env(nowhere, lifetime="3s")):
        server.account(ALICE, PASSWORD)
        _submit(server, ["gil@outside.example"], message(ALICE, "gil@outside.example",
                                                         subject))
        wait_until(lambda s=server: _bounces(s, subject), 20)  # type: ignore[misc]
        [report] = _bounces(server, subject)
        status = _status_fields(report)
        assert (status["Action"], status["Status"]) == ("failed", "4.4.7")
        assert status["Final-Recipient"] == "rfc822; gil@outside.example"
        assert "time in the queue ran out" in report.as_string()
        assert _queue(server) == []
        assert _audit(server, "queue.bounce")[0]["recipients"][0]["status"] == "4.4.7"


class _Submitter(threading.Thread):
    """Submits numbered messages in a loop; remembers the ones that got 250."""

    def __init__(self, server: RunningServer, first: int) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.number = first
        self.acknowledged: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", self.server.ports["submission"],
                                  timeout=5) as client:
                    client.login(ALICE, PASSWORD)
                    while not self.stopping.is_set():
                        n = self.number
                        self.number += 1
                        client.sendmail(ALICE, ["kim@outside.example"],
                                        message(ALICE, "kim@outside.example", f"load {n}"))
                        self.acknowledged.append(n)
            except (OSError, smtplib.SMTPException):
                if self.server.proc.poll() is None:
                    continue  # refused while starting: try again
                return


def _numbers(data: list[bytes]) -> list[int]:
    found = []
    for raw in data:
        start = raw.index(b"Subject: load ") + len(b"Subject: load ")
        found.append(int(raw[start:raw.index(b"\r\n", start)]))
    return found


def test_kill_9_while_submitting_loses_nothing_and_sends_nothing_twice(
        tmp_path: Path, smarthost: Smarthost) -> None:
    """A message cut off after its final dot went out is held, not sent again: it may be at
    the smarthost, or not, and waits for the operator; every other one is at the smarthost
    once or still queued. MAILGATE_TEST_KILLS=200 makes a soak of it (`make soak-queue`)."""
    data = tmp_path / "data"
    rng = random.Random(8)
    acknowledged: list[int] = []
    before = len(smarthost.received)
    number = 0
    env = _relay_env(smarthost)
    server = start_server(data, LISTENERS, env)
    server.account(ALICE, PASSWORD)
    # A fast machine submits more than the plan's 200 messages an hour before the last kill.
    server.cli("plan", "sending", "standard", "--messages-per-hour", "none",
               "--recipients-per-hour", "none")
    for _ in range(int(os.environ.get("MAILGATE_TEST_KILLS", "20"))):
        submitter = _Submitter(server, number)
        submitter.start()
        wait_until(lambda s=submitter: s.acknowledged, 20)  # type: ignore[misc]
        threading.Event().wait(rng.uniform(0.0, 0.3))  # a random moment of the load
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        submitter.stopping.set()
        submitter.join(10)
        acknowledged += submitter.acknowledged
        number = submitter.number
        server = start_server(data, LISTENERS, env)
    try:
        def settled() -> bool:
            return all(r["state"] == "held" for e in _queue(server)
                       for r in e["recipients"])  # type: ignore[attr-defined]

        wait_until(settled, 30, lambda: f"queue: {_queue(server)}")
        sent = _numbers([r[2] for r in smarthost.received[before:]])
        held = _numbers([_spooled(server, str(e["id"])) for e in _queue(server)])
        assert len(sent) == len(set(sent)), "a message went out twice"
        assert set(acknowledged) <= set(sent) | set(held), "a message that got 250 is lost"
        assert len(acknowledged) >= 20
        if held:
            assert _audit(server, "queue.hold")
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log.read_text(errors="replace")


@pytest.mark.skipif(not POSTGRES_URL, reason="needs MAILGATE_TEST_POSTGRES_URL")
def test_two_nodes_on_one_postgres_database_send_each_message_once(
        tmp_path: Path, smarthost: Smarthost) -> None:
    """One runner for the cluster: the node holding the duty sends what both queue; when it
    dies, the other takes the duty over once the heartbeat window has passed."""
    with postgres_database() as url:
        env = {**_relay_env(smarthost), "MAILGATE_STORAGE_DATABASE_URL": url,
               "MAILGATE_SERVER_HEARTBEAT_SECONDS": "1",
               "MAILGATE_SERVER_NODE_TIMEOUT_SECONDS": "3"}
        a = start_server(tmp_path / "a", LISTENERS, env)
        b = None
        try:
            (tmp_path / "b").mkdir()  # one audit key and one blob store for the cluster
            shutil.copy2(tmp_path / "a" / "audit.key", tmp_path / "b" / "audit.key")
            (tmp_path / "a" / "blobs").mkdir(exist_ok=True)
            (tmp_path / "b" / "blobs").symlink_to(tmp_path / "a" / "blobs")
            b = start_server(tmp_path / "b", LISTENERS, env)
            a.account(ALICE, PASSWORD)
            for n in range(6):
                _submit(a if n % 2 else b, ["hal@outside.example"],
                        message(ALICE, "hal@outside.example", f"cluster {n}"))
            for n in range(6):
                wait_until(lambda n=n: smarthost.arrived(f"cluster {n}"), 20)  # type: ignore[misc]
            holder = _duty_holder(url)
            assert holder in (_node_name(a), _node_name(b))
            dead, alive = (a, b) if holder == _node_name(a) else (b, a)
            dead.proc.kill()
            dead.proc.wait()
            _submit(alive, ["hal@outside.example"],
                    message(ALICE, "hal@outside.example", "after the holder died"))
            wait_until(lambda: smarthost.arrived("after the holder died"), 30,
                       lambda: f"queue: {_queue(alive)}")
            assert _duty_holder(url) == _node_name(alive)
            assert all(len(smarthost.arrived(f"cluster {n}")) == 1 for n in range(6))
        finally:
            if b is not None:
                b.stop()
            a.stop()


def _node_name(server: RunningServer) -> str:
    return f"{socket.gethostname()[:50]}-{server.proc.pid}"


def _duty_holder(url: str) -> str:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return str(conn.execute(text(
                "SELECT node FROM node_duties WHERE name = 'outbound-queue'")).scalar())
    finally:
        engine.dispose()


class _Authenticator:
    """The smarthost's AUTH: one account, and only over TLS."""

    def __init__(self) -> None:
        self.signed_in: list[tuple[bytes, bool]] = []

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: object) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = (auth_data.login, auth_data.password) == (b"relay-user", b"relay-secret")
        self.signed_in.append((auth_data.login, session.ssl is not None))
        return AuthResult(success=ok)


def test_the_smarthost_over_required_starttls_with_auth(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    auth = _Authenticator()
    tls_host = Smarthost()
    tls_host.controller = Controller(tls_host, hostname="127.0.0.1", port=tls_host.port,
                                     tls_context=context, require_starttls=True,
                                     auth_required=True, authenticator=auth)
    tls_host.controller.start()
    env = {**_relay_env(tls_host), "MAILGATE_SERVER_RELAY_TLS": "starttls",
           "MAILGATE_SERVER_RELAY_USERNAME": "relay-user",
           "MAILGATE_SERVER_RELAY_PASSWORD": "relay-secret",
           "SSL_CERT_FILE": str(tmp_path / "ca.pem")}  # the smarthost's CA, for the server
    try:
        for server in serving(tmp_path / "data", env):
            server.account(ALICE, PASSWORD)
            _submit(server, ["ivy@outside.example"],
                    message(ALICE, "ivy@outside.example", "over tls"))
            wait_until(lambda: tls_host.arrived("over tls"), 20)
            assert auth.signed_in == [(b"relay-user", True)]
    finally:
        tls_host.down()
