"""A password change ends the account's tokens: the refresh-token family from a device-flow
sign-in is refused (`invalid_grant`), its access token no longer signs in, and an IMAP
session open with it ends within a second; an app password, its own credential, still
works, and a sign-in with the new password gets tokens that work."""

from __future__ import annotations

import imaplib
import time
from collections.abc import Iterator

import pytest
import requests
from live_server import RunningServer, start_server
from oauth_browser import Browser

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "a-new-password-42"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("pwtokens") / "data", ("imap", "http"),
                           oauth_issuer="http")
    yield running
    running.stop_cleanly()


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.ports['http']}"


def post(live: RunningServer, path: str, **fields: str) -> dict[str, object]:
    return dict(requests.post(base(live) + path, data=fields, timeout=10).json())


def device_tokens(live: RunningServer, client_id: str, address: str, password: str
                  ) -> dict[str, object]:
    asked = post(live, "/oauth/device_authorization", client_id=client_id,
                 scope="mail.imap offline_access")
    browser = Browser(base(live))
    page = browser.follow(browser.sign_in(browser.follow(browser.get("/device")), address,
                                          password))
    consent = browser.submit(browser.form(page, "/device"), user_code=str(asked["user_code"]))
    assert browser.consent(consent, "/device").status_code == 200
    return post(live, "/oauth/token", grant_type=DEVICE_GRANT, client_id=client_id,
                device_code=str(asked["device_code"]))


def imap_with_token(live: RunningServer, address: str, bearer: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    client.authenticate("OAUTHBEARER",
                        lambda _: f"n,a={address},\x01auth=Bearer {bearer}\x01\x01".encode())
    return client


def test_a_password_change_revokes_refresh_families_and_tokens_and_ends_their_sessions(
        live: RunningServer) -> None:
    address = "tia@example.test"
    live.account(address, PASSWORD)
    added = live.cli("oauth", "client", "add", "Mail app", "--public").stdout
    client_id = next(line.split()[-1] for line in added.splitlines()
                     if line.startswith("client_id:"))
    app_password = live.cli("app-password", "create", address, "--protocol", "imap"
                            ).stdout.split()[-1]
    tokens = device_tokens(live, client_id, address, PASSWORD)
    bearer, refresh = str(tokens["access_token"]), str(tokens["refresh_token"])
    idle = imap_with_token(live, address, bearer)
    idle.select("INBOX")
    idle.send(b"i1 IDLE\r\n")
    assert idle.readline().startswith(b"+ ")

    changed = live.cli("account", "password", address, "--password-stdin",
                       stdin=NEW_PASSWORD + "\n")
    done = time.monotonic()
    bye = idle.readline()
    assert time.monotonic() - done < 1.0
    assert bye.startswith(b"* BYE") and b"PasswordChanged" in bye, bye
    idle.shutdown()
    assert "ended 1 live session" in changed.stdout

    refused = post(live, "/oauth/token", grant_type="refresh_token", client_id=client_id,
                   refresh_token=refresh)
    assert refused["error"] == "invalid_grant"
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap_with_token(live, address, bearer)
    other = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    assert other.login(address, app_password)[0] == "OK"  # its own credential
    other.logout()

    time.sleep(1.1)  # token times are whole seconds: a token of the change's second is revoked
    fresh = device_tokens(live, client_id, address, NEW_PASSWORD)
    client = imap_with_token(live, address, str(fresh["access_token"]))
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    audit = live.cli("audit", "--account", address, "--json").stdout
    assert '"tokens_revoked": "all"' in audit or '"tokens_revoked":"all"' in audit, audit
