"""The SMTP doors' own small parts: enhanced codes, recipient names, trace headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailgate.protocols.smtp import replies, trace
from mailgate.protocols.smtp.addresses import candidates, problem
from mailgate.protocols.smtp.senders import envelope_refusal, from_refusal


@pytest.mark.parametrize(("line", "expected"), [
    ("250 OK", "250 2.0.0 OK"),
    ("503 Error: need RCPT command", "503 5.5.1 Send RCPT TO first"),
    ('500 Error: command "FOO" not recognized', '500 5.5.2 Error: command "FOO" not recognized'),
    ("502 EXPN not implemented", "502 5.5.1 EXPN not implemented"),
    ("250 2.1.5 Recipient OK", "250 2.1.5 Recipient OK"),
    ("354 End data with <CR><LF>.<CR><LF>", "354 End data with <CR><LF>.<CR><LF>"),
    ("334 VXNlcm5hbWU6", "334 VXNlcm5hbWU6"),
    ("220 host ESMTP mailgate", "220 host ESMTP mailgate"),
])
def test_every_reply_gets_an_enhanced_code_but_prompts_and_greeting(line: str,
                                                                     expected: str) -> None:
    assert replies.with_enhanced_code(line) == expected


def test_size_refusals_name_the_limit() -> None:
    line = replies.too_big_for("552 Error: Too much mail data", 1000)
    assert line == "552 5.3.4 Message too big: the limit is 1000 bytes"


def test_sub_addresses_reach_the_base_account_after_the_exact_one() -> None:
    assert candidates("Pat+News@Example.Test") == ["pat+news@example.test", "pat@example.test"]
    assert candidates("pat@example.test") == ["pat@example.test"]
    assert candidates("+x@example.test") == ["+x@example.test"]
    assert candidates("not an address") == []


def test_address_characters() -> None:
    assert problem("jos\u00e9@example.test", smtputf8=False) == "ascii"
    assert problem("jos\u00e9@example.test", smtputf8=True) is None
    assert problem("\udcff@example.test", smtputf8=True) == "utf8"


def test_received_never_carries_what_a_client_injects() -> None:
    header = trace.received(helo="evil\r\nBcc: everyone@example.test", peer="192.0.2.1",
                            hostname="mx.example.test", protocol="ESMTPS", queue_id="q1",
                            recipient="pat@example.test\r\nX: y",
                            when=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert header.count(b"\r\n") == 3 and b"\r\nBcc" not in header and b"\r\nX:" not in header
    assert header.startswith(b"Received: from evil??Bcc:?everyone?example.test ([")
    assert header.endswith(b"for <pat@example.test??X:?y>; Fri, 02 Jan 2026 03:04:05 +0000\r\n")


def test_from_header_must_be_the_account() -> None:
    own = "pat@example.test"
    assert from_refusal(b"From: Pat <PAT@example.test>\r\n\r\nhi\r\n", own) is None
    assert from_refusal(b"Subject: x\r\n\r\nFrom: pat@example.test\r\n", own) == (
        replies.NO_FROM_HEADER)
    refusal = from_refusal(b"From: pat@example.test, dean@example.test\r\n\r\n", own)
    assert refusal is not None and refusal.startswith("550 5.7.1") and "dean" in refusal


def test_the_envelope_sender_must_be_the_account_and_the_null_sender_shows_as_such() -> None:
    own = "pat@example.test"
    assert envelope_refusal("PAT@example.test", own) is None
    assert envelope_refusal("<>", own) == (
        "553 5.7.1 <> is not your address: send as <pat@example.test>")
    assert envelope_refusal("dean@example.test", own) == (
        "553 5.7.1 <dean@example.test> is not your address: send as <pat@example.test>")
