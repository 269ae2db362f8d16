"""Sealing (defect 4): the key file, a log upgraded from the unkeyed chain, crash recovery.

On every backend: a database at revision 0002 holding rows of the old unkeyed chain is
upgraded and sealed; its rows are re-keyed in place and checked first, so damage done
before the upgrade stays visible afterwards.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from mailgate.audit import log as audit
from mailgate.audit.seal import seal
from mailgate.audit.verify import verify
from mailgate.db import schema
from mailgate.db.engine import migrate
from mailgate.directory.bootstrap import ensure_standard_plan
from mailgate.service import Service
from support import BACKENDS, drop_service, make_service

LEGACY_ROWS = 6


@pytest.fixture(params=BACKENDS)
def legacy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A database as the version before the keyed chain left it: schema 0002, an unkeyed
    chain of six rows with its unkeyed head record, and no key file."""
    svc = make_service(tmp_path / "data", request.param, revision="0002")
    prev = audit.GENESIS
    with svc.engine.begin() as conn:
        for n in range(1, LEGACY_ROWS + 1):
            details = audit.canonical({"n": n})
            digest = audit.unkeyed_row_hash(prev, n, 1000.0 + n, "system", "system",
                                            "account.create", f"u{n}@example.test", details)
            conn.execute(schema.audit_log.insert().values(
                id=n, at=1000.0 + n, actor="system", role="system", action="account.create",
                account=f"u{n}@example.test", details=details, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(schema.meta.insert().values(key=audit.HEAD_KEY,
                                                 value=f"{LEGACY_ROWS}:{prev}".encode()))
    yield svc
    drop_service(svc)


def upgrade(svc: Service) -> None:
    """What the first `init` or `serve` after the upgrade does."""
    migrate(svc.engine)
    ensure_standard_plan(svc)
    seal(svc)


def rows(svc: Service) -> list:
    with svc.engine.connect() as conn:
        return conn.execute(select(schema.audit_log).order_by(schema.audit_log.c.id)).all()


def problems(svc: Service) -> list[str]:
    with svc.reader.connect() as conn:
        return [str(p) for p in verify(conn, svc.audit_key)[1]]


def test_an_upgraded_log_is_re_keyed_in_place_and_verifies(legacy: Service):
    before = rows(legacy)
    upgrade(legacy)
    after = rows(legacy)
    secret = legacy.audit_key.secret()
    assert [r.id for r in after] == list(range(1, LEGACY_ROWS + 2))
    assert [(r.actor, r.action, r.details) for r in after[:-1]] == [
        (r.actor, r.action, r.details) for r in before]
    assert all(audit.stored_row_hash(secret, r) == r.hash for r in after)
    assert (after[-1].action, json.loads(after[-1].details)) == (
        "audit.sealed", {"rekeyed": LEGACY_ROWS, "unkeyed_problem_count": 0,
                         "unkeyed_problems": []})
    assert problems(legacy) == []
    with legacy.engine.connect() as conn:  # SQLite remembers the highest id from now on
        assert audit.high_water(conn) == LEGACY_ROWS + 1
    upgrade(legacy)  # a second start changes nothing
    assert rows(legacy) == after


def test_damage_done_before_the_upgrade_stays_visible_after_it(legacy: Service):
    with legacy.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 2"))
    upgrade(legacy)
    assert problems(legacy) == [
        f"row {LEGACY_ROWS + 1}: when the log was keyed, the unkeyed check found 1 problem(s), "
        "first: row 2: content was changed after it was written"]


def test_the_new_key_file_is_64_hex_digits_readable_by_its_owner_only(legacy: Service):
    upgrade(legacy)
    path = legacy.audit_key.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(path.read_text().strip())) == 32
    assert not legacy.audit_key.pending.exists()


def test_a_crash_after_the_commit_is_finished_at_the_next_start(
        legacy: Service, monkeypatch: pytest.MonkeyPatch):
    def crash(*_: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(type(legacy.audit_key), "install_pending", crash)
    with pytest.raises(OSError):
        upgrade(legacy)
    monkeypatch.undo()
    assert legacy.audit_key.pending.exists() and not legacy.audit_key.path.exists()
    upgrade(legacy)
    assert legacy.audit_key.path.exists() and not legacy.audit_key.pending.exists()
    assert problems(legacy) == []


def test_a_crash_before_the_commit_leaves_the_old_log_to_be_sealed_again(
        legacy: Service, monkeypatch: pytest.MonkeyPatch):
    def crash(*_: object) -> None:
        raise OSError("power cut")

    before = rows(legacy)
    monkeypatch.setattr("mailgate.audit.seal.write_head", crash)
    with pytest.raises(OSError):
        upgrade(legacy)
    monkeypatch.undo()
    assert rows(legacy) == before  # rolled back: still the unkeyed chain, no key installed
    assert not legacy.audit_key.path.exists()
    upgrade(legacy)
    assert problems(legacy) == [] and len(rows(legacy)) == LEGACY_ROWS + 1
