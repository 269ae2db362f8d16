"""Durations as operators write them (SPEC §10): `90s`, `15m`, `12h`, `7d`."""

from __future__ import annotations

import pytest

from mailgate.durations import parse_duration


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("15m", 900), ("12h", 43200), ("7d", 604800), ("2w", 1209600),
    (" 1h ", 3600), ("1 h", 3600),
])
def test_number_with_unit_is_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "0m", "0s", "", "h", "15", "1.5h", "-1h", "1hh",
                                  "15 minutes", "1H"])
def test_bad_duration_is_refused_with_an_example(text):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    message = str(info.value)
    assert f"'{text}'" in message and "90s, 15m, 12h, 7d" in message
    assert "\n" not in message
