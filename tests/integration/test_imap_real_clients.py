"""The IMAP door driven by clients nobody here wrote, as their users run them, against a
real `mailgate serve`: curl (imap:// with STARTTLS, imaps://), imap-tools, fetchmail,
neomutt (on a pseudo-terminal, driven by `push`) and IMAPClient for what
test_imap_clients.py does not cover. Every TLS connection verifies the server's
self-signed certificate from the data directory. (mbsync and offlineimap:
test_imap_sync_clients.py.)"""

from __future__ import annotations

import ssl

from imapclient import IMAPClient
from live_server import RunningServer
from real_clients import ADDRESS, HOST, PASSWORD


def _tls(server: RunningServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.cert))


def test_serve_stops_cleanly_while_an_imaps_client_stays_connected(
        imap_server: RunningServer) -> None:
    """A client that keeps its TLS connection open and never answers the server's
    close_notify (RFC 8446 §6.1 does not require waiting for it) must not hold up
    `serve` on SIGTERM: it used to wait asyncio's 30 s SSL shutdown timeout and be killed."""
    imap_server.account(ADDRESS, PASSWORD)
    silent = IMAPClient(HOST, port=imap_server.ports["imaps"], ssl_context=_tls(imap_server),
                        timeout=30)
    silent.login(ADDRESS, PASSWORD)
    silent.select_folder("INBOX")
    assert imap_server.stop() == 0  # not -9: killed after 15 s of waiting
    silent.shutdown()
