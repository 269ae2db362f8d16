"""Fixtures for tests that drive a real `mailgate serve` with real clients."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer, start_server

# Servers started by these tests inherit this limit: thousands of connections need fds.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 65536), _hard))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data")
    yield running
    code = running.stop()
    log = running.log.read_text(errors="replace")
    assert code == 0, log
    assert "Traceback" not in log, log
