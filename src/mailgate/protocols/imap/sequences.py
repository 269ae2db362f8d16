"""Sequence sets: message numbers or UIDs as a client writes them (RFC 9051 §9, RFC 5182).

`1:3,5`, `1:*`, `*:5`, `7`, or `$` (the result saved by the last `SEARCH RETURN (SAVE)`).
Zero is invalid, numbers are at most 2^32 - 1 and a set holds at most `MAX_RANGES` ranges,
so a parsed set is small whatever the client sent.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from mailgate.protocols.imap.reader import MAX_NUMBER, CommandSyntaxError

MAX_RANGES: Final = 65536
_CACHED_TEXT: Final = 32


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A set as written: `ranges` of (first, last) with None for "*"; `saved` for "$".

    A single number n is the range (n, n); a range may be written backwards ("5:1").
    Call `resolve(largest)` with the largest message number (or UID) to get concrete
    ranges; "$" must first be replaced by the saved search result (it has no ranges).
    """

    ranges: tuple[tuple[int | None, int | None], ...] = ()
    saved: bool = False

    def __str__(self) -> str:
        if self.saved:
            return "$"
        return ",".join(
            _number(first) if first == last else f"{_number(first)}:{_number(last)}"
            for first, last in self.ranges
        )

    @property
    def uses_star(self) -> bool:
        return any(None in pair for pair in self.ranges)

    def resolve(self, largest: int) -> tuple[tuple[int, int], ...]:
        """Sorted, merged, inclusive (low, high) ranges, "*" read as `largest`.

        Ranges are not clipped at `largest` (a UID set may name UIDs that do not exist;
        a message-number set beyond the mailbox is the caller's BAD); with `largest == 0`
        "*" names nothing.
        """
        if self.saved:
            raise ValueError("resolve the saved search result ($) before the set")
        ordered = sorted(
            (min(low, high), max(low, high))
            for low, high in (
                (largest if first is None else first, largest if last is None else last)
                for first, last in self.ranges
            )
            if max(low, high) >= 1
        )
        merged: list[tuple[int, int]] = []
        for low, high in ordered:
            low = max(low, 1)
            if merged and low <= merged[-1][1] + 1:
                if high > merged[-1][1]:
                    merged[-1] = (merged[-1][0], high)
            else:
                merged.append((low, high))
        return tuple(merged)


SAVED_RESULT: Final = SequenceSet(saved=True)


def parse_sequence_set(text: bytes, *, allow_saved: bool = True) -> SequenceSet:
    """The set `text` spells (the characters of one sequence-set token)."""
    if text == b"$":
        if not allow_saved:
            raise CommandSyntaxError("$ is not allowed here")
        return SAVED_RESULT
    return _parse_short(text) if len(text) <= _CACHED_TEXT else _parse(text)


@functools.lru_cache(maxsize=256)
def _parse_short(text: bytes) -> SequenceSet:
    """`_parse`, cached: clients repeat short sets ("1:*") and sets are immutable."""
    return _parse(text)


def _parse(text: bytes) -> SequenceSet:
    items = text.split(b",")
    if len(items) > MAX_RANGES:
        raise CommandSyntaxError("sequence set too long")
    ranges = []
    for item in items:
        first, colon, last = item.partition(b":")
        start = _seq_number(first)
        ranges.append((start, _seq_number(last) if colon else start))
    return SequenceSet(tuple(ranges))


def _seq_number(text: bytes) -> int | None:
    if text == b"*":
        return None
    if not text.isdigit() or len(text) > 10 or text.startswith(b"0"):
        raise CommandSyntaxError("invalid sequence set")
    value = int(text)
    if value > MAX_NUMBER:
        raise CommandSyntaxError("invalid sequence set")
    return value


def _number(value: int | None) -> str:
    return "*" if value is None else str(value)
