"""Message authentication and sending limits against a real `mailgate serve`: submitted mail
leaves DKIM-signed, inbound mail from a domain in (loopback, fake) DNS gets the expected
Authentication-Results, and a compromised-then-restored account past its plan's sending
limit is refused with 4.7.1 and leaves an audit event."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from dns_stub import DnsStub
from live_server import RunningServer
from smtp_clients import at_once, mailbox, message, serving, split_trace, tls

from mailgate.mail_auth import dkimkeys
from mailgate.mail_auth.signing import signed

PASSWORD = "correct-horse-battery"
ALICE, BOB, MALLORY = "alice@example.test", "bob@example.test", "mallory@example.test"
OUTSIDE = "news@sender.example"


def _txt(value: str) -> str:
    return " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))


@pytest.fixture(scope="module")
def outside_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dkimkeys.SigningKey]:
    keys = tmp_path_factory.mktemp("outside-keys")
    return keys, dkimkeys.generate(keys, "sender.example", "s1")


@pytest.fixture(scope="module")
def stub(outside_key: tuple[Path, dkimkeys.SigningKey]) -> Iterator[DnsStub]:
    _, key = outside_key
    running = DnsStub({
        ("sender.example", "TXT"): [_txt("v=spf1 ip4:127.0.0.0/8 -all")],
        ("_dmarc.sender.example", "TXT"): [_txt("v=DMARC1; p=reject")],
        ("s1._domainkey.sender.example", "TXT"): [_txt(dkimkeys.txt_value(key))],
        ("elsewhere.example", "TXT"): [_txt("v=spf1 ip4:192.0.2.0/24 -all")],
    })
    yield running
    running.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, stub: DnsStub) -> Iterator[RunningServer]:
    env = {"MAILGATE_SERVER_NAMESERVERS": stub.address}
    for running in serving(tmp_path_factory.mktemp("smtp-auth") / "data", env):
        at_once((running.account, ALICE, PASSWORD), (running.account, BOB, PASSWORD),
                (running.account, MALLORY, PASSWORD))
        yield running


def _submit(server: RunningServer, sender: str, password: str, to: list[str],
            subject: str) -> None:
    client = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=tls(server),
                              timeout=10)
    client.login(sender, password)
    client.sendmail(sender, to, message(sender, ", ".join(to), subject))
    client.quit()


def test_dkim_generate_and_a_signed_submission_verifies(server: RunningServer) -> None:
    made = server.cli("dkim", "generate", "example.test", "--selector", "mg1")
    record = made.stdout.strip()
    assert record.startswith("mg1._domainkey.example.test. IN TXT ( \"v=DKIM1; k=rsa; p=")
    key_file = server.data / "dkim" / "example.test" / "mg1.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    published = "".join(part for part in record.split('"')[1::2]).encode()

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        return published if name.rstrip(b".") == b"mg1._domainkey.example.test" else None

    _submit(server, ALICE, PASSWORD, [BOB], "signed on the way out")
    stored = next(m for m in mailbox(server, BOB, PASSWORD) if b"signed on the way out" in m)
    _, content = split_trace(stored)
    assert content.startswith(b"DKIM-Signature: ") and b"d=example.test" in content[:400]
    assert dkim.verify(content, dnsfunc=dnsfunc)
    sent = [m for m in mailbox(server, ALICE, PASSWORD, "Sent") if b"signed on the way" in m]
    assert sent and dkim.verify(sent[0], dnsfunc=dnsfunc)


def _inbound(server: RunningServer, sender: str, raw: bytes) -> None:
    client = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
    client.ehlo("mx.sender.example")
    client.sendmail(sender, [BOB], raw)
    client.quit()


def _auth_results(server: RunningServer, subject: bytes) -> tuple[str, bytes]:
    stored = next(m for m in mailbox(server, BOB, PASSWORD) if subject in m)
    fields, rest = split_trace(stored)
    [ours] = [f for f in fields if f.startswith(b"Authentication-Results:")]
    return ours.decode(), rest


def test_inbound_mail_gets_authentication_results_from_dns(
        server: RunningServer, outside_key: tuple[Path, dkimkeys.SigningKey]) -> None:
    keys, _ = outside_key
    forged = b"Authentication-Results: localhost; dkim=pass header.d=sender.example\r\n"
    raw = signed(message(OUTSIDE, BOB, "weekly news"), "sender.example", keys)
    _inbound(server, OUTSIDE, forged + raw)
    ours, rest = _auth_results(server, b"weekly news")
    assert ours == ("Authentication-Results: localhost;\r\n"
                    "\tspf=pass smtp.mailfrom=news@sender.example;\r\n"
                    f"\tdkim=pass header.d=sender.example header.s=s1 header.b={_b(raw)};\r\n"
                    "\tdmarc=pass (p=reject) header.from=sender.example\r\n")
    assert rest == raw  # the forged header claiming our name is gone, the rest untouched

    spoof = message(OUTSIDE, BOB, "spoofed news")
    _inbound(server, "bounce@elsewhere.example", spoof)
    ours, _ = _auth_results(server, b"spoofed news")
    assert "spf=fail smtp.mailfrom=bounce@elsewhere.example" in ours
    assert "dkim=none" in ours and "dmarc=fail (p=reject) header.from=sender.example" in ours


def _b(raw: bytes) -> str:
    value = raw.split(b" b=", 1)[1].split(b"\r\n\r\n")[0]
    return b"".join(value.split()).decode()[:8]


def test_a_restored_account_past_its_sending_limit_is_refused_and_audited(
        server: RunningServer) -> None:
    server.cli("plan", "sending", "standard", "--messages-per-hour", "3",
               "--recipients-per-hour", "4")
    server.cli("account", "compromise", MALLORY, "--reason", "phished")
    server.cli("account", "restore", MALLORY, "--password-stdin", "--note", "new password",
               stdin="another good password\n")
    client = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=tls(server),
                              timeout=10)
    client.login(MALLORY, "another good password")
    client.sendmail(MALLORY, [ALICE], message(MALLORY, ALICE, "one"))
    client.sendmail(MALLORY, [ALICE, BOB], message(MALLORY, ALICE, "two"))
    client.mail(MALLORY)
    assert client.rcpt(ALICE)[0] == 250
    code, text = client.rcpt(BOB)
    assert (code, text.decode()) == (451, "4.7.1 Sending limit reached: your account may "
                                          "send to at most 4 recipients per hour; try again "
                                          "later")
    client.data(message(MALLORY, ALICE, "three"))
    code, text = client.mail(MALLORY)
    assert code == 451 and b"at most 3 messages per hour" in text
    client.quit()

    audit = json.loads(server.cli("audit", "--account", MALLORY, "--json").stdout)
    refusals = [e for e in audit if e["action"] == "send.limit"]
    assert [e["limit"] for e in refusals] == ["recipients_per_hour"]  # once per connection
    assert len([e for e in audit if e["action"] == "send"]) == 3
    assert len([m for m in mailbox(server, ALICE, PASSWORD) if b"Subject: t" in m
                or b"Subject: one" in m]) == 3


def test_a_plan_without_sent_copy(server: RunningServer) -> None:
    shown = server.cli("plan", "sending", "standard", "--sent-copy", "off", "--json")
    assert json.loads(shown.stdout)["sent_copy"] is False
    _submit(server, BOB, PASSWORD, [ALICE], "no copy kept")
    assert not [m for m in mailbox(server, BOB, PASSWORD, "Sent") if b"no copy kept" in m]
    assert [m for m in mailbox(server, ALICE, PASSWORD) if b"no copy kept" in m]
    server.cli("plan", "sending", "standard", "--sent-copy", "on")
