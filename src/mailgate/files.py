"""Files written durably: the octets fsynced before the name that shows them, then the
directory that holds the name (message files, queued messages, key files)."""

from __future__ import annotations

import os
from pathlib import Path


def write_new(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write `data` to `path` (created or truncated, mode 0600), fsynced unless `sync` is
    False (the caller then syncs a whole batch itself)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def sync_directory(path: Path) -> None:
    """Make the names created, renamed or removed in the directory `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
