"""Shared fixtures: a fresh data directory on SQLite (and PostgreSQL when CI provides one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgate.service import Service
from support import BACKENDS, drop_service, make_service


@pytest.fixture(params=BACKENDS)
def svc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A migrated, empty mailgate on each database backend available."""
    service = make_service(tmp_path / "data", request.param)
    yield service
    drop_service(service)


@pytest.fixture
def sqlite_svc(tmp_path: Path) -> Iterator[Service]:
    service = make_service(tmp_path / "data")
    yield service
    service.dispose()
