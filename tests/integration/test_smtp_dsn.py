"""Delivery status notifications asked for at submission (DSN, RFC 3461), against a real
`mailgate serve`, driven by msmtp and smtplib, with a real smarthost on loopback
(`smtp_receiver`, which can offer DSN or not).

The reports land in the sender's INBOX: `delivered` for a local recipient that asked
NOTIFY=SUCCESS, `relayed` when the next hop does not offer DSN, `failed` unless the sender
said NOTIFY=NEVER (the whole message with RET=FULL), `delayed` once when the message still
waits `queue_delay_warning` (2 s here) after it arrived, with ENVID and ORCPT given back; a
next hop that offers DSN gets the parameters instead.
"""

from __future__ import annotations

import base64
import email
import email.message
import json
import shutil
import smtplib
import subprocess
from collections.abc import Iterator

import pytest
from live_server import RunningServer, wait_until
from smtp_clients import Conversation, mailbox, message, serving
from smtp_receiver import REFUSED, Smarthost

ALICE, BOB = "alice@example.test", "bob@example.test"
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smarthost: Smarthost
           ) -> Iterator[RunningServer]:
    for running in serving(tmp_path_factory.mktemp("smtp-dsn") / "data", {
            "MAILGATE_SERVER_RELAY_HOST": "127.0.0.1",
            "MAILGATE_SERVER_RELAY_PORT": str(smarthost.port),
            "MAILGATE_SERVER_RELAY_TLS": "none",
            "MAILGATE_SERVER_QUEUE_RETRY_MIN": "1s",
            "MAILGATE_SERVER_QUEUE_RETRY_MAX": "1s",
            "MAILGATE_SERVER_QUEUE_DELAY_WARNING": "2s"}):
        running.account(ALICE, PASSWORD)
        running.account(BOB, PASSWORD)
        yield running


@pytest.fixture
def dsn_smarthost(smarthost: Smarthost) -> Iterator[Smarthost]:
    smarthost.dsn = True
    smarthost.commands.clear()
    yield smarthost
    smarthost.dsn = False


def _reports(server: RunningServer, subject: str) -> list[email.message.Message]:
    return [email.message_from_bytes(m) for m in mailbox(server, ALICE, PASSWORD)
            if b"report-type=delivery-status" in m and f"Subject: {subject}\r\n".encode() in m]


def _status(report: email.message.Message) -> str:
    part = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
    return "\n".join(str(block) for block in part.get_payload())  # type: ignore[union-attr]


def _send(server: RunningServer, subject: str, recipients: dict[str, list[str]],
          mail_options: list[str]) -> None:
    """Submit with smtplib: each recipient with its RCPT options."""
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as client:
        client.login(ALICE, PASSWORD)
        assert client.has_extn("dsn")
        assert client.mail(ALICE, mail_options)[0] == 250
        for address, options in recipients.items():
            assert client.rcpt(address, options)[0] == 250
        assert client.data(message(ALICE, ", ".join(recipients), subject))[0] == 250


