"""`mailgate audit verify` as an operator runs it, after someone edited the real SQLite file
with plain SQL (defect 4): each kind of damage is one line on stderr and exit status 1; a
missing, unreadable or wrong key is one line too, and never replaced by a new one.
"""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from mailgate.audit.log import unkeyed_row_hash
from support import run_cli, run_inprocess

D = "example.test"
FAILED = "mailgate: audit log verification failed:"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("audit") / "data"
    for args in (("init",), ("department", "create", "Physics"),
                 ("account", "create", f"ann@{D}", "--name", "Ann"),
                 ("account", "create", f"bob@{D}", "--department", "Physics"),
                 ("protocol", "set", f"ann@{D}", "imap", "off", "--reason", "asked"),
                 ("case", "open", f"bob@{D}", "pop", "on", "--note", "old phone")):
        assert run_inprocess(data, *args).returncode == 0, args
    return data


@pytest.fixture
def data(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(template, copy)
    return copy


def sql(data: Path, *statements: str) -> None:
    with sqlite3.connect(data / "mailgate.db") as db:
        for statement in statements:
            db.execute(statement)


def last_id(data: Path) -> int:
    with sqlite3.connect(data / "mailgate.db") as db:
        return int(db.execute("SELECT max(id) FROM audit_log").fetchone()[0])


def verify_lines(data: Path) -> list[str]:
    """The problem lines of a failed verify (and that it failed, cleanly)."""
    result = run_cli(data, "audit", "verify")
    assert result.returncode == 1 and result.stdout == "", result
    assert "Traceback" not in result.stderr
    *lines, summary = result.stderr.splitlines()
    assert summary.startswith(FAILED) and f"{len(lines)} problem(s)" in summary, summary
    return lines


def test_an_intact_log_verifies(data: Path):
    result = run_cli(data, "audit", "verify")
    assert result.returncode == 0
    assert result.stdout == f"audit log intact: {last_id(data)} entries, keyed hash chain " \
                            "verified\n"


def test_init_makes_a_key_readable_by_its_owner_only_and_keeps_it(data: Path):
    key = data / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_text()
    assert len(bytes.fromhex(before.strip())) == 32
    assert run_cli(data, "init").returncode == 0
    assert key.read_text() == before


def test_edited_row(data: Path):
    sql(data, "UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    assert verify_lines(data) == ["row 3: content was changed after it was written"]


def test_rewritten_row_breaks_the_next_link(data: Path):
    with sqlite3.connect(data / "mailgate.db") as db:
        prev, *row = db.execute("SELECT prev_hash, id, at, actor, role, action, account, "
                                "'{}' FROM audit_log WHERE id = 3").fetchone()
        db.execute("UPDATE audit_log SET details = '{}', hash = ? WHERE id = 3",
                   (unkeyed_row_hash(prev, *row),))
    assert verify_lines(data) == ["row 3: hash recomputed without the audit key (forged)",
                                  "row 4: link to the previous row is broken"]


def test_rows_missing_in_the_middle(data: Path):
    sql(data, "DELETE FROM audit_log WHERE id IN (3, 4)")
    assert verify_lines(data) == ["rows 3..4: missing (deleted from the middle of the chain)"]


def test_cut_tail(data: Path):
    last = last_id(data)
    sql(data, f"DELETE FROM audit_log WHERE id = {last}")
    assert verify_lines(data) == [f"row {last}: cut off the end of the chain (the head record "
                                  f"says it ends at row {last})"]


def test_cut_tail_then_a_change_never_reuses_the_id(data: Path):
    last = last_id(data)
    sql(data, f"DELETE FROM audit_log WHERE id = {last}")
    assert run_cli(data, "account", "create", f"late@{D}").returncode == 0
    assert last_id(data) == last + 1
    assert verify_lines(data) == [f"row {last}: missing (deleted from the middle of the "
                                  "chain)"]


def test_missing_head(data: Path):
    sql(data, "DELETE FROM meta WHERE key = 'audit_head'")
    assert verify_lines(data) == ["the head record is missing: rows may have been cut off the "
                                  "end unnoticed"]


def test_cut_tail_and_missing_head_then_a_change(data: Path):
    last = last_id(data)
    sql(data, f"DELETE FROM audit_log WHERE id = {last}",
        "DELETE FROM meta WHERE key = 'audit_head'")
    assert run_cli(data, "account", "create", f"late@{D}").returncode == 0
    assert verify_lines(data) == [
        f"row {last}: missing (deleted from the middle of the chain)",
        f"row {last + 1}: written when the head record was missing or did not verify: rows "
        "may have been cut off the end before it"]


def test_chain_recomputed_without_the_key(data: Path):
    last = last_id(data)
    with sqlite3.connect(data / "mailgate.db") as db:
        prev = db.execute("SELECT hash FROM audit_log WHERE id = 2").fetchone()[0]
        for row in db.execute("SELECT id, at, actor, role, action, account, details FROM "
                              "audit_log WHERE id >= 3 ORDER BY id").fetchall():
            row = (*row[:2], "mallory" if row[0] == 3 else row[2], *row[3:])
            digest = unkeyed_row_hash(prev, *row)
            db.execute("UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE id = ?",
                       (row[2], prev, digest, row[0]))
            prev = digest
        db.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'",
                   (f"{last}:{prev}".encode(),))
    assert verify_lines(data) == [
        f"rows 3..{last}: hash recomputed without the audit key (forged)",
        "the head record does not verify with the audit key: it was forged or replaced"]


def test_wrong_key(data: Path):
    (data / "audit.key").write_text("ab" * 32 + "\n")
    assert verify_lines(data) == [
        f"nothing in the audit log verifies with {data / 'audit.key'}: it is not the key this "
        "log was written with, or the whole log was forged"]
    refused = run_cli(data, "account", "create", f"late@{D}")
    assert refused.returncode == 1 and refused.stderr.startswith(
        f"mailgate: nothing at the end of the audit log verifies with {data / 'audit.key'}")


def one_line_refusal(data: Path, *args: str) -> str:
    """The refusal's one line (`serve` first prints how to connect, then stops there)."""
    result = run_cli(data, *args)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    lines = result.stderr.splitlines(keepends=True)
    assert len(lines) == 1 or args == ("serve",), result.stderr
    return lines[-1]


@pytest.mark.parametrize("command", [("audit", "verify"), ("account", "create", f"late@{D}"),
                                     ("init",), ("serve",)])
def test_a_missing_key_is_one_line_and_no_new_key_is_made(data: Path, command: tuple[str, ...]):
    (data / "audit.key").unlink()
    assert one_line_refusal(data, *command) == (
        f"mailgate: the audit key {data / 'audit.key'} is missing, but this audit log is "
        "keyed with it: restore the file from a backup (or copy it from the node that made "
        "it); mailgate never makes a new key for a keyed log\n")
    assert not (data / "audit.key").exists() and not (data / "audit.key.new").exists()


@pytest.mark.parametrize("damage,says", [
    ("directory", "cannot read the audit key {key} (Is a directory): run mailgate as the user "
                  "that owns the data directory"),
    ("garbage", "{key} is not a mailgate audit key (expected 64 hex digits); restore the file "
                "from a backup")])
def test_an_unreadable_or_damaged_key_is_one_line(data: Path, damage: str, says: str):
    key = data / "audit.key"
    key.unlink()
    if damage == "directory":
        key.mkdir()
    else:
        key.write_text("not a key\n")
    for command in (("audit", "verify"), ("account", "create", f"late@{D}")):
        assert one_line_refusal(data, *command) == f"mailgate: {says.format(key=key)}\n"
