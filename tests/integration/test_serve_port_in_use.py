"""`serve` when a listener's port is taken: one line naming the listener and the address,
exit 1, and nothing half-started (the ports bound before it are free again)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import LISTENERS, free_port

from mailgate import server
from mailgate.listening import ListenerError
from mailgate.service import Service
from support import run_cli

SERVED = ("pop3", "pop3s", "http")


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port some other program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as other:
        yield int(other.getsockname()[1])


def listen_values(busy: str, port: int) -> dict[str, str]:
    """Every listener off but the served ones: `busy` on the taken port, the others free."""
    values = {name: "" for name in LISTENERS}
    values.update({name: f"127.0.0.1:{free_port()}" for name in SERVED})
    values[busy] = f"127.0.0.1:{port}"
    return values


def assert_free(values: dict[str, str], busy: str) -> None:
    for name in SERVED:
        if name != busy:
            host, port = values[name].rsplit(":", 1)
            socket.create_server((host, int(port))).close()  # fails if still bound


def test_serve_names_the_listener_and_address_and_exits(tmp_path: Path, taken: int):
    data = tmp_path / "data"
    assert run_cli(data, "init").returncode == 0
    values = listen_values("pop3s", taken)
    env = dict(os.environ, **{f"MAILGATE_LISTEN_{n.upper()}": v for n, v in values.items()})
    proc = subprocess.run([sys.executable, "-m", "mailgate", "--data", str(data), "serve"],
                          capture_output=True, timeout=60, env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == b""
    assert proc.stderr.decode() == (
        f"mailgate: cannot listen for pop3s on 127.0.0.1:{taken}: address already in use; "
        "stop what listens there or change listen.pop3s (MAILGATE_LISTEN_POP3S)\n")
    assert_free(values, "pop3s")


@pytest.mark.parametrize("busy", SERVED)
def test_nothing_is_left_listening_or_running_when_a_port_is_taken(sqlite_svc: Service,
                                                                   taken: int, busy: str):
    values = listen_values(busy, taken)
    sqlite_svc.settings.values["listen"].update(values)
    threads = threading.active_count()
    with pytest.raises(ListenerError, match=f"cannot listen for {busy} on 127.0.0.1:{taken}"):
        asyncio.run(server.serve(sqlite_svc))
    assert_free(values, busy)
    assert threading.active_count() == threads
