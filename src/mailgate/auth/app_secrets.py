"""App password secrets: made at random, stored as a keyed hash (HMAC-SHA256).

An app password is 20 random characters from a 32-letter alphabet (100 bits), shown once as
five groups of four. With that much entropy a slow hash such as argon2id adds nothing against
guessing, while it would cost every polling device 64 MiB and tens of milliseconds per
sign-in; HMAC-SHA256 with a server key (`DIR/app-passwords.key`, mode 0600, outside the
database) is as safe and lets the gate find the app password by its hash in one indexed
read: a database dump alone cannot even test a guess. A secret is compared without its dashes
and spaces and in lower case, so it can be typed as shown or run together.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from mailgate.auth.key_file import load_or_create

KEY_NAME = "app-passwords.key"
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no l, o, 0, 1: nothing to misread
GROUPS, GROUP_SIZE = 5, 4


def generate(groups: int = GROUPS) -> str:
    """A new secret, e.g. `k7wd-9fxq-...`: the last word of what `create` prints (5 bits a
    letter; MFA recovery codes are shorter, `groups` of four)."""
    letters = [secrets.choice(ALPHABET) for _ in range(groups * GROUP_SIZE)]
    return "-".join("".join(letters[i:i + GROUP_SIZE])
                    for i in range(0, len(letters), GROUP_SIZE))


def normalised(secret: str) -> str:
    return secret.replace("-", "").replace(" ", "").lower()


class AppSecretKey:
    """The HMAC key of one data directory, made on first use and read once."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / KEY_NAME
        self._key: bytes | None = None

    def mac(self, secret: str) -> str:
        """The stored form of a secret (as typed: dashes, spaces and case do not matter)."""
        if self._key is None:
            self._key = load_or_create(self._path, "app password key")
        return hmac.new(self._key, normalised(secret).encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()
