"""Every message of the MIME corpora — the real-world one in ../shared/testdata/mime (skipped
without it) and the repository's own tests/fixtures/mime — is accepted by deliver/import and
kept as the original with CRLF line endings, otherwise byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mailgate import mime
from mailgate.db.schema import folders, messages
from mailgate.directory import accounts
from mailgate.directory.authority import Actor
from mailgate.service import Service
from mailgate.store import importer
from mailgate.store.messages import blob_store, deliver
from support import FIXTURES, shared_path

MIME = "testdata/mime"


def corpus(which: str) -> Path:
    """The repository's own fixtures ("own") or the real-world corpus beside it ("shared")."""
    return FIXTURES / "mime" if which == "own" else shared_path(MIME)


@pytest.fixture
def mailbox(sqlite_svc: Service) -> Service:
    accounts.create(sqlite_svc, Actor.system(), "mia@example.test", "correct-horse")
    return sqlite_svc


def test_corpus_is_present() -> None:
    shared = corpus("shared")
    assert len(list(shared.glob("*.eml"))) > 50 and len(list(shared.glob("*.mbox"))) > 5


@pytest.mark.parametrize("which", ["own", "shared"])
def test_every_eml_is_delivered_and_kept_byte_for_byte(mailbox: Service, which: str) -> None:
    store = blob_store(mailbox)
    emls = sorted(corpus(which).glob("*.eml"))
    assert emls
    for path in emls:
        raw = path.read_bytes()
        stored = deliver(mailbox, "mia@example.test", raw)
        kept = store.read(stored.digest)
        assert kept == mime.to_crlf(raw), path.name
        assert b"\n" not in kept.replace(b"\r\n", b""), path.name


@pytest.mark.parametrize("which", ["own", "shared"])
def test_every_mbox_imports_every_message_byte_for_byte(mailbox: Service, which: str) -> None:
    expected: list[bytes] = []
    for path in sorted(corpus(which).glob("*.mbox")):
        expected += [mime.to_crlf(part) for part in mime.split_mbox(path.read_bytes())]
        importer.import_sources(mailbox, "mia@example.test",
                                importer.mbox_sources(path, "Imported"))
    with mailbox.engine.connect() as conn:
        digests = conn.execute(select(messages.c.digest).join(
            folders, folders.c.id == messages.c.folder_id).where(
            folders.c.name == "Imported").order_by(messages.c.uid)).scalars().all()
    store = blob_store(mailbox)
    assert len(digests) == len(expected) > 0
    for index, (digest, original) in enumerate(zip(digests, expected, strict=True)):
        assert store.read(digest) == original, index


@pytest.mark.parametrize("workers", ["threads", "processes"])
def test_maildir_import_keeps_folders_flags_and_dates(mailbox: Service, tmp_path: Path,
                                                     workers: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if workers == "processes":  # a big move-in parses in worker processes
        monkeypatch.setattr(importer, "PROCESS_POOL_FROM", 1)
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Projects.2026/cur"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "cur" / "1700000000.M1P1.host:2,FS").write_bytes(b"Subject: one\n\nbody\n")
    (root / "new" / "1700000001.M2P1.host").write_bytes(b"Subject: two\n\nbody\n")
    (root / ".Sent" / "cur" / "1700000002.M3P1.host:2,S").write_bytes(b"Subject: 3\n\nx\n")
    (root / ".Projects.2026" / "cur" / "1700000003.M4P1.host:2,Ra").write_bytes(
        b"Subject: 4\n\nx\n")
    (root / ".Projects.2026" / "dovecot-keywords").write_text("0 $Important\n")
    counts = importer.import_sources(mailbox, "mia@example.test", importer.sources_for(root))
    assert counts == {"INBOX": 2, "Sent": 1, "Projects/2026": 1}
    with mailbox.engine.connect() as conn:
        rows = {(r.name, r.flags) for r in conn.execute(
            select(folders.c.name, messages.c.flags).join(
                messages, messages.c.folder_id == folders.c.id))}
    assert ("INBOX", "\\Flagged \\Seen") in rows
    assert ("INBOX", "") in rows
    assert ("Sent", "\\Seen") in rows
    assert ("Projects/2026", "\\Answered $Important") in rows
