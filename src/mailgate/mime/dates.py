"""The Date header as a point in time plus the sender's zone (IMAP SEARCH SENT*, SORT DATE)."""

from __future__ import annotations

from email.utils import mktime_tz, parsedate_tz

MAX_OFFSET_MINUTES = 24 * 60
_YEARS = range(1, 10000)


def sent_date(value: str | None) -> tuple[float, int] | None:
    """``(UTC timestamp, zone offset in minutes)`` of an RFC 5322 date, or None.

    A missing zone, ``-0000`` and an offset of a day or more count as UTC.  Anything that
    is not a date at all gives None; callers then fall back to the internal date, as
    RFC 5256 does for SORT.
    """
    if not value:
        return None
    try:
        parts = parsedate_tz(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parts is None or parts[0] not in _YEARS:
        return None
    offset_seconds = parts[9] or 0
    if abs(offset_seconds) >= MAX_OFFSET_MINUTES * 60:
        offset_seconds = 0
    try:
        stamp = mktime_tz((*parts[:9], offset_seconds))
    except (OverflowError, ValueError):
        return None
    return float(stamp), offset_seconds // 60
