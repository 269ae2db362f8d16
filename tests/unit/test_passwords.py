"""argon2id verification: libsodium for one-lane hashes, argon2-cffi for the rest, same answers."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from mailgate.auth.passwords import Passwords

PASSWORD = "correct-horse-battery"
CHEAP = {"time_cost": 1, "memory_kib": 64}


@pytest.mark.parametrize("parallelism", [1, 2])
def test_the_right_password_and_only_it_verifies(parallelism: int) -> None:
    passwords = Passwords(parallelism=parallelism, **CHEAP)
    stored = passwords.hash(PASSWORD)
    assert f",p={parallelism}$" in stored
    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD + "!")
    assert not passwords.verify(stored, "")


def test_dovecot_style_hashes_verify_whatever_cost_they_name() -> None:
    other = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1, type=Type.ID)
    passwords = Passwords(**CHEAP)
    assert passwords.verify(other.hash(PASSWORD), PASSWORD)
    assert not passwords.verify(other.hash(PASSWORD), "wrong-password")


@pytest.mark.parametrize("stored", [None, "", "garbage", "$argon2id$v=19$m=8,t=1,p=1$xx$yy",
                                    "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"])
def test_unknown_accounts_and_damaged_hashes_are_refused(stored: str | None) -> None:
    assert not Passwords(**CHEAP).verify(stored, PASSWORD)


def test_a_password_that_is_not_valid_unicode_is_refused_not_raised() -> None:
    passwords = Passwords(**CHEAP)
    assert not passwords.verify(passwords.hash(PASSWORD), "bad\udcffsurrogate")
