"""Off loopback, submission never takes a password in clear text: `538 5.7.11` to AUTH
before STARTTLS, whatever the client tries (SPEC §11); after STARTTLS the same sign-in
works."""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer, free_port, start_server
from test_pop3_off_loopback import OUTSIDE

pytestmark = pytest.mark.skipif(OUTSIDE is None, reason="no non-loopback address here")
ALICE, PASSWORD = "alice@example.test", "correct-horse-battery"
REFUSED = b"5.7.11 Encryption required for requested authentication mechanism"


@pytest.fixture
def outside_server(tmp_path: Path) -> Iterator[tuple[RunningServer, int]]:
    port = free_port()
    running = start_server(tmp_path / "data", ("http",),
                           extra_env={"MAILGATE_LISTEN_SUBMISSION": f"{OUTSIDE}:{port}"})
    running.account(ALICE, PASSWORD)
    yield running, port
    running.stop_cleanly()


def test_plaintext_auth_gets_538_off_loopback_and_works_after_starttls(
        outside_server: tuple[RunningServer, int]) -> None:
    server, port = outside_server
    assert OUTSIDE is not None
    client = smtplib.SMTP(OUTSIDE, port, timeout=10)
    client.ehlo("client.example")
    assert not client.has_extn("auth") and client.has_extn("starttls")
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    assert client.docmd("AUTH", f"PLAIN {token}") == (538, REFUSED)
    assert client.docmd("AUTH", "PLAIN") == (538, REFUSED)  # before any secret is asked for
    assert client.docmd("AUTH", "LOGIN") == (538, REFUSED)
    assert client.docmd("MAIL", f"FROM:<{ALICE}>")[0] == 530
    tls = ssl.create_default_context(cafile=str(server.cert))
    tls.check_hostname = False  # the self-signed certificate names localhost, not this IP
    client.starttls(context=tls)
    client.ehlo("client.example")
    assert client.has_extn("auth")
    assert client.login(ALICE, PASSWORD)[0] == 235
    client.quit()
    usage = server.cli("audit", "--account", ALICE, "--json").stdout
    assert f'"peer": "{OUTSIDE}"' in usage
