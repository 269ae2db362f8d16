"""Secret key files of a data directory (`app-passwords.key`, `mfa.key`): 32 random bytes as
64 hex digits in a file of mode 0600, outside the database, made on first use.

The first process to need a missing key writes it to a temporary name, fsyncs it and links it
into place; a process that loses that race reads the winner's key, so every process of the
data directory uses the same one. A file that is not a key is a one-line error for the
operator: mailgate never replaces a key, since whatever it protects would be lost with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from mailgate.files import sync_directory, write_new

KEY_BYTES = 32


class KeyFileError(Exception):
    """A key file cannot be read or is not a key; the message is one line for the operator."""


def load_or_create(path: Path, what: str) -> bytes:
    """The key in `path` (described to the operator as `what`), made if there is none."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write_new(tmp, (secrets.token_bytes(KEY_BYTES).hex() + "\n").encode("ascii"))
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(tmp, path)
        tmp.unlink()
        sync_directory(path.parent)
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise KeyFileError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"{path} is not a {what} (expected 64 hex digits); restore it "
                           "from a backup")
    return key
