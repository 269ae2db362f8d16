"""The queued messages' files, named by queue id, beside the message files (`blobs/outbound`).

Written like a message file (temp file, fsync, rename, fsync of the folder) before the queue
rows that name it are committed; a file whose rows never committed is an orphan, harmless.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mailgate.files import sync_directory, write_new
from mailgate.service import Service

_QUEUE_ID = re.compile(r"[0-9a-f]{8,32}")


class Spool:
    """One folder of queued messages."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, svc: Service) -> Spool:
        return cls(svc.settings.blob_dir / "outbound")

    def path(self, queue_id: str) -> Path:
        if not _QUEUE_ID.fullmatch(queue_id):
            raise ValueError(f"not a queue id: {queue_id!r}")
        return self.root / queue_id

    def write(self, queue_id: str, data: bytes) -> None:
        """Put the message on disk durably (returns once fsynced)."""
        target = self.path(queue_id)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{queue_id}.{os.getpid()}.tmp"
        write_new(tmp, data)
        os.replace(tmp, target)
        sync_directory(self.root)

    def read(self, queue_id: str) -> bytes:
        return self.path(queue_id).read_bytes()

    def remove(self, queue_id: str) -> None:
        try:
            self.path(queue_id).unlink()
        except FileNotFoundError:
            pass
