"""`mailgate import`: bring in a Dovecot-layout Maildir (folders and flags kept) or an mbox."""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mailgate import mime
from mailgate.directory.views import account_row
from mailgate.mime import mbox
from mailgate.service import Service
from mailgate.store.blobs import BlobStore
from mailgate.store.folders import SPECIAL_ALIASES
from mailgate.store.messages import Incoming, blob_store, store_prepared, write_message

MAILDIR_FLAGS = {"S": "\\Seen", "R": "\\Answered", "F": "\\Flagged", "T": "\\Deleted",
                 "D": "\\Draft"}
BATCH = 500
PROCESS_POOL_FROM = 2000  # messages; measured: 10 000 import in 7.5 s with processes, 12.9 s
                          # with threads; below ~2 000 the processes' start-up dominates
EXPECTED = ("expected a Maildir (a folder with cur/, new/ and tmp/) or an mbox file (whose "
            "first line starts with 'From ')")


@dataclass(frozen=True)
class Source:
    """One message — a file, or the bytes of an mbox entry — and the folder it goes to."""

    folder: str
    content: str | bytes  # a path to read, or the message itself
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
            sources.append(Source(name, path, _flags(filename, keywords),
                                  os.stat(path).st_mtime))
    return sources


def mbox_sources(path: Path, folder: str) -> list[Source]:
    return [Source(folder, m, (), None) for m in mime.split_mbox(path.read_bytes())]


def _starts_like_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return mbox.looks_like_mbox(f.read(mbox.HEAD_BYTES))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None


def sources_for(path: Path, folder: str = "INBOX") -> list[Source]:
    """What to import from `path`; ValueError, before anything is read in, when it is neither
    a Maildir nor an mbox file."""
    if path.is_dir():
        if not ((path / "cur").is_dir() or (path / "new").is_dir()):
            raise ValueError(f"{path} is a folder without cur/ or new/ inside: {EXPECTED}")
        return maildir_sources(path)
    if path.is_file():
        if not _starts_like_mbox(path):
            raise ValueError(f"{path} does not start with a 'From ' line: {EXPECTED}")
        return mbox_sources(path, folder)
    raise ValueError(f"{path} does not exist")


def _prepare(blob_root: str, limit: int, content: str | bytes
             ) -> tuple[str, mime.ParsedMessage]:
    """In a worker process: read, normalise, parse and write one blob (synced later)."""
    raw = Path(content).read_bytes() if isinstance(content, str) else content
    digest, _, parsed = write_message(BlobStore(Path(blob_root)), limit, raw, durable=False)
    return digest, parsed


def _pool(count: int) -> Executor:
    """Processes for a real move-in (parsing is CPU-bound); threads when starting
    processes would cost more than they save."""
    if count < PROCESS_POOL_FROM:
        return ThreadPoolExecutor(max_workers=4)
    return ProcessPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, 8)),
                               mp_context=multiprocessing.get_context("spawn"))


def import_sources(svc: Service, address: str, sources: list[Source],
                   progress: Callable[[int], None] = lambda n: None) -> dict[str, int]:
    """Store every source. Worker processes (parsing is CPU-bound) write the blobs; one
    filesystem sync per batch makes them durable; then the batch's rows are committed."""
    with svc.reader.connect() as conn:
        account_id = int(account_row(conn, address).id)
    counts: dict[str, int] = {}
    store = blob_store(svc)
    prepare = functools.partial(_prepare, str(store.root),
                                int(svc.settings.get("storage", "max_message_bytes")))
    with _pool(len(sources)) as pool:
        # The workers run ahead (the next batch is written while this one commits).
        results = zip(sources, pool.map(prepare, (s.content for s in sources), chunksize=16),
                      strict=True)
        while batch := list(itertools.islice(results, BATCH)):
            store.sync()  # every blob of the batch is on disk before any row points at it
            by_folder: dict[str, list] = {}  # type: ignore[type-arg]
            for source, (digest, parsed) in batch:
                by_folder.setdefault(source.folder, []).append(
                    (digest, parsed, Incoming(b"", source.flags, source.internal_date)))
            now = svc.clock()
            with svc.engine.begin() as conn:
                for folder, items in by_folder.items():
                    store_prepared(conn, account_id, folder, items, now, create_folder=True)
                    counts[folder] = counts.get(folder, 0) + len(items)
            progress(len(batch))
    return counts
