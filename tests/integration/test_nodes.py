"""`mailgate sessions` after a node stops or dies, with real `serve` processes.

A node deletes its own session rows when it stops; a node that died (kill -9) stops beating
its heartbeat, and its sessions vanish from `mailgate sessions` once the window has passed.
"""

from __future__ import annotations

from pathlib import Path

from live_server import start_server, wait_until

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
