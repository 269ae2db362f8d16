"""Received bytes split into command lines: CRLF or bare LF, partial lines, a length cap.

A line longer than the cap is reported once as `TOO_LONG` and the rest of it is discarded as
it arrives, so memory stays bounded whatever the client sends, and the outcome is the same
however the bytes were chunked.
"""

from __future__ import annotations

from typing import Final


class TooLong:
    """The marker for a line over the cap."""

    def __repr__(self) -> str:
        return "TOO_LONG"


TOO_LONG: Final = TooLong()

_COMPACT_AT = 4096


class LineBuffer:
    """Bytes waiting to become lines."""

    __slots__ = ("_data", "_discarding", "_start")

    def __init__(self) -> None:
        self._data = bytearray()
        self._start = 0
        self._discarding = False

    def __len__(self) -> int:
        return len(self._data) - self._start

    def feed(self, data: bytes) -> None:
        self._data += data

    def clear(self) -> None:
        """Drop everything buffered (used when TLS starts: plaintext must not survive it)."""
        self._data.clear()
        self._start = 0
        self._discarding = False

    def startswith(self, prefix: bytes) -> bool:
        """Whether the pending line starts with `prefix`, ASCII case-insensitively."""
        end = self._start + len(prefix)
        return self._data[self._start : end].upper() == prefix

    def skip_discarded(self) -> bool:
        """Drop the rest of an over-long line; True once the next line starts in the buffer.

        Call it before choosing the limit for `next_line` (which may peek at the line).
        """
        return not self._discarding or self._skip_line()

    def next_line(self, limit: int) -> bytes | TooLong | None:
        """The next line without its line end, `TOO_LONG`, or None when incomplete.

        `limit` caps the line's content, not counting CRLF/LF.
        """
        if not self.skip_discarded():
            return None
        newline = self._data.find(b"\n", self._start, self._start + limit + 2)
        if newline == -1:
            if len(self) <= limit + 1:  # content so far plus a possible trailing CR
                return None
            self._skip_line()
            return TOO_LONG
        line = self._data[self._start : newline]
        self._consume(newline + 1)
        if line.endswith(b"\r"):
            del line[-1]
        if len(line) > limit:
            return TOO_LONG
        return bytes(line)

    def _skip_line(self) -> bool:
        """Discard up to and including the next LF; True once the LF was found."""
        newline = self._data.find(b"\n", self._start)
        if newline == -1:
            self.clear()
            self._discarding = True
            return False
        self._discarding = False
        self._consume(newline + 1)
        return True

    def _consume(self, end: int) -> None:
        if end >= len(self._data):
            self._data.clear()
            self._start = 0
        elif end >= _COMPACT_AT and end * 2 >= len(self._data):
            del self._data[:end]
            self._start = 0
        else:
            self._start = end
