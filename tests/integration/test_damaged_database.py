"""A damaged SQLite file: one `mailgate:` line naming it, exit 1, never a traceback.

Three real kinds of damage on a copy of an `init --demo` database: the file cut in half, a
file of random bytes, and one page overwritten in the middle. The commands touching a damaged
page report it as they meet it; `audit verify` and `serve` read every page first, so they
report a damaged page wherever it is.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from live_server import LISTENERS

from support import Result, run_cli, run_inprocess

D = "example.test"
PAGE = 4096
COMMANDS = {
    "account list": ("account", "list"),
    "account show": ("account", "show", f"alice@{D}", "--json"),
    "protocol set": ("protocol", "set", f"bob@{D}", "imap", "off"),
    "case list": ("case", "list", "--json"),
    "audit": ("audit", "--json"),
    "audit verify": ("audit", "verify"),
}


def _cut_in_half(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def _random_bytes(db: Path) -> None:
    db.write_bytes(random.Random(7).randbytes(db.stat().st_size))


def _overwrite_page(number: int) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        with db.open("r+b") as f:
            f.seek((number - 1) * PAGE)
            f.write(random.Random(number).randbytes(PAGE))
    return damage


def _accounts_root_page(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'accounts'")
                   .fetchone()[0])


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("intact") / "data"
    made = run_cli(data, "init", "--demo")
    assert made.returncode == 0, made.stderr
    db = data / "mailgate.db"
    assert not (data / "mailgate.db-wal").exists()  # everything is in the main file
    assert db.stat().st_size % PAGE == 0 and db.stat().st_size // PAGE > 20
    return data


def damaged_copy(intact: Path, where: Path, damage: Callable[[Path], None]) -> tuple[Path, Path]:
    data = where / "data"
    # the main file holds everything (see `intact`); a -wal/-shm pair that a reader of the
    # intact copy opens and removes meanwhile is not part of it
    shutil.copytree(intact, data, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
    damage(data / "mailgate.db")
    return data, data / "mailgate.db"


def says_damaged(proc: Result | subprocess.CompletedProcess[str], db: Path) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"mailgate: the database {db} is damaged ("), line
    assert line.endswith("); restore it from a backup"), line
    assert proc.stdout == ""


def serve(data: Path) -> subprocess.CompletedProcess[str]:
    """The real `mailgate serve`, every listener off (should it start, it must not collide)."""
    env = dict(os.environ, **{f"MAILGATE_LISTEN_{n.upper()}": "" for n in LISTENERS})
    proc = subprocess.run([sys.executable, "-m", "mailgate", "--data", str(data), "serve"],
                          capture_output=True, timeout=60, env=env)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(),
                                       proc.stderr.decode())


@pytest.mark.parametrize("damage", [_cut_in_half, _random_bytes], ids=["truncated", "random"])
def test_every_command_and_serve_say_the_file_is_damaged(intact, tmp_path, damage):
    data, db = damaged_copy(intact, tmp_path, damage)
    for args in COMMANDS.values():
        says_damaged(run_inprocess(data, *args), db)
    says_damaged(run_cli(data, "account", "show", f"alice@{D}"), db)
    says_damaged(serve(data), db)


def test_a_page_overwritten_in_the_middle_is_found_by_audit_verify_and_serve(intact, tmp_path):
    pages = (intact / "mailgate.db").stat().st_size // PAGE
    data, db = damaged_copy(intact, tmp_path, _overwrite_page(pages // 2))
    says_damaged(run_inprocess(data, *COMMANDS["audit verify"]), db)
    says_damaged(serve(data), db)
    for name, args in COMMANDS.items():  # elsewhere: done, or the same one line
        proc = run_inprocess(data, *args)
        if proc.returncode != 0:
            says_damaged(proc, db)
        else:
            assert name != "audit verify" and "Traceback" not in proc.stderr


def test_every_command_reading_a_damaged_page_says_so(intact, tmp_path):
    root = _accounts_root_page(intact / "mailgate.db")
    data, db = damaged_copy(intact, tmp_path, _overwrite_page(root))
    for name, args in COMMANDS.items():
        if name != "audit":  # the only one that does not read accounts as the system operator
            says_damaged(run_inprocess(data, *args), db)
    says_damaged(run_cli(data, *COMMANDS["protocol set"]), db)
