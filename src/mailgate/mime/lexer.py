"""A scanner for structured header field bodies (RFC 5322 §3.2, RFC 2045 §5.1).

It works on *raw* strings: header bytes decoded as Latin-1, one character per byte, so
byte-exact values such as MIME boundaries survive and 8-bit bytes count as atom text.
``headers.to_text`` turns a raw string into real text for output.
"""

import re

_WSP = re.compile(r"[ \t\r\n]+")
_COMMENT_STOP = re.compile(r"[()\\]")
_QUOTED_STOP = re.compile(r'["\\]')
# RFC 2045 token: atext without the tspecials "/", "=" and "?", plus "."; 8-bit allowed.
_MIME_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~\x80-\xff]+")
# RFC 5322 atext; 8-bit allowed.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]+")


class Scanner:
    """A cursor over one raw header value with RFC 5322 lexical helpers."""

    __slots__ = ("end", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.end = len(text)

    def at(self, chars: str) -> bool:
        """True if the next character is one of ``chars``."""
        return self.pos < self.end and self.text[self.pos] in chars

    def skip_cfws(self) -> None:
        """Skip whitespace and (nested) comments."""
        while True:
            match = _WSP.match(self.text, self.pos)
            if match is not None:
                self.pos = match.end()
            if not self.at("("):
                return
            self.skip_comment()

    def skip_comment(self) -> None:
        """Skip one comment starting at ``pos`` (which must be at ``(``)."""
        text = self.text
        index = self.pos
        depth = 0
        while True:
            match = _COMMENT_STOP.search(text, index)
            if match is None:  # unterminated: the comment runs to the end
                self.pos = self.end
                return
            found = match.start()
            if text[found] == "\\":
                index = found + 2
                continue
            depth += 1 if text[found] == "(" else -1
            index = found + 1
            if depth == 0:
                self.pos = index
                return

    def token(self) -> str:
        """Read a MIME token (possibly empty)."""
        return self._read(_MIME_TOKEN)

    def atom(self) -> str:
        """Read an RFC 5322 atom (possibly empty)."""
        return self._read(_ATOM)

    def _read(self, pattern: re.Pattern[str]) -> str:
        match = pattern.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()

    def quoted(self) -> tuple[str, bool]:
        """Read a quoted string at ``pos``; return its unescaped content and whether it closed."""
        text = self.text
        chunks: list[str] = []
        start = index = self.pos + 1
        while True:
            match = _QUOTED_STOP.search(text, index)
            if match is None:
                chunks.append(text[start:])
                self.pos = self.end
                return "".join(chunks), False
            found = match.start()
            chunks.append(text[start:found])
            if text[found] == '"':
                self.pos = found + 1
                return "".join(chunks), True
            start = found + 1  # keep the escaped character, drop the backslash
            index = found + 2
