"""Durations as operators write them: `90s`, `15m`, `12h`, `7d` (and `2w`).

One parser for the CLI's `--for` and the configuration keys that take durations: ASCII digits
and a unit, nothing else (no sign, no spaces, no `_`, no other scripts' digits), at least one
second and at most `MAX_DAYS` days.
"""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PATTERN = re.compile(r"([0-9]+)([smhdw])")
MAX_DAYS = 3650
MAX_SECONDS = MAX_DAYS * UNITS["d"]


def parse_duration(text: str) -> int:
    """Seconds in a duration such as `15m`; ValueError with a clear one-line message otherwise."""
    match = PATTERN.fullmatch(text)
    digits = match.group(1).lstrip("0") if match else ""
    if match is None or not digits:
        raise ValueError(f"invalid duration {text!r}: use a number with a unit, e.g. 90s, 15m, "
                         "12h, 7d")
    if len(digits) > len(str(MAX_SECONDS)) or int(digits) * UNITS[match.group(2)] > MAX_SECONDS:
        raise ValueError(f"duration {text!r} is too long: at most {MAX_DAYS}d (about 10 years)")
    return int(digits) * UNITS[match.group(2)]
