"""The bounce sent back to a sender: a delivery status notification (RFC 3464) as a
multipart/report (RFC 6522) with a sentence for people, the machine-readable status of each
failed recipient, and the header of the message that was not delivered."""

from __future__ import annotations

import email.utils
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_UNSAFE = re.compile(r"[^\x20-\x7e]")
EXPIRED = "4.4.7"


@dataclass(frozen=True)
class Failure:
    """One recipient the message did not reach, and why."""

    recipient: str
    reason: str  # the remote's reply, or what went wrong here
    status: str  # the enhanced status code (RFC 3463)
    remote: bool  # the reason is an SMTP reply from the remote


def permanent(recipient: str, reason: str, remote: bool = True) -> Failure:
    found = _ENHANCED.search(reason)
    status = found[1] if found and found[1].startswith("5") else "5.0.0"
    return Failure(recipient, reason, status, remote)


def expired(recipient: str, last_error: str) -> Failure:
    return Failure(recipient, last_error or "no attempt succeeded", EXPIRED, False)


def _when(at: float) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(at).astimezone())


def _safe(text: str) -> str:
    return _UNSAFE.sub("?", text)[:900]


def header_section(message: bytes) -> bytes:
    end = message.find(b"\r\n\r\n")
    return message if end < 0 else message[:end + 2]


def report(*, hostname: str, sender: str, failures: list[Failure], original: bytes,
           queue_id: str, arrived_at: float, now: float) -> bytes:
    """The whole bounce message, CRLF line ends."""
    boundary = f"=_{uuid.uuid4().hex}"
    lifetime_over = any(f.status == EXPIRED for f in failures)
    human = ["This is the mail system at " + _safe(hostname) + ".", "",
             "Your message could not be delivered to these recipients"
             + (" before its time in the queue ran out:" if lifetime_over else ":"), ""]
    for f in failures:
        human += [f"<{_safe(f.recipient)}>: {_safe(f.reason)}"]
    human += ["", "Its header follows this report."]
    status = [f"Reporting-MTA: dns; {_safe(hostname)}",
              f"X-Mailgate-Queue-ID: {queue_id}",
              f"Arrival-Date: {_when(arrived_at)}", ""]
    for f in failures:
        status += [f"Final-Recipient: rfc822; {_safe(f.recipient)}",
                   "Action: failed", f"Status: {f.status}"]
        if f.remote:
            status.append(f"Diagnostic-Code: smtp; {_safe(f.reason)}")
        status += [f"Last-Attempt-Date: {_when(now)}", ""]
    head = [f"From: Mail Delivery System <MAILER-DAEMON@{_safe(hostname)}>",
            f"To: <{_safe(sender)}>",
            "Subject: Undelivered Mail Returned to Sender",
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
            "Content-Type: text/rfc822-headers", ""]
    return ("\r\n".join(head) + "\r\n").encode() + header_section(original) + (
        f"\r\n--{boundary}--\r\n").encode()
