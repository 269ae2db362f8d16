"""Sets of UIDs as a door hands them to the store, and their exact SQL condition.

The door resolves `*` and message sequence numbers against its own view of the selected
folder (a sequence range maps to the UID range between its ends) and passes UID ranges.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_

from mailgate.store.errors import SearchUnsupported
from mailgate.store.sql import literal_in

MAX_UID = 0xFFFFFFFF
SHORT_RANGE = 64  # a range this short is listed UID by UID in one IN (...)
MAX_SQL_RANGES = 256  # longer ranges become OR'd BETWEENs; more than this is refused


@dataclass(frozen=True)
class UidSet:
    """Inclusive UID ranges, sorted and merged."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, items: Iterable[int | tuple[int, int]]) -> UidSet:
        """From UIDs and (first, last) ranges in any order; `5:2` is `2:5` (RFC 9051 §9)."""
        spans = sorted((min(i), max(i)) if isinstance(i, tuple) else (i, i) for i in items)
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            lo, hi = max(lo, 1), min(hi, MAX_UID)
            if lo > hi:
                continue
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return cls(tuple(merged))

    @classmethod
    def everything(cls) -> UidSet:
        return cls(((1, MAX_UID),))

    def __contains__(self, uid: object) -> bool:
        if not isinstance(uid, int):
            return False
        at = bisect.bisect_right(self.ranges, (uid, MAX_UID + 1)) - 1
        return at >= 0 and self.ranges[at][0] <= uid <= self.ranges[at][1]

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def condition(self, column: ColumnElement[int]) -> ColumnElement[bool]:
        """SQL true exactly for the UIDs in the set: short ranges in one literal IN list
        (no bound-parameter limit), long ones as BETWEENs."""
        short = [uid for lo, hi in self.ranges if hi - lo < SHORT_RANGE
                 for uid in range(lo, hi + 1)]
        long = [(lo, hi) for lo, hi in self.ranges if hi - lo >= SHORT_RANGE]
        if len(long) > MAX_SQL_RANGES:
            raise SearchUnsupported(f"a UID set of more than {MAX_SQL_RANGES} long ranges")
        terms = [column.between(lo, hi) for lo, hi in long]
        if short:
            terms.append(column.in_(literal_in(short)))
        return or_(*terms) if terms else false()
