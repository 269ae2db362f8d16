"""Which folders a durable blob write syncs: the blob's own folder always, and the parents of
the fan-out folders the write had to create (else a crash could lose a new folder's name and
every message acknowledged in it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgate.store import blobs
from mailgate.store.blobs import BlobStore


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    monkeypatch.setattr(blobs, "sync_directory", calls.append)
    return calls


def test_a_write_into_new_fan_out_folders_syncs_their_parents(tmp_path: Path,
                                                               synced: list[Path]) -> None:
    store = BlobStore(tmp_path / "blobs")
    digest = store.write(b"first message\r\n")
    folder = store.path(digest).parent
    assert synced == [folder, folder.parent, store.root]
    assert store.read(digest) == b"first message\r\n"


def test_a_write_into_existing_folders_syncs_only_its_own(tmp_path: Path,
                                                          synced: list[Path]) -> None:
    store = BlobStore(tmp_path / "blobs")
    first = store.write(b"one\r\n")
    same_top = next(f"{n}\r\n".encode() for n in range(10_000)
                    if BlobStore.digest(f"{n}\r\n".encode())[:2] == first[:2]
                    and BlobStore.digest(f"{n}\r\n".encode())[2:4] != first[2:4])
    synced.clear()
    second = store.write(same_top)
    assert synced == [store.path(second).parent, store.path(second).parent.parent]
    synced.clear()
    store.write(b"one\r\n")  # already stored: nothing written, nothing synced
    assert synced == []


def test_a_bulk_write_leaves_syncing_to_the_caller(tmp_path: Path, synced: list[Path]) -> None:
    store = BlobStore(tmp_path / "blobs")
    store.write(b"imported\r\n", durable=False)
    assert synced == []
