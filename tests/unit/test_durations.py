"""Durations as operators write them (SPEC §10): `90s`, `15m`, `12h`, `7d`."""

from __future__ import annotations

import pytest

from mailgate.durations import MAX_SECONDS, parse_duration


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("15m", 900), ("12h", 43200), ("7d", 604800), ("2w", 1209600),
    ("0001h", 3600), ("3650d", MAX_SECONDS), ("521w", 521 * 604800),
])
def test_number_with_unit_is_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [
    "5x", "0m", "0s", "000d", "", "h", "15", "1.5h", "-1h", "+5m", "1_0m", "1hh",
    "15 minutes", "1H", " 1h ", "1 h", "1h\n", "\t1h", "\u0663d", "\uff11h", "1\u00a0h",
])
def test_bad_duration_is_refused_with_an_example(text):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    message = str(info.value)
    assert repr(text) in message and "90s, 15m, 12h, 7d" in message
    assert "\n" not in message and "\t" not in message


@pytest.mark.parametrize("text", ["3651d", "522w", "87601h", "99999999999999999999d",
                                  "9" * 5000 + "s"])
def test_a_duration_beyond_ten_years_is_refused_with_the_limit(text):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value).endswith("is too long: at most 3650d (about 10 years)")
