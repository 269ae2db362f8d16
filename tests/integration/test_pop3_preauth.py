"""`mailgate serve` reads the sign-in deadline and the per-address cap from its configuration
and applies them to its POP3 listeners (pop3 and pop3s share one cap)."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

from live_server import start_server

TOO_MANY = b"-ERR [SYS/TEMP] too many connections from your address\r\n"
TOO_SLOW = b"-ERR [SYS/TEMP] sign-in took too long\r\n"


def test_serve_applies_the_configured_deadline_and_cap(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", extra_env={
        "MAILGATE_AUTH_SIGNIN_DEADLINE_SECONDS": "2",
        "MAILGATE_AUTH_MAX_UNAUTHENTICATED_PER_ADDRESS": "2",
    })
    opened: list[socket.socket] = []
    try:
        def connect() -> bytes:
            sock = socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=15)
            opened.append(sock)
            return sock.makefile("rb").readline()

        started = time.monotonic()
        assert connect().startswith(b"+OK")
        context = ssl.create_default_context(cafile=str(server.cert))
        raw = socket.create_connection(("127.0.0.1", server.ports["pop3s"]), timeout=15)
        tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
        opened.append(tls)
        assert tls.makefile("rb").readline().startswith(b"+OK")
        assert connect() == TOO_MANY  # the third from 127.0.0.1, whichever the port
        first = opened[0].makefile("rb")
        assert first.readline() == TOO_SLOW
        assert first.read() == b""
        assert 2 <= time.monotonic() - started < 15
    finally:
        for sock in opened:
            sock.close()
        server.stop()
    server.assert_clean_exit()
