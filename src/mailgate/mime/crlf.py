"""Line-ending normalisation: every message is stored with CRLF line endings."""

import re

_ANY_EOL = re.compile(rb"\r\n?|\n")


def to_crlf(raw: bytes) -> bytes:
    """Normalise line endings: every bare LF or bare CR becomes CRLF; existing CRLF stays.

    Everything else is kept byte for byte (NULs, 8-bit bytes, BOMs).  A missing final
    line ending stays missing.  The function is idempotent.
    """
    crlf = raw.count(b"\r\n")
    cr = raw.count(b"\r")
    if crlf == cr and crlf == raw.count(b"\n"):
        return raw
    if cr == 0:
        return raw.replace(b"\n", b"\r\n")
    return _ANY_EOL.sub(b"\r\n", raw)
