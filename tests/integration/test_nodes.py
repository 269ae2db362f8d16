"""Nodes coming and going, with real `serve` processes and real POP3 clients.

A node deletes its own session rows when it stops; a node that died (kill -9) stops beating
its heartbeat, and its sessions vanish from `mailgate sessions` once the window has passed.
A maildrop is held across processes and nodes; one SQLite data directory runs one `serve`.
"""

from __future__ import annotations

import poplib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from live_server import RunningServer, free_port, start_server, wait_until

from support import POSTGRES_URL, postgres_database

PASSWORD = "correct-horse-battery"
QUICK_HEARTBEAT = {"MAILGATE_SERVER_HEARTBEAT_SECONDS": "1",
                   "MAILGATE_SERVER_NODE_TIMEOUT_SECONDS": "3"}


def test_sigterm_takes_the_nodes_sessions_with_it(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        server.account("ada@example.test", PASSWORD)
        server.cli("protocol", "set", "ada@example.test", "pop", "on")
        client = server.pop_session("ada@example.test", PASSWORD)
        wait_until(lambda: len(server.sessions()) == 1, 10, lambda: str(server.sessions()))
        assert server.stop() == 0
        client.close()
        assert server.sessions() == []
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text(errors="replace")


def test_killed_node_sessions_vanish_after_the_heartbeat_window(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", extra_env=QUICK_HEARTBEAT)
    try:
        server.account("bo@example.test", PASSWORD)
        server.cli("protocol", "set", "bo@example.test", "pop", "on")
        client = server.pop_session("bo@example.test", PASSWORD)
        wait_until(lambda: len(server.sessions()) == 1, 10, lambda: str(server.sessions()))
        [shown] = server.sessions()
        assert shown["account"] == "bo@example.test" and shown["protocol"] == "pop"
        server.proc.kill()
        server.proc.wait()
        client.close()
        wait_until(lambda: server.sessions() == [], 15,
                   lambda: f"a dead node's sessions are still shown: {server.sessions()}")
    finally:
        server.stop()


def _in_use(server: RunningServer, address: str) -> bool:
    """Does a sign-in on this node find the maildrop held elsewhere? (True: [IN-USE])"""
    try:
        server.pop_session(address, PASSWORD).quit()
    except poplib.error_proto as refused:
        assert refused.args[0].startswith(b"-ERR [IN-USE]"), refused.args[0]
        return True
    return False


def test_second_serve_on_one_sqlite_data_dir_refuses_with_one_line(tmp_path: Path) -> None:
    first = start_server(tmp_path / "data")
    try:
        env = dict(first.env)
        for name in first.ports:  # its own ports: only the data directory is shared
            env[f"MAILGATE_LISTEN_{name.upper()}"] = f"127.0.0.1:{free_port()}"
        second = subprocess.run(
            [sys.executable, "-m", "mailgate", "--data", str(first.data), "serve"],
            env=env, capture_output=True, timeout=30)
        assert second.returncode == 1
        [line] = second.stderr.decode().strip().splitlines()
        assert line.startswith("mailgate: another mailgate serve") and \
            f"(pid {first.proc.pid})" in line, line
        assert first.health()["status"] == "ok"  # the first one serves on
    finally:
        assert first.stop() == 0


def test_restart_after_kill_frees_sessions_and_maildrop_at_once(tmp_path: Path) -> None:
    """On SQLite the restarted node is the only node: what the dead one held is freed
    without waiting for the heartbeat window."""
    server = start_server(tmp_path / "data")
    try:
        server.account("cy@example.test", PASSWORD)
        server.cli("protocol", "set", "cy@example.test", "pop", "on")
        client = server.pop_session("cy@example.test", PASSWORD)
        wait_until(lambda: len(server.sessions()) == 1, 10, lambda: str(server.sessions()))
        server.proc.kill()
        server.proc.wait()
        client.close()
        server = start_server(tmp_path / "data")
        assert server.sessions() == []
        assert not _in_use(server, "cy@example.test")
    finally:
        assert server.stop() == 0


@pytest.mark.skipif(not POSTGRES_URL, reason="needs MAILGATE_TEST_POSTGRES_URL")
def test_two_nodes_on_one_postgres_database_hold_a_maildrop_once(tmp_path: Path) -> None:
    with postgres_database() as url:
        env = {"MAILGATE_STORAGE_DATABASE_URL": url, "MAILGATE_SERVER_HEARTBEAT_SECONDS": "1",
               "MAILGATE_SERVER_NODE_TIMEOUT_SECONDS": "5"}
        a = start_server(tmp_path / "a", extra_env=env)
        b = None
        try:
            (tmp_path / "b").mkdir()  # every node of one database signs the audit log alike
            shutil.copy2(tmp_path / "a" / "audit.key", tmp_path / "b" / "audit.key")
            b = start_server(tmp_path / "b", extra_env=env)
            a.account("di@example.test", PASSWORD)
            a.cli("protocol", "set", "di@example.test", "pop", "on")
            on_a = a.pop_session("di@example.test", PASSWORD)
            assert _in_use(b, "di@example.test")
            on_a.quit()
            wait_until(lambda: not _in_use(b, "di@example.test"), 10)

            on_b = b.pop_session("di@example.test", PASSWORD)
            b.proc.kill()  # dies holding the maildrop
            b.proc.wait()
            on_b.close()
            assert _in_use(a, "di@example.test")  # node b was seen a moment ago
            wait_until(lambda: not _in_use(a, "di@example.test"), 20,
                       lambda: "a dead node's maildrop was never released")
        finally:
            if b is not None:
                b.stop()
            assert a.stop() == 0
