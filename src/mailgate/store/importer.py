"""`mailgate import`: bring in a Dovecot-layout Maildir (folders and flags kept) or an mbox."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mailgate import mime
from mailgate.directory.views import account_row
from mailgate.service import Service
from mailgate.store.folders import SPECIAL_ALIASES
from mailgate.store.messages import Incoming, blob_store, prepare, store_prepared

MAILDIR_FLAGS = {"S": "\\Seen", "R": "\\Answered", "F": "\\Flagged", "T": "\\Deleted",
                 "D": "\\Draft"}
BATCH = 500


@dataclass(frozen=True)
class Source:
    """One message file (or mbox entry) and the folder it goes to."""

    folder: str
    load: Callable[[], bytes]
    flags: tuple[str, ...]
    internal_date: float | None


def folder_name(maildir_name: str) -> str:
    """Dovecot Maildir++ '.Projects.2026' -> 'Projects/2026'; special folders mapped to ours."""
    parts = maildir_name.lstrip(".").split(".")
    name = "/".join(parts)
    return SPECIAL_ALIASES.get(name.lower(), name) if len(parts) == 1 else name


def _keywords(folder: Path) -> dict[str, str]:
    """Dovecot's dovecot-keywords file: '0 $Label1' maps flag letter a to keyword 0."""
    path = folder / "dovecot-keywords"
    letters: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            index, _, word = line.partition(" ")
            if index.isdigit() and word and int(index) < 26:
                letters[chr(ord("a") + int(index))] = word
    return letters


def _flags(filename: str, keywords: dict[str, str]) -> tuple[str, ...]:
    _, sep, info = filename.rpartition(":2,")
    if not sep:
        return ()
    return tuple(MAILDIR_FLAGS.get(c) or keywords[c] for c in info
                 if c in MAILDIR_FLAGS or c in keywords)


def _maildir_folders(root: Path) -> Iterator[tuple[str, Path]]:
    yield "INBOX", root
    for entry in sorted(root.iterdir()):
        is_folder = entry.is_dir() and entry.name.startswith(".")
        if is_folder and ((entry / "cur").is_dir() or (entry / "new").is_dir()):
            yield folder_name(entry.name), entry


def maildir_sources(root: Path) -> list[Source]:
    sources = []
    for name, folder in _maildir_folders(root):
        keywords = _keywords(folder)
        files = []
        for sub in ("cur", "new"):
            if (folder / sub).is_dir():
                files += [(e.name, e.path, sub) for e in os.scandir(folder / sub) if e.is_file()]
        files.sort(key=lambda f: (f[0].split(".")[0].zfill(12), f[0]))
        for filename, path, _ in files:
            sources.append(Source(name, (lambda p=path: Path(p).read_bytes()),
                                  _flags(filename, keywords), os.stat(path).st_mtime))
    return sources


def mbox_sources(path: Path, folder: str) -> list[Source]:
    return [Source(folder, (lambda m=m: m), (), None)
            for m in mime.split_mbox(path.read_bytes())]


def sources_for(path: Path, folder: str = "INBOX") -> list[Source]:
    if path.is_dir():
        if not ((path / "cur").is_dir() or (path / "new").is_dir()):
            raise ValueError(f"{path} is not a Maildir (no cur/ or new/ inside)")
        return maildir_sources(path)
    if path.is_file():
        return mbox_sources(path, folder)
    raise ValueError(f"{path} does not exist")


def import_sources(svc: Service, address: str, sources: list[Source],
                   progress: Callable[[int], None] = lambda n: None) -> dict[str, int]:
    """Store every source: blobs written by a small thread pool, made durable with one
    filesystem sync per batch, then the batch's rows committed in one transaction."""
    with svc.reader.connect() as conn:
        account_id = int(account_row(conn, address).id)
    counts: dict[str, int] = {}
    store = blob_store(svc)

    def work(source: Source):  # type: ignore[no-untyped-def]
        raw = source.load()
        digest, _, parsed = prepare(svc, raw, durable=False)
        return source.folder, (digest, parsed, Incoming(b"", source.flags, source.internal_date))

    with ThreadPoolExecutor(max_workers=4) as pool:
        # The workers run ahead (the next batch is written while this one commits); their
        # results are small (digest + parsed structure), the message bytes are not kept.
        results = pool.map(work, sources)
        while batch := list(itertools.islice(results, BATCH)):
            store.sync()  # every blob of the batch is on disk before any row points at it
            by_folder: dict[str, list] = {}  # type: ignore[type-arg]
            for folder, item in batch:
                by_folder.setdefault(folder, []).append(item)
            now = svc.clock()
            with svc.engine.begin() as conn:
                for folder, items in by_folder.items():
                    store_prepared(conn, account_id, folder, items, now, create_folder=True)
                    counts[folder] = counts.get(folder, 0) + len(items)
            progress(len(batch))
    return counts
