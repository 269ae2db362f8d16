"""The MFA key, `DIR/mfa.key` (mode 0600, outside the database, made on first use): what a
copy of the database alone cannot use.

- A TOTP secret is stored sealed with AES-256-GCM under a key derived from it, bound to its
  account id (the associated data), so a database thief gets no secret that makes codes, and
  one who can write the database cannot move a secret from one account to another.
- A recovery code is stored as HMAC-SHA256 under another derived key, not argon2id: a code has
  80 random bits, so a slow hash adds nothing against guessing, the keyed hash lets a code be
  found in one indexed read, and a database dump alone cannot even test a guess.
- The WebAuthn user handle of an account is derived from it too: stable, random-looking,
  never the address (WebAuthn asks that it reveal nothing about the user).

Losing the key makes every TOTP secret unreadable and every recovery code unknown: keep it
with the audit key in backups, and give every node of a cluster the same file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailgate.auth import app_secrets
from mailgate.auth.key_file import KeyFileError, load_or_create

KEY_NAME = "mfa.key"
NONCE_BYTES = 12
USER_HANDLE_BYTES = 16


class MfaKey:
    """The MFA key of one data directory, read once, when first needed."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / KEY_NAME
        self._key: bytes | None = None

    def _derived(self, purpose: str) -> bytes:
        if self._key is None:
            self._key = load_or_create(self._path, "MFA key")
        return hmac.new(self._key, purpose.encode("ascii"), hashlib.sha256).digest()

    def seal(self, account_id: int, secret: str) -> bytes:
        """A TOTP secret as stored: nonce, then ciphertext and tag."""
        nonce = os.urandom(NONCE_BYTES)
        cipher = AESGCM(self._derived("totp-secret"))
        return nonce + cipher.encrypt(nonce, secret.encode("ascii"), _bound(account_id))

    def unseal(self, account_id: int, sealed: bytes) -> str:
        cipher = AESGCM(self._derived("totp-secret"))
        try:
            plain = cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                   _bound(account_id))
        except InvalidTag:
            raise KeyFileError(f"a TOTP secret of account {account_id} does not open with "
                               f"{self._path}: was the key replaced? Restore it from a backup, "
                               "or reset the account's MFA") from None
        return plain.decode("ascii")

    def recovery_mac(self, code: str) -> str:
        """The stored form of a recovery code (as typed: dashes, spaces and case do not
        matter)."""
        return hmac.new(self._derived("recovery-code"),
                        app_secrets.normalised(code).encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()

    def user_handle(self, account_id: int) -> bytes:
        """The account's WebAuthn user handle."""
        return hmac.new(self._derived("webauthn-user"), str(account_id).encode("ascii"),
                        hashlib.sha256).digest()[:USER_HANDLE_BYTES]


def _bound(account_id: int) -> bytes:
    return f"mailgate totp account {account_id}".encode("ascii")
