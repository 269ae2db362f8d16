"""argon2id password hashing with the configured cost (same default as Dovecot's ARGON2ID).

Hashes are made with argon2-cffi. Verification, the cost of every sign-in not answered from
the gate's cache, goes through libsodium (PyNaCl) when it can: its argon2id is the one
Dovecot uses, with the CPU's vector instructions, measured about 1.6-1.9x as fast as
argon2-cffi's portable build on the same hash. libsodium verifies only one lane
(parallelism 1, the default); other hashes stay with argon2-cffi.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from nacl import pwhash
from nacl.exceptions import InvalidkeyError

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
        stored = password_hash or self._dummy or ""
        if _one_lane_argon2id(stored):
            try:
                return pwhash.verify(stored.encode(), password.encode("utf-8", "surrogatepass")
                                     ) and bool(password_hash)
            except InvalidkeyError:
                return False
        try:
            return self._hasher.verify(stored, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def _one_lane_argon2id(stored: str) -> bool:
    """An argon2id PHC string with parallelism 1 (`$argon2id$v=19$m=..,t=..,p=1$...`)."""
    parts = stored.split("$")
    return (len(parts) == 6 and parts[1] == "argon2id" and parts[2] == "v=19"
            and parts[3].split(",")[-1] == "p=1")


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if password.strip() != password or "\n" in password or "\x00" in password:
        raise WeakPassword("password must not start or end with spaces or contain line breaks")
