"""A running node's `/metrics` follows its sessions: the live-session gauge on every sign-in
and every close, the policy counter on every session a closing door ends."""

from __future__ import annotations

from live_server import RunningServer, wait_until

PASSWORD = "correct-horse-battery"
LIVE = "mailgate_live_sessions"
CLOSED = "mailgate_sessions_closed_by_policy_total"


def test_gauge_follows_sessions_and_counter_counts_policy_closes(server: RunningServer) -> None:
    for who in ("mia", "noa", "oli"):
        server.account(f"{who}@example.test", PASSWORD)
        server.cli("protocol", "set", f"{who}@example.test", "pop", "on")
    assert server.metrics()[LIVE] == 0
    assert server.metrics()[CLOSED] == 0

    mia = server.pop_session("mia@example.test", PASSWORD)
    assert server.metrics()[LIVE] == 1  # counted before the client hears +OK
    noa = server.pop_session("noa@example.test", PASSWORD)
    oli = server.pop_session("oli@example.test", PASSWORD)
    assert server.metrics()[LIVE] == 3

    mia.quit()
    wait_until(lambda: server.metrics()[LIVE] == 2, 5, lambda: str(server.metrics()))
    oli.close()  # the client goes away without QUIT: not a policy close
    wait_until(lambda: server.metrics()[LIVE] == 1, 5, lambda: str(server.metrics()))

    server.cli("protocol", "set", "noa@example.test", "pop", "off")
    noa.sock.settimeout(5)
    assert noa.sock.recv(100) == b""  # ended by the door closing
    wait_until(lambda: server.metrics()[CLOSED] == 1, 5, lambda: str(server.metrics()))
    wait_until(lambda: server.metrics()[LIVE] == 0, 5, lambda: str(server.metrics()))
    assert server.metrics()[CLOSED] == 1
