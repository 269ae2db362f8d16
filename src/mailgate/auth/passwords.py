"""argon2id password hashing with the configured cost (same default as Dovecot's ARGON2ID)."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 8


class WeakPassword(ValueError):
    """A new password that does not meet the minimum standard."""


class Passwords:
    """Hash and verify passwords; verify a dummy hash for unknown accounts (constant time)."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 1) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy: str | None = None  # made by prepare_for_unknown_accounts()

    def prepare_for_unknown_accounts(self) -> None:
        """Make the dummy hash that unknown accounts are verified against, once. The gate
        does it when it is built, so that the first unknown sign-in costs no more than a
        wrong password; CLI commands, which never verify one, do not pay for it."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("mailgate-dummy-password-for-unknown-accounts")

    def hash(self, password: str) -> str:
        check_strength(password)
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when the password matches; unknown accounts (None) cost the same time."""
        if not password_hash:
            self.prepare_for_unknown_accounts()
        try:
            return self._hasher.verify(password_hash or self._dummy or "", password) and bool(
                password_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if password.strip() != password or "\n" in password or "\x00" in password:
        raise WeakPassword("password must not start or end with spaces or contain line breaks")
