"""The reports sent back to a sender: delivery status notifications (RFC 3464) as a
multipart/report (RFC 6522) with a sentence for people, the machine-readable status of each
recipient, and the header of the message (the whole message in a failure report when the
sender asked with RET=FULL, RFC 3461). Failures and delays go back unless the sender's
NOTIFY left them out; a delivery or a relaying only when it asked with NOTIFY=SUCCESS."""

from __future__ import annotations

import email.utils
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_UNSAFE = re.compile(r"[^\x20-\x7e]")
_REPLY = re.compile(r"[2-5]\d\d[ -]")  # an SMTP reply, as transport.reply_text writes it
EXPIRED = "4.4.7"


FAILED, DELAYED, DELIVERED, RELAYED = "failed", "delayed", "delivered", "relayed"
_SAID = {FAILED: "Your message could not be delivered to these recipients",
         DELAYED: "Your message has not been delivered yet to these recipients; it will be "
                  "tried again, and you will be told if it fails for good",
         DELIVERED: "Your message was delivered to these recipients",
         RELAYED: "Your message was passed on to a mail system that does not report "
                  "deliveries, for these recipients"}


@dataclass(frozen=True)
class Notice:
    """What became of the message for one recipient (`action`: failed unless said
    otherwise), and why."""

    recipient: str
    reason: str  # the remote's reply, or what went wrong here
    status: str  # the enhanced status code (RFC 3463)
    remote: bool  # the reason is an SMTP reply from the remote
    action: str = FAILED
    original: str = ""  # ORCPT as given with RCPT (`rfc822;address`), when it was
    retry_until: float | None = None  # delayed: when the queue gives up (Will-Retry-Until)


def permanent(recipient: str, reason: str) -> Notice:
    """A 5xx from the remote (its reply starts with the code), or a failure found here
    (no mail host for the domain, ...): only a remote's reply is a Diagnostic-Code."""
    return Notice(recipient, reason, _status(reason, "5"), _REPLY.match(reason) is not None)


def _status(reason: str, kind: str) -> str:
    """The enhanced status code of `kind` (4 or 5) the reason gives, else `kind`.0.0."""
    found = _ENHANCED.search(reason)
    return found[1] if found and found[1].startswith(kind) else f"{kind}.0.0"


def expired(recipient: str, last_error: str) -> Notice:
    return Notice(recipient, last_error or "no attempt succeeded", EXPIRED, False)


def delayed(recipient: str, reason: str, retry_until: float, original: str = "") -> Notice:
    """Not delivered yet: the last attempt's answer (a 4xx, no answer) and when the queue
    gives up."""
    return Notice(recipient, reason, _status(reason, "4"), _REPLY.match(reason) is not None,
                  DELAYED, original, retry_until)


def delivered(recipient: str, original: str = "") -> Notice:
    return Notice(recipient, "delivered to the mailbox", "2.0.0", False, DELIVERED, original)


def relayed(recipient: str, reason: str, original: str = "") -> Notice:
    """Passed to a next hop that reports nothing; `reason` is ours, not its reply."""
    return Notice(recipient, reason, "2.0.0", False, RELAYED, original)


def _when(at: float) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(at).astimezone())


def _safe(text: str) -> str:
    return _UNSAFE.sub("?", text)[:900]


def header_section(message: bytes) -> bytes:
    end = message.find(b"\r\n\r\n")
    return message if end < 0 else message[:end + 2]


def _subject(told: list[Notice]) -> str:
    actions = {f.action for f in told}
    if FAILED in actions:
        return "Undelivered Mail Returned to Sender"
    if DELAYED in actions:
        return "Delayed Mail (still being retried)"
    return "Successful Mail Delivery Report"


def report(*, hostname: str, sender: str, notices: list[Notice], original: bytes,
           queue_id: str, arrived_at: float, now: float, envelope_id: str = "",
           whole: bool = False) -> bytes:
    """The whole report, CRLF line ends; `whole` returns the entire original in a failure
    report (RET=FULL), `envelope_id` is the sender's ENVID."""
    boundary = f"=_{uuid.uuid4().hex}"
    lifetime_over = any(f.status == EXPIRED for f in notices)
    failed = any(f.action == FAILED for f in notices)
    whole = whole and failed
    human = ["This is the mail system at " + _safe(hostname) + "."]
    for action, said in _SAID.items():
        told = [f for f in notices if f.action == action]
        if told:
            ending = " before its time in the queue ran out:" if (
                action == FAILED and lifetime_over) else ":"
            human += ["", said + ending, ""]
            human += [f"<{_safe(f.recipient)}>: {_safe(f.reason)}" for f in told]
    human += ["", "It follows this report." if whole else "Its header follows this report."]
    status = [*([f"Original-Envelope-Id: {_safe(envelope_id)}"] if envelope_id else []),
              f"Reporting-MTA: dns; {_safe(hostname)}",
              f"X-Mailgate-Queue-ID: {queue_id}",
              f"Arrival-Date: {_when(arrived_at)}", ""]
    for f in notices:
        if f.original:
            status.append(f"Original-Recipient: {_safe(f.original)}")
        status += [f"Final-Recipient: rfc822; {_safe(f.recipient)}",
                   f"Action: {f.action}", f"Status: {f.status}"]
        if f.remote:
            status.append(f"Diagnostic-Code: smtp; {_safe(f.reason)}")
        status.append(f"Last-Attempt-Date: {_when(now)}")
        if f.retry_until is not None:
            status.append(f"Will-Retry-Until: {_when(f.retry_until)}")
        status.append("")
    head = [f"From: Mail Delivery System <MAILER-DAEMON@{_safe(hostname)}>",
            f"To: <{_safe(sender)}>",
            "Subject: " + _subject(notices),
            f"Date: {_when(now)}",
            f"Message-ID: <{queue_id}.{uuid.uuid4().hex[:8]}@{_safe(hostname)}>",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status;",
            f'\tboundary="{boundary}"', "",
            "This is a MIME-encapsulated delivery status notification.", "",
            f"--{boundary}",
            "Content-Type: text/plain; charset=us-ascii", "", *human, "",
            f"--{boundary}",
            "Content-Type: message/delivery-status", "", *status,
            f"--{boundary}",
            "Content-Type: message/rfc822" if whole else "Content-Type: text/rfc822-headers",
            ""]
    returned = original if whole else header_section(original)
    if whole and not returned.endswith(b"\r\n"):
        returned += b"\r\n"
    return ("\r\n".join(head) + "\r\n").encode() + returned + (
        f"\r\n--{boundary}--\r\n").encode()
