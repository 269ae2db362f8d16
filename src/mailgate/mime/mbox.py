"""Splitting mbox files into messages and removing a leading mbox ``From `` line.

A separator is a line ``From <sender>`` optionally followed by a date that contains a
``hh:mm`` time, as written by mail delivery agents (``From user@host  Fri Feb 22
17:06:23 2008``), Netscape/Thunderbird (``From - Wed Sep 11 08:47:00 1996``, ``From -``)
and Gmail exports (``From 1844347792267117879@xxx``).  Body lines such as ``From Russia
with love`` have more words but no time, so unescaped ("unmunged") ``From `` lines in
bodies are not mistaken for separators.  No blank line is required before a separator.

Message bytes are kept exactly as found: ``>From `` quoting is not undone and the
blank line that precedes the next separator stays with the message before it (as
Dovecot's imaptest does when it appends an mbox file).
"""

import re

_BOM = b"\xef\xbb\xbf"
_SEPARATOR = re.compile(
    rb"^From [^ \t\r\n]+(?:[ \t]+[^\r\n]*?\d{1,2}:\d{2}[^\r\n]*)?[ \t]*\r?(?:\n|\Z)",
    re.MULTILINE,
)


def looks_like_mbox(start: bytes) -> bool:
    """Whether a file starting with these bytes is an mbox: its first line (after a UTF-8
    byte order mark) is a ``From `` line. `HEAD_BYTES` of the file are enough."""
    return start.removeprefix(_BOM).startswith(b"From ")


HEAD_BYTES = len(_BOM) + len(b"From ")


def split_mbox(data: bytes) -> list[bytes]:
    """Split an mbox file into messages, dropping the ``From `` separator lines.

    A UTF-8 byte order mark at the start of the file is skipped.  Text before the
    first separator (there should be none) is returned as a message unless it is
    blank; empty messages are skipped.  Line endings are not changed: call
    ``to_crlf`` on each message before ``parse``.
    """
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    separators = list(_SEPARATOR.finditer(data))
    ends = [match.start() for match in separators[1:]] + [len(data)]
    messages = [data[match.end() : end] for match, end in zip(separators, ends, strict=False)]
    leading = data[: separators[0].start()] if separators else data
    if leading.strip():
        messages.insert(0, leading)
    return [message for message in messages if message]


def strip_from_line(raw: bytes) -> bytes:
    """Remove a leading mbox ``From `` line, if there is one; otherwise return ``raw``.

    A first line ``From:`` or ``From :`` is a header field and is kept.
    """
    if not raw.startswith(b"From "):
        return raw
    if raw[5:].lstrip(b" \t").startswith(b":"):
        return raw
    eol = raw.find(b"\n")
    return b"" if eol < 0 else raw[eol + 1 :]
