"""POP3 on the wire: reply lines, and a stored message as the body of a RETR or TOP answer.

A body has CRLF line ends, is dot-stuffed (RFC 1939 §3) and ends in CRLF, without the
terminating ".CRLF" (the core appends it). Large messages pass through with at most one copy
when they need stuffing, and none when they do not.
"""

from __future__ import annotations

import re

_LONE_LF = re.compile(rb"(?<!\r)\n")


def reply_line(text: str) -> bytes:
    """A status or listing line as sent: UTF-8, ending in CRLF."""
    return text.encode("utf-8") + b"\r\n"


def multiline_body(message: bytes, top_lines: int | None = None, crlf: bool = False) -> bytes:
    """`message` (or its headers plus `top_lines` body lines) ready to send.

    crlf=True: the caller guarantees CRLF line ends (mailgate's store does), so the scan
    for bare LFs — the costliest step on a large message — is skipped.
    """
    if not crlf and message.count(b"\n") != message.count(b"\r\n"):
        message = _LONE_LF.sub(b"\r\n", message)
    if top_lines is not None:
        message = _top(message, top_lines)
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    message = message.replace(b"\r\n.", b"\r\n..")
    if message.startswith(b"."):
        message = b"." + message
    return message


def _top(message: bytes, lines: int) -> bytes:
    """The header block, the blank line, and the first `lines` lines of the body."""
    if message.startswith(b"\r\n"):
        position = 2
    else:
        blank = message.find(b"\r\n\r\n")
        if blank == -1:
            return message
        position = blank + 4
    for _ in range(lines):
        line_end = message.find(b"\r\n", position)
        if line_end == -1:
            return message
        position = line_end + 2
    return message[:position]
