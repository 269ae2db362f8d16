"""Every real-world message in shared/testdata/mime is accepted by deliver/import and kept as
the original with CRLF line endings, otherwise byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailgate import mime
from mailgate.db.schema import folders, messages
from mailgate.directory import accounts
from mailgate.directory.authority import Actor
from mailgate.service import Service
from mailgate.store import importer
from mailgate.store.messages import blob_store, deliver

#: shared/ lies beside the repository (in development and in CI alike).
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "mime"
EML = sorted(CORPUS.glob("*.eml"))
MBOX = sorted(CORPUS.glob("*.mbox"))


@pytest.fixture
def mailbox(sqlite_svc: Service) -> Service:
    accounts.create(sqlite_svc, Actor.system(), "mia@example.test", "correct-horse")
    return sqlite_svc


def test_corpus_is_present() -> None:
    assert len(EML) > 50 and len(MBOX) > 5


def test_every_eml_is_delivered_and_kept_byte_for_byte(mailbox: Service) -> None:
    store = blob_store(mailbox)
    for path in EML:
        raw = path.read_bytes()
        stored = deliver(mailbox, "mia@example.test", raw)
        kept = store.read(stored.digest)
        assert kept == mime.to_crlf(raw), path.name
        assert b"\n" not in kept.replace(b"\r\n", b""), path.name


def test_every_mbox_imports_every_message(mailbox: Service) -> None:
    expected = 0
    for path in MBOX:
        parts = mime.split_mbox(path.read_bytes())
        expected += len(parts)
        importer.import_sources(mailbox, "mia@example.test",
                                importer.mbox_sources(path, "Imported"))
    with mailbox.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(messages).join(
            folders, folders.c.id == messages.c.folder_id).where(
            folders.c.name == "Imported")).scalar()
    assert count == expected > 0


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
