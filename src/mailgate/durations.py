"""Durations as operators write them: `90s`, `15m`, `12h`, `7d`."""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> int:
    """Seconds in a duration such as `15m`; ValueError with a clear message otherwise."""
    match = PATTERN.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid duration '{text}': use a number with a unit, e.g. 90s, 15m, "
                         "12h, 7d")
    return int(match.group(1)) * UNITS[match.group(2)]
