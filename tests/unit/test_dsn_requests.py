"""DSN requests (RFC 3461): MAIL's RET and ENVID, RCPT's NOTIFY and ORCPT, taken out of a
command's parameters, checked, and said again to a next hop; and the reports they ask for."""

from __future__ import annotations

import email

import pytest

from mailgate.outbound import bounce
from mailgate.protocols.smtp import dsn
from mailgate.protocols.smtp.dsn import DsnSyntaxError


def test_mail_parameters_keep_the_others_in_order_and_the_envid_as_given() -> None:
    rest, request = dsn.message_request("SIZE=10 ret=hdrs BODY=8BITMIME ENVID=Ab+2Bc")
    assert rest == "SIZE=10 BODY=8BITMIME"
    assert request == dsn.MessageRequest("HDRS", "Ab+2Bc")
    assert request.envelope_id == "Ab+c"
    assert request.words() == ["RET=HDRS", "ENVID=Ab+2Bc"]
    assert dsn.message_request("") == ("", dsn.MessageRequest())


def test_recipient_parameters_and_what_they_ask() -> None:
    rest, request = dsn.recipient_request("notify=success,Failure ORCPT=rfc822;bob+2B1@ex.test")
    assert rest == ""
    assert request.notify == ("SUCCESS", "FAILURE")
    assert request.original == "rfc822;bob+1@ex.test"
    assert request.words() == ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob+2B1@ex.test"]
    assert request.wants(dsn.SUCCESS) and request.wants(dsn.FAILURE)
    assert not request.wants(dsn.DELAY)


def test_without_notify_a_failure_or_delay_is_told_and_a_success_is_not() -> None:
    _, request = dsn.recipient_request("")
    assert request.wants(dsn.FAILURE) and request.wants(dsn.DELAY)
    assert not request.wants(dsn.SUCCESS)
    _, never = dsn.recipient_request("NOTIFY=NEVER")
    assert not any(never.wants(e) for e in (dsn.FAILURE, dsn.DELAY, dsn.SUCCESS))


@pytest.mark.parametrize("params", [
    "RET=PARTIAL", "RET=", "RET", "RET=FULL RET=HDRS", "ENVID=" + "a" * 101, "ENVID=a=b",
    "ENVID=a+zz", "ENVID=caf\u00e9",
])
def test_bad_mail_parameters_are_refused(params: str) -> None:
    with pytest.raises(DsnSyntaxError):
        dsn.message_request(params)


@pytest.mark.parametrize("params", [
    "NOTIFY=NEVER,SUCCESS", "NOTIFY=SOMETIMES", "NOTIFY=SUCCESS,SUCCESS", "NOTIFY=",
    "ORCPT=bob@ex.test", "ORCPT=;bob@ex.test", "ORCPT=rfc822;", "ORCPT=rfc822;a=b",
    "ORCPT=rfc822;" + "a" * 500, "NOTIFY=NEVER NOTIFY=NEVER",
])
def test_bad_recipient_parameters_are_refused(params: str) -> None:
    with pytest.raises(DsnSyntaxError):
        dsn.recipient_request(params)


def _fields(raw: bytes) -> str:
    return raw.decode().split("message/delivery-status", 1)[1].split("\r\n--", 1)[0]


def test_a_failure_report_with_ret_full_returns_the_whole_message_and_the_ids() -> None:
    original = b"From: a@example.test\r\nSubject: hello\r\n\r\nthe body\r\n"
    raw = bounce.report(
        hostname="mx.example.test", sender="a@example.test",
        notices=[bounce.Notice("x@out.example", "550 5.1.1 no", "5.1.1", True,
                                original="rfc822;X@out.example")],
        original=original, queue_id="0123456789ab", arrived_at=0.0, now=1.0,
        envelope_id="my-id-7", whole=True)
    report = email.message_from_bytes(raw)
    kinds = [p.get_content_type() for p in report.get_payload()]  # type: ignore[union-attr]
    assert kinds == ["text/plain", "message/delivery-status", "message/rfc822"]
    assert raw.endswith(b"the body\r\n\r\n--" + report.get_boundary().encode() + b"--\r\n")
    fields = _fields(raw)
    assert "Original-Envelope-Id: my-id-7" in fields
    assert "Original-Recipient: rfc822;X@out.example\r\nFinal-Recipient: rfc822; x@out.example"\
        in fields
    assert report["Subject"] == "Undelivered Mail Returned to Sender"


def test_a_delivery_report_says_delivered_and_returns_only_the_header() -> None:
    original = b"From: a@example.test\r\nSubject: hello\r\n\r\nsecret body\r\n"
    raw = bounce.report(hostname="mx.example.test", sender="a@example.test",
                        notices=[bounce.delivered("b@example.test")], original=original,
                        queue_id="0123456789ab", arrived_at=0.0, now=1.0, whole=True)
    report = email.message_from_bytes(raw)
    assert report["Subject"] == "Successful Mail Delivery Report"
    assert "Action: delivered\r\nStatus: 2.0.0" in _fields(raw)
    assert "Diagnostic-Code" not in _fields(raw)
    assert b"secret body" not in raw and b"Subject: hello" in raw
    assert "was delivered to these recipients" in raw.decode()


def test_decoded_ids_cannot_add_lines_to_a_report() -> None:
    _, request = dsn.message_request("ENVID=a+0D+0ABcc:+20x@evil.example")
    _, recipient = dsn.recipient_request("ORCPT=rfc822;b+0D+0AAction:+20delivered")
    assert "\r\n" in request.envelope_id and "\r\n" in recipient.original
    raw = bounce.report(hostname="mx.example.test", sender="a@example.test",
                        notices=[bounce.delivered("b@example.test", recipient.original)],
                        original=b"Subject: x\r\n\r\n", queue_id="0123456789ab",
                        arrived_at=0.0, now=1.0, envelope_id=request.envelope_id)
    fields = _fields(raw)
    assert "Original-Envelope-Id: a??Bcc: x@evil.example\r\n" in fields
    assert "Original-Recipient: rfc822;b??Action: delivered\r\n" in fields
    assert fields.count("\r\nAction: ") == 1 and "\r\nBcc:" not in raw.decode()


def test_a_delay_report_says_when_the_queue_gives_up() -> None:
    raw = bounce.report(hostname="mx.example.test", sender="a@example.test",
                        notices=[bounce.delayed("x@out.example", "451 4.3.0 later", 86400.0),
                                 bounce.delayed("y@out.example", "connection refused", 86400.0)],
                        original=b"Subject: hello\r\n\r\nbody\r\n", queue_id="0123456789ab",
                        arrived_at=0.0, now=1.0, whole=True)
    report = email.message_from_bytes(raw)
    assert report["Subject"] == "Delayed Mail (still being retried)"
    fields = _fields(raw)
    assert fields.count("Action: delayed") == 2
    assert "Status: 4.3.0" in fields and "Status: 4.0.0" in fields
    assert fields.count("Will-Retry-Until: ") == 2
    assert fields.count("Diagnostic-Code: smtp; 451 4.3.0 later") == 1  # only the reply
    assert b"body" not in raw  # RET=FULL is for failures only
