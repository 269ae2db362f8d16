"""`account password` ends the live sessions that signed in with the old password, on a real
server, within one second, and says how many it ended."""

from __future__ import annotations

import time

from live_server import RunningServer, wait_until

PASSWORD = "correct-horse-battery"


def test_password_change_ends_the_password_session_within_a_second(
        server: RunningServer) -> None:
    server.account("eve@example.test", PASSWORD)
    server.cli("protocol", "set", "eve@example.test", "pop", "on")
    client = server.pop_session("eve@example.test", PASSWORD)
    wait_until(lambda: len(server.sessions()) == 1, 10, lambda: str(server.sessions()))

    changed = server.cli("account", "password", "eve@example.test", "--password-stdin",
                         stdin="a-new-password-42\n")
    exited = time.monotonic()
    client.sock.settimeout(1.0)
    assert client.sock.recv(100) == b""  # the server closed the connection
    assert time.monotonic() - exited < 1.0
    assert changed.stdout.strip() == \
        "password changed for eve@example.test; ended 1 live session"

    fresh = server.pop_session("eve@example.test", "a-new-password-42")
    assert fresh.noop().startswith(b"+OK")
    fresh.quit()
    wait_until(lambda: server.sessions() == [], 10, lambda: str(server.sessions()))
    again = server.cli("account", "password", "eve@example.test", "--password-stdin",
                       stdin="a-third-password-7\n")
    assert again.stdout.strip() == \
        "password changed for eve@example.test; ended 0 live sessions"
