"""Text from outside (user names, display names, reasons, notes, subjects) made harmless.

Unsafe are the characters that can drive a terminal or a log viewer instead of being read:
C0 controls (ESC, CR, LF, ...), DEL, C1 controls, the Unicode bidi controls (U+061C,
U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the line/paragraph separators U+2028 and
U+2029. Stored names refuse them (`first_unsafe`); printed text shows them as visible escapes
(`visible`: ESC -> `\\x1b`, U+202E -> `\\u202e`), and JSON keeps them as `\\u` escapes
(`json_text`), so it stays valid JSON and round-trips the original string.
"""

from __future__ import annotations

import json
import re
from typing import Any

_NOT_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[\x00-\x1f{_NOT_C0}]")
#: What `json.dumps(ensure_ascii=False)` leaves raw (it escapes C0 itself; its indentation
#: newlines must stay).
_RAW_IN_JSON = re.compile(f"[{_NOT_C0}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every unsafe character shown as an escape, so it prints as one inert line."""
    return UNSAFE.sub(_escape, text)


def first_unsafe(text: str) -> str | None:
    """The first unsafe character of `text`, or None when it is plain text."""
    found = UNSAFE.search(text)
    return found.group() if found else None


def json_text(value: Any, indent: int | None = 2) -> str:
    """JSON text (UTF-8 kept readable) in which no string holds a raw unsafe character."""
    dumped = json.dumps(value, indent=indent, ensure_ascii=False, default=str)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
