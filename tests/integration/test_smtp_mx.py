"""Direct MX delivery (no smarthost) against a real `mailgate serve`: the queue runner asks
the loopback DNS stub for the MX (and then A) records of an outside domain and delivers to
a second SMTP server on loopback (`server.outbound_port`), DKIM-signed and byte-identical
under the trace header; a domain without MX takes mail at its address, a null MX bounces,
and a 4xx from the MX is retried later."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator

import dkim
import pytest
from dns_stub import DnsStub
from live_server import RunningServer, wait_until
from smtp_clients import mailbox, message, serving, split_trace
from smtp_receiver import Smarthost

ALICE = "alice@example.test"
PASSWORD = "correct-horse-battery"
SELECTOR = "mg1"


@pytest.fixture(scope="module")
def mx_host(smarthost: Smarthost) -> Smarthost:
    """The receiving MX: a loopback SMTP server, as the relay tests' smarthost."""
    return smarthost


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsStub]:
    stub = DnsStub({
        # the better MX has an address nothing listens on: the next one takes the mail
        ("outside.example", "MX"): ["10 mx0.outside.example.", "20 mx1.outside.example."],
        ("mx0.outside.example", "A"): ["127.0.0.3"],
        ("mx1.outside.example", "A"): ["127.0.0.1"],
        ("plain.example", "A"): ["127.0.0.1"],  # no MX: the domain's own address
        ("nomail.example", "MX"): ["0 ."],  # RFC 7505: takes no mail
    })
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mx_host: Smarthost, dns: DnsStub
           ) -> Iterator[RunningServer]:
    env = {"MAILGATE_SERVER_NAMESERVERS": dns.address,
           "MAILGATE_SERVER_OUTBOUND_PORT": str(mx_host.port),
           "MAILGATE_SERVER_QUEUE_RETRY_MIN": "1s",
           "MAILGATE_SERVER_QUEUE_RETRY_MAX": "2s"}
    for running in serving(tmp_path_factory.mktemp("smtp-mx") / "data", env):
        running.account(ALICE, PASSWORD)
        yield running


@pytest.fixture(scope="module")
def published_key(server: RunningServer) -> bytes:
    """The DKIM record `mailgate dkim generate` prints, as DNS would serve it."""
    made = server.cli("dkim", "generate", "example.test", "--selector", SELECTOR)
    return "".join(made.stdout.strip().split('"')[1::2]).encode()


def _submit(server: RunningServer, recipients: list[str], raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as client:
        client.login(ALICE, PASSWORD)
        assert client.sendmail(ALICE, recipients, raw) == {}


def _queue(server: RunningServer) -> list[dict[str, object]]:
    return list(json.loads(server.cli("queue", "list", "--json").stdout))


def test_the_mx_host_gets_the_message_signed_and_byte_identical_under_received(
        server: RunningServer, mx_host: Smarthost, published_key: bytes) -> None:
    subject = "straight to the mx"
    raw = message(ALICE, "carol@outside.example", subject, "Hi.\r\n.dot line\r\n")
    _submit(server, ["carol@outside.example"], raw)
    wait_until(lambda: mx_host.arrived(subject), 20, lambda: f"queue: {_queue(server)}")
    [(sender, recipients, data)] = mx_host.arrived(subject)
    assert (sender, recipients) == (ALICE, ["carol@outside.example"])
    fields, signed = split_trace(data)
    assert len(fields) == 1 and fields[0].startswith(b"Received: from ")
    assert b"with ESMTPA id " in fields[0]
    assert signed.startswith(b"DKIM-Signature: ") and b"d=example.test" in signed[:400]
    signature_end = signed.index(b"\r\nFrom: ") + 2
    assert signed[signature_end:] == raw

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        return published_key if name.rstrip(b".") == b"mg1._domainkey.example.test" else None

    assert dkim.verify(data, dnsfunc=dnsfunc)
    wait_until(lambda: _queue(server) == [], 10, lambda: f"queue: {_queue(server)}")


def test_a_domain_without_mx_takes_mail_at_its_address(
        server: RunningServer, mx_host: Smarthost) -> None:
    subject = "to the implicit mx"
    _submit(server, ["dan@plain.example"], message(ALICE, "dan@plain.example", subject))
    wait_until(lambda: mx_host.arrived(subject), 20, lambda: f"queue: {_queue(server)}")
    assert mx_host.arrived(subject)[0][1] == ["dan@plain.example"]


def test_a_null_mx_bounces_at_once(server: RunningServer) -> None:
    subject = "to a null mx"
    _submit(server, ["eve@nomail.example"], message(ALICE, "eve@nomail.example", subject))

    def bounced() -> list[bytes]:
        return [m for m in mailbox(server, ALICE, PASSWORD)
                if b"multipart/report" in m and f"Subject: {subject}".encode() in m]

    wait_until(bounced, 20, lambda: f"queue: {_queue(server)}")
    assert b"Status: 5.1.10" in bounced()[0]


def test_a_4xx_from_the_mx_is_retried_later(server: RunningServer, mx_host: Smarthost
                                            ) -> None:
    subject = "mx says later"
    mx_host.tempfail = True
    try:
        _submit(server, ["fay@outside.example"], message(ALICE, "fay@outside.example", subject))

        def deferred() -> bool:
            return any(r["attempts"] >= 1 and "451 4.3.0" in r["last_error"]
                       for e in _queue(server) for r in e["recipients"])  # type: ignore[attr-defined]

        wait_until(deferred, 20, lambda: f"queue: {_queue(server)}")
        assert not mx_host.arrived(subject)
    finally:
        mx_host.tempfail = False
    wait_until(lambda: mx_host.arrived(subject), 20, lambda: f"queue: {_queue(server)}")
    wait_until(lambda: _queue(server) == [], 10, lambda: f"queue: {_queue(server)}")
