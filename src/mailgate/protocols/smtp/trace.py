"""Trace headers prepended to a message on arrival (RFC 5321 §4.4, RFC 3848)."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime

from mailgate.protocols.smtp.addresses import shown

_HELO_UNSAFE = re.compile(r"[^A-Za-z0-9.\-_:\[\]]")


def with_name(kind: str, tls: bool, authenticated: bool) -> str:
    """ESMTP, ESMTPS, ESMTPA, ESMTPSA, LMTP... (RFC 3848)."""
    return f"{kind}{'S' if tls else ''}{'A' if authenticated else ''}"


def received(*, helo: str, peer: str, hostname: str, protocol: str, queue_id: str,
             recipient: str | None, when: datetime) -> bytes:
    """The Received: header for one arrival; `recipient` only when there is exactly one."""
    client = _HELO_UNSAFE.sub("?", helo)[:100] or "unknown"
    lines = [f"Received: from {client} ([{_HELO_UNSAFE.sub('?', peer)}])",
             f"\tby {hostname} (mailgate) with {protocol} id {queue_id}"]
    if recipient is not None:
        lines.append(f"\tfor <{shown(recipient)}>")
    lines[-1] += f"; {email.utils.format_datetime(when)}"
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def return_path(sender: str) -> bytes:
    """Return-Path: the envelope sender, added at final delivery (`<>` for bounces)."""
    return f"Return-Path: <{shown(sender)}>\r\n".encode()
