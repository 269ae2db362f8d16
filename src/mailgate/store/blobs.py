"""Content-addressed message files, written durably: temp file, fsync, rename, fsync dir
(and the parents of a fan-out folder the write created, so that its name lasts too)."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
from pathlib import Path

from mailgate.files import sync_directory, write_new


class BlobStore:
    """Messages as files named by the SHA-256 of their CRLF bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    @staticmethod
    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def write(self, data: bytes, digest: str | None = None, durable: bool = True) -> str:
        """Store data and return its digest once it is on disk (idempotent).

        durable=False skips the per-file fsync: the caller must call `sync()` before it
        makes the blob visible (a bulk import syncs once per batch instead of per file).
        """
        digest = digest or self.digest(data)
        target = self.path(digest)
        if target.exists():
            return digest
        new_folders: list[Path] = []
        if not target.parent.is_dir():
            new_folders = [folder for folder in (target.parent.parent, target.parent)
                           if not folder.is_dir()]
            target.parent.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / f"{digest}.{os.getpid()}.{id(data)}"
        write_new(tmp, data, sync=durable)
        os.replace(tmp, target)
        if durable:
            sync_directory(target.parent)
            for folder in reversed(new_folders):  # a new folder's own name, in its parent
                sync_directory(folder.parent)
        return digest

    def sync(self) -> None:
        """Make every blob written so far durable: one syncfs(2) for the whole store."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _LIBC is None or _LIBC.syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def read(self, digest: str) -> bytes:
        fd = os.open(f"{self.root}/{digest[:2]}/{digest[2:4]}/{digest}", os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, size)
            while len(data) < size:  # a short read: keep going
                chunk = os.read(fd, size - len(data))
                if not chunk:
                    break
                data += chunk
            return data
        finally:
            os.close(fd)

    def read_range(self, digest: str, start: int, end: int) -> bytes:
        """Bytes [start:end) of a message: one seek and read, whatever its size."""
        if end <= start:
            return b""
        fd = os.open(f"{self.root}/{digest[:2]}/{digest[2:4]}/{digest}", os.O_RDONLY)
        try:
            data = os.pread(fd, end - start, start)
            while len(data) < end - start:  # a short read: keep going
                chunk = os.pread(fd, end - start - len(data), start + len(data))
                if not chunk:
                    break
                data += chunk
            return data
        finally:
            os.close(fd)

    def remove(self, digest: str) -> None:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            pass


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.syncfs  # noqa: B018 - Linux only; elsewhere os.sync() does the job
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()
