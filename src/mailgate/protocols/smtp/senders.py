"""Who a submission claims to be from: the envelope sender and the From: header must be
the signed-in account's own address (a stolen account cannot send as the dean)."""

from __future__ import annotations

import email.parser
import email.policy
import email.utils

from mailgate.protocols.smtp import replies
from mailgate.protocols.smtp.addresses import shown


def header_block(content: bytes) -> bytes:
    """The header section of a message (everything before the first empty line)."""
    end = content.find(b"\r\n\r\n")
    if content.startswith(b"\r\n"):
        return b""
    return content if end < 0 else content[:end + 2]


def envelope_refusal(sender: str, own: str) -> str | None:
    """The reply refusing MAIL FROM, unless it is the account's own address."""
    if sender.lower() == own:
        return None
    return replies.sender_not_yours("" if sender == "<>" else shown(sender), own)


def from_refusal(content: bytes, own: str) -> str | None:
    """The reply refusing a message whose From: names anyone but the account."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        header_block(content))
    values = [str(v) for v in headers.get_all("From", [])]
    if not values:
        return replies.NO_FROM_HEADER
    for _, address in email.utils.getaddresses(values):
        if address.lower() != own:
            return replies.from_not_yours(shown(address or "?"), own)
    return None
