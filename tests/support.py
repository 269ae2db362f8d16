"""Test support shared by every test directory: data directories on each database backend,
the real CLI in a subprocess, and test data (the repository's own fixtures and the
project's ../shared folder). (Fixtures live in conftest.py and use this.)"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

# Cheap password hashing in tests; the production cost is measured in bench/.
os.environ.setdefault("MAILGATE_AUTH_ARGON2_TIME_COST", "1")
os.environ.setdefault("MAILGATE_AUTH_ARGON2_MEMORY_KIB", "1024")

from mailgate import config
from mailgate.audit.seal import seal
from mailgate.cli.main import main
from mailgate.db.engine import migrate
from mailgate.directory.bootstrap import ensure_standard_plan
from mailgate.service import Service

POSTGRES_URL = os.environ.get("MAILGATE_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])

#: The repository's own small test data (each folder's README says what every file covers).
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The project's shared folder, beside the repository in development and in CI; a fresh
#: clone may not have it.
SHARED = Path(__file__).resolve().parents[2] / "shared"
#: CI sets MAILGATE_REQUIRE_SHARED=1: a test that needs ../shared then fails instead of skipping.
REQUIRE_SHARED = os.environ.get("MAILGATE_REQUIRE_SHARED") == "1"


def shared_path(relative: str) -> Path:
    """``../shared/<relative>``. Without it the calling test is skipped, naming what is
    missing, or fails when MAILGATE_REQUIRE_SHARED=1."""
    path = SHARED / relative
    if not path.exists():
        reason = f"{path} is not beside the repository"
        if REQUIRE_SHARED:
            pytest.fail(f"{reason} (MAILGATE_REQUIRE_SHARED=1 requires it)", pytrace=False)
        pytest.skip(reason)
    return path


def shared_files(folder: str, *suffixes: str) -> list[str]:
    """The files of ``../shared/<folder>`` ending in ``suffixes``, as paths relative to
    shared/, to parametrise a test that opens each with ``shared_path``. Without the folder
    the one parameter is the folder itself, so that test runs once and skips (or fails)."""
    found = SHARED / folder
    if not found.is_dir():
        return [folder]
    return sorted(f"{folder}/{path.name}" for path in found.iterdir()
                  if path.is_file() and path.name.endswith(suffixes))


def _postgres_admin(sql: str) -> None:
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(sql))
    admin.dispose()


def _postgres_database() -> str:
    """A new empty database on the CI PostgreSQL server; returns its URL."""
    name = "mg_" + uuid.uuid4().hex[:12]
    _postgres_admin(f"CREATE DATABASE {name}")
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new empty database on the test PostgreSQL server for the block; yields its URL."""
    url = _postgres_database()
    try:
        yield url
    finally:
        _postgres_admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def drop_service(service: Service) -> None:
    """Release the engine; on PostgreSQL also drop the test's database."""
    service.dispose()
    if service.engine.dialect.name == "postgresql":
        _postgres_admin(f"DROP DATABASE IF EXISTS {service.engine.url.database} WITH (FORCE)")


def make_service(data_dir: Path, backend: str = "sqlite", revision: str = "head") -> Service:
    """A data directory on `backend`, initialised as `init` does; with an older `revision`,
    only its schema, as a version from before that revision left it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config.write_default(data_dir, "example.test")
    if backend == "postgresql":
        os.environ["MAILGATE_STORAGE_DATABASE_URL"] = _postgres_database()
    try:
        svc = Service.open(data_dir, require_init=False)
    finally:
        os.environ.pop("MAILGATE_STORAGE_DATABASE_URL", None)
    migrate(svc.engine, svc.settings.blob_dir, revision=revision)
    if revision == "head":
        ensure_standard_plan(svc)
        seal(svc)
    return svc


def run_cli(data_dir: Path, *args: str, stdin: str | bytes | None = None,
            acting_as: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `mailgate` CLI in a subprocess, as an operator would."""
    argv = [sys.executable, "-m", "mailgate", "--data", str(data_dir)]
    if acting_as:
        argv += ["--as", acting_as]
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(argv + list(args), input=data, capture_output=True, timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode(errors="replace"),
                                       proc.stderr.decode(errors="replace"))


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_inprocess(data: Path, *args: str, stdin: str | None = None,
                  acting_as: str | None = None) -> Result:
    """The CLI's own `main()`, with argv, stdin, stdout and stderr swapped for the call."""
    argv = ["mailgate", "--data", str(data)] + (["--as", acting_as] if acting_as else [])
    saved = sys.argv, sys.stdin, sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    sys.argv = argv + list(args)
    sys.stdin = io.TextIOWrapper(io.BytesIO((stdin or "").encode()))
    sys.stdout, sys.stderr = out, err
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
    return Result(code, out.getvalue(), err.getvalue())
