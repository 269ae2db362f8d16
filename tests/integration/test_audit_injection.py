"""An unauthenticated POP3 client cannot clear the operator's screen or forge audit lines.

The user names below reach the audit log as sent (they are evidence); `mailgate audit`
prints them as visible escapes on their own line, and `audit --json` round-trips them.
"""

from __future__ import annotations

import base64
import json
import socket
import time

from live_server import RunningServer

from mailgate.safetext import first_unsafe

FORGED = "     99 2026-01-01T00:00:00Z system (system) account.compromise ann@example.test {}"
#: via AUTH PLAIN: clear screen, CR LF and a forged audit line, an OSC 8 hyperlink, BEL
PLAIN_NAME = f"x\x1b[2J\x1b[H\r\n{FORGED}\r\n\x1b]8;;http://evil.test/\x07y"
#: via USER (the POP3 line reader refuses C0 controls): C1 CSI, NEL, a bidi override
USER_NAME = "u\x9b2J\x85\u202emoc.live\u2066@x"


def _reply(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = conn.recv(4096)
        assert chunk, data
        data += chunk
    return data


def _sign_in_attempts(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=10) as conn:
        assert _reply(conn).startswith(b"+OK")
        token = base64.b64encode(b"\0" + PLAIN_NAME.encode() + b"\0wrong-password")
        conn.sendall(b"AUTH PLAIN " + token + b"\r\n")
        assert _reply(conn).startswith(b"-ERR [AUTH]")
        conn.sendall(b"USER " + USER_NAME.encode() + b"\r\n")
        assert _reply(conn).startswith(b"+OK")
        conn.sendall(b"PASS wrong-password\r\n")
        assert _reply(conn).startswith(b"-ERR [AUTH]")
        conn.sendall(b"QUIT\r\n")
        _reply(conn)


def _signins(server: RunningServer) -> list[dict[str, object]]:
    """The sign-in entries, once the server's batched recorder has written both."""
    deadline = time.monotonic() + 20
    while True:
        entries = json.loads(server.cli("audit", "--json").stdout)
        signins = [e for e in entries if e["action"] == "signin"]
        if len(signins) >= 2 or time.monotonic() > deadline:
            return signins
        time.sleep(0.05)


def test_hostile_user_names_print_inert_and_round_trip_as_json(server: RunningServer) -> None:
    _sign_in_attempts(server)
    signins = _signins(server)
    assert [e["actor"] for e in signins] == [PLAIN_NAME, USER_NAME]
    assert all(e["result"] == "denied" and e["reason"] == "bad_credentials" for e in signins)

    printed = server.cli("audit").stdout
    for line in printed.splitlines():
        assert first_unsafe(line) is None, repr(line)
        assert not line.startswith(FORGED), printed
    signin_lines = [line for line in printed.splitlines() if " signin " in line]
    assert len(signin_lines) == 2, printed
    assert "x\\x1b[2J\\x1b[H\\x0d\\x0a     99 2026-01-01" in signin_lines[0]
    assert "u\\x9b2J\\x85\\u202emoc.live\\u2066@x" in signin_lines[1]

    raw_json = server.cli("audit", "--json").stdout
    assert first_unsafe(raw_json.replace("\n", "")) is None