def test_dsn_is_offered_at_submission_and_not_on_the_inbound_listener(
        server: RunningServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as client:
        client.ehlo("client.example")
        assert client.has_extn("dsn")
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as client:
        client.ehlo("client.example")
        assert not client.has_extn("dsn")


@pytest.mark.parametrize(("command", "said"), [
    ("MAIL FROM:<alice@example.test> RET=PARTIAL", "RET must be FULL or HDRS"),
    ("MAIL FROM:<alice@example.test> ENVID=a=b", "ENVID must be xtext"),
    ("MAIL FROM:<alice@example.test> RET=FULL ret=HDRS", "RET is given twice"),
    ("RCPT TO:<bob@example.test> NOTIFY=NEVER,SUCCESS", "NOTIFY must be NEVER"),
    ("RCPT TO:<bob@example.test> ORCPT=bob@example.test", "ORCPT must be an address type"),
])
def test_a_bad_dsn_parameter_is_refused_and_the_transaction_goes_on(
        server: RunningServer, command: str, said: str) -> None:
    talk = Conversation(server.ports["submission"])

    def code(line: str) -> str:
        return talk.command(line.encode())[:3]

    try:
        talk.command(b"EHLO client.example")
        plain = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
        assert code(f"AUTH PLAIN {plain}") == "235"
        if command.startswith("RCPT"):
            assert code(f"MAIL FROM:<{ALICE}>") == "250"
        answer = talk.command(command.encode())
        assert answer.startswith("501 5.5.4 ") and said in answer, answer
        if command.startswith("MAIL"):
            assert code(f"MAIL FROM:<{ALICE}>") == "250"  # no MAIL was taken
        assert code(f"RCPT TO:<{BOB}> NOTIFY=FAILURE") == "250"
        assert code("RSET") == "250"
    finally:
        talk.close()


@pytest.mark.skipif(shutil.which("msmtp") is None, reason="msmtp is not installed")
def test_msmtp_asks_to_hear_of_success_and_gets_a_delivered_report(
        server: RunningServer) -> None:
    subject = "msmtp asks for a dsn"
    run = subprocess.run(["msmtp", "--file=/dev/null", "--host=127.0.0.1",
                          f"--port={server.ports['submission']}", "--tls=off", "--auth=plain",
                          f"--user={ALICE}", f"--passwordeval=echo {PASSWORD}",
                          f"--from={ALICE}", "--dsn-notify=success,failure",
                          "--dsn-return=hdrs", BOB],
                         input=message(ALICE, BOB, subject), capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr.decode()
    wait_until(lambda: _reports(server, subject), 10, lambda: "no report")
    [report] = _reports(server, subject)
    assert report["Subject"] == "Successful Mail Delivery Report"
    assert report["From"].startswith("Mail Delivery System")
    status = _status(report)
    assert f"Final-Recipient: rfc822; {BOB}" in status
    assert "Action: delivered" in status and "Status: 2.0.0" in status
    assert any(subject.encode() in m for m in mailbox(server, BOB, PASSWORD))


def test_without_notify_success_a_delivery_is_not_reported(server: RunningServer) -> None:
    subject = "no news is good news"
    _send(server, subject, {BOB: ["NOTIFY=FAILURE"]}, [])
    assert any(subject.encode() in m for m in mailbox(server, BOB, PASSWORD))
    assert _reports(server, subject) == []


def test_a_failure_with_ret_full_returns_the_message_with_envid_and_orcpt(
        server: RunningServer, smarthost: Smarthost) -> None:
    subject = "refused with ret full"
    to = f"{REFUSED}@outside.example"
    _send(server, subject, {to: ["NOTIFY=FAILURE", f"ORCPT=rfc822;{REFUSED}+2Bold@x.example"]},
          ["RET=FULL", "ENVID=QQ+2B314"])
    wait_until(lambda: _reports(server, subject), 20, lambda: "no report")
    [report] = _reports(server, subject)
    status = _status(report)
    assert "Original-Envelope-Id: QQ+314" in status
    assert f"Original-Recipient: rfc822;{REFUSED}+old@x.example" in status
    assert "Action: failed" in status and "Status: 5.1.1" in status
    [returned] = [p for p in report.walk() if p.get_content_type() == "message/rfc822"]
    assert b"Hello." in returned.as_bytes()  # the body too


def test_notify_never_drops_a_failure_without_a_report_and_audits_it(
        server: RunningServer, smarthost: Smarthost) -> None:
    subject = "refused and never told"
    to = f"{REFUSED}-never@outside.example"
    _send(server, subject, {to: ["NOTIFY=NEVER"]}, [])

    def audited() -> list[dict[str, object]]:
        entries = json.loads(server.cli("audit", "--json").stdout)
        return [e for e in entries if e["action"] == "queue.bounce"
                and e["recipients"][0]["address"] == to]

    wait_until(audited, 20, lambda: "no audit entry")
    [entry] = audited()
    assert entry["returned"] is False and entry["not_told"] == [to]
    assert _reports(server, subject) == []


def test_a_next_hop_without_dsn_means_a_relayed_report_when_success_was_asked(
        server: RunningServer, smarthost: Smarthost) -> None:
    subject = "relayed without dsn"
    _send(server, subject, {"carol@outside.example": ["NOTIFY=SUCCESS"]}, ["ENVID=r1"])
    wait_until(lambda: _reports(server, subject), 20, lambda: "no report")
    [report] = _reports(server, subject)
    status = _status(report)
    assert "Action: relayed" in status and "Original-Envelope-Id: r1" in status
    assert "Diagnostic-Code" not in status  # the reason is ours, no remote's reply
    assert [r[1] for r in smarthost.arrived(subject)] == [["carol@outside.example"]]


def test_a_next_hop_with_dsn_gets_the_parameters_and_no_report_is_made(
        server: RunningServer, dsn_smarthost: Smarthost) -> None:
    subject = "relayed with dsn"
    _send(server, subject, {"dave@outside.example": ["NOTIFY=SUCCESS,DELAY",
                                                     "ORCPT=rfc822;dave@outside.example"]},
          ["RET=HDRS", "ENVID=xyz+2B1"])
    wait_until(lambda: dsn_smarthost.arrived(subject), 20, lambda: "not relayed")
    assert f"FROM:<{ALICE}> RET=HDRS ENVID=xyz+2B1" in dsn_smarthost.commands
    assert ("TO:<dave@outside.example> NOTIFY=SUCCESS,DELAY "
            "ORCPT=rfc822;dave@outside.example") in dsn_smarthost.commands
    wait_until(lambda: json.loads(server.cli("queue", "list", "--json").stdout) == [], 10,
               lambda: "still queued")
    assert _reports(server, subject) == []


def _attempts(server: RunningServer, to: str) -> int:
    entries = json.loads(server.cli("queue", "list", "--json").stdout)
    return max([int(r["attempts"]) for e in entries for r in e["recipients"]
                if r["address"] == to] or [0])


def test_a_message_still_waiting_gets_its_sender_one_delayed_report(
        server: RunningServer, smarthost: Smarthost) -> None:
    subject = "waits a while"
    warned, quiet = "erin@outside.example", "fred@outside.example"
    smarthost.tempfail = True
    try:
        _send(server, subject, {warned: ["NOTIFY=DELAY,FAILURE"], quiet: ["NOTIFY=FAILURE"]},
              ["ENVID=wait-1"])
        wait_until(lambda: _reports(server, subject), 20, lambda: "no delayed report")
        wait_until(lambda: _attempts(server, warned) >= 5, 30, lambda: "too few attempts")
        [report] = _reports(server, subject)  # once, though it was tried again since
    finally:
        smarthost.tempfail = False
    assert report["Subject"] == "Delayed Mail (still being retried)"
    status = _status(report)
    assert f"Final-Recipient: rfc822; {warned}" in status
    assert quiet not in status  # its NOTIFY left DELAY out
    assert "Action: delayed" in status and "Status: 4.3.0" in status
    assert "Will-Retry-Until: " in status and "Original-Envelope-Id: wait-1" in status

    def relayed_to() -> list[str]:  # the retry that meets the end of the 4xx may split them
        return sorted(r for arrival in smarthost.arrived(subject) for r in arrival[1])

    wait_until(lambda: relayed_to() == [warned, quiet], 20, lambda: f"relayed: {relayed_to()}")
    assert len(_reports(server, subject)) == 1  # delivered later: nothing more to say
