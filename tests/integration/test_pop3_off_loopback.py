"""Off loopback, a password never crosses the wire in clear text (SPEC §11)."""

from __future__ import annotations

import poplib
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer, free_port, start_server


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5)
    except OSError:
        return None
    for candidate in out.stdout.split():
        if ":" not in candidate and not candidate.startswith("127."):
            try:
                with socket.socket() as s:
                    s.bind((candidate, 0))
                return candidate
            except OSError:
                continue
    return None


OUTSIDE = _outside_address()
pytestmark = pytest.mark.skipif(OUTSIDE is None, reason="no non-loopback address here")


@pytest.fixture
def outside_server(tmp_path: Path) -> Iterator[tuple[RunningServer, int]]:
    port = free_port()
    running = start_server(tmp_path / "data",
                           extra_env={"MAILGATE_LISTEN_POP3": f"{OUTSIDE}:{port}"})
    running.account("olga@example.test", "correct-horse-battery")
    running.cli("protocol", "set", "olga@example.test", "pop", "on")
    yield running, port
    assert running.stop() == 0


def test_plaintext_password_is_refused_off_loopback_and_works_after_stls(
        outside_server: tuple[RunningServer, int]) -> None:
    server, port = outside_server
    client = poplib.POP3(OUTSIDE, port, timeout=10)
    assert "STLS" in client.capa()
    with pytest.raises(poplib.error_proto) as err:  # refused at USER, before any secret
        client.user("olga@example.test")
        client.pass_("correct-horse-battery")
    assert err.value.args[0].startswith(b"-ERR [AUTH] Password sign-in requires TLS")
    client.close()
    tls = ssl.create_default_context(cafile=str(server.cert))
    tls.check_hostname = False  # the self-signed certificate names localhost, not this IP
    secure = poplib.POP3(OUTSIDE, port, timeout=10)
    secure.stls(tls)
    secure.user("olga@example.test")
    assert secure.pass_("correct-horse-battery").startswith(b"+OK")
    secure.quit()
    usage = server.cli("audit", "--account", "olga@example.test", "--json").stdout
    assert f'"peer": "{OUTSIDE}"' in usage
