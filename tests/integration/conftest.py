"""Fixtures for tests that drive a real `mailgate serve` with real clients."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import browser, page  # noqa: F401  (fixtures of the browser tests)
from live_server import RunningServer, start_server
from smtp_receiver import smarthost  # noqa: F401  (fixture of the relay tests)

# Servers started by these tests inherit this limit: thousands of connections need fds.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 65536), _hard))


def _serving(data: Path, listeners: tuple[str, ...]) -> Iterator[RunningServer]:
    """A server for one test; afterwards it must stop cleanly with no traceback logged."""
    running = start_server(data, listeners)
    yield running
    running.stop_cleanly()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    yield from _serving(tmp_path / "data", ("pop3", "pop3s", "http"))


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server with the IMAP door on both listeners (`imap` with STARTTLS, `imaps`)."""
    yield from _serving(tmp_path / "data", ("imap", "imaps", "http"))
