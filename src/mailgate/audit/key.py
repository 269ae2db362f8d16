"""The audit log's secret key: `DIR/audit.key`, outside the database.

The chain is keyed (HMAC-SHA256) with 32 random bytes kept as 64 hex digits in a file of
mode 0600 that only the server's user reads. Whoever can write the database but not read
this file cannot recompute the chain. A missing or unreadable key is a one-line error;
mailgate never makes a new key for a log that already has one (`audit.seal` decides).

A new key is first written as `audit.key.new` and renamed to `audit.key` only after the
database sealed with it has committed, so a crash in between leaves no key that matches
nothing (see `AuditKey.pending`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from mailgate.files import sync_directory

KEY_NAME = "audit.key"


class AuditKeyError(Exception):
    """The audit key is missing, unreadable or wrong; the message is one line for the operator."""


class AuditKeyMissing(AuditKeyError):
    """There is no key file (yet)."""


def _parse(path: Path, text: str) -> bytes:
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise AuditKeyError(f"{path} is not a mailgate audit key (expected 64 hex digits); "
                            "restore the file from a backup")
    return secret


@dataclass
class AuditKey:
    """The key file of one data directory; the secret is read once, when first needed."""

    path: Path
    _secret: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, data_dir: Path) -> AuditKey:
        return cls(data_dir / KEY_NAME)

    @property
    def pending(self) -> Path:
        return self.path.with_name(self.path.name + ".new")

    def exists(self) -> bool:
        return self.path.exists()

    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = self._read(self.path)
        return self._secret

    def _read(self, path: Path) -> bytes:
        try:
            text = path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            raise AuditKeyMissing(f"the audit key {path} is missing") from None
        except OSError as exc:
            raise AuditKeyError(f"cannot read the audit key {path} ({exc.strerror or exc}): "
                                "run mailgate as the user that owns the data directory") from None
        return _parse(path, text)

    def read_pending(self) -> bytes | None:
        """The key a sealing left behind before it could be renamed into place, if any."""
        try:
            return self._read(self.pending)
        except AuditKeyError:
            return None

    def write_pending(self) -> bytes:
        """A new random key, durably written as `audit.key.new` (mode 0600)."""
        secret = secrets.token_bytes(32)
        self.pending.unlink(missing_ok=True)
        fd = os.open(self.pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret.hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        sync_directory(self.path.parent)
        return secret

    def install_pending(self, secret: bytes) -> None:
        """`audit.key.new` becomes `audit.key` (never replacing an existing key)."""
        try:
            os.link(self.pending, self.path)  # fails if a key is there already
        except FileExistsError:
            if self._read(self.path) != secret:  # another process finished this sealing
                raise AuditKeyError(f"{self.path} appeared while this log was being keyed "
                                    "with another key; run 'mailgate audit verify'") from None
        self.pending.unlink(missing_ok=True)
        sync_directory(self.path.parent)
        self._secret = secret

    def discard_pending(self) -> None:
        self.pending.unlink(missing_ok=True)
