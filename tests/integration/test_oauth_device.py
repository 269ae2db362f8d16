"""The device authorization grant (RFC 8628) driven as a script without a browser would:
`curl` asks for a code and polls the token endpoint, a person approves on the /device page,
and `curl --oauth2-bearer` then signs in to IMAP, POP3 and SMTP with the token. Refresh
tokens rotate; a replayed one revokes its family; an expired device code is `expired_token`."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer, start_server
from oauth_browser import Browser
from sqlalchemy import update

from mailgate.db.schema import oauth_device_codes
from mailgate.service import Service

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

PASSWORD = "correct-horse-battery"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MESSAGE = b"From: {a}\r\nTo: {a}\r\nSubject: device\r\n\r\nsent with a device-flow token\r\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("device") / "data",
                           ("imap", "pop3", "submission", "http"), oauth_issuer="http")
    yield running
    running.stop_cleanly()


@pytest.fixture(scope="module")
def client_id(live: RunningServer) -> str:
    added = live.cli("oauth", "client", "add", "Mail script", "--public").stdout
    return next(line.split()[-1] for line in added.splitlines()
                if line.startswith("client_id:"))


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.ports['http']}"


def curl_post(live: RunningServer, path: str, **fields: str) -> dict[str, object]:
    argv = ["curl", "-sS", "--max-time", "20"]
    for name, value in fields.items():
        argv += ["--data-urlencode", f"{name}={value}"]
    done = subprocess.run([*argv, base(live) + path], capture_output=True, text=True,
                          timeout=30, check=True)
    return dict(json.loads(done.stdout))


def curl_bearer(live: RunningServer, url: str, bearer: str, user: str, *extra: str
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--oauth2-bearer", bearer,
                           "--user", f"{user}:", *extra, url],
                          capture_output=True, text=True, timeout=30)


def approve(live: RunningServer, address: str, user_code: str, decision: str = "allow") -> str:
    """A person on the /device page: signs in, types the code, answers the consent page."""
    browser = Browser(base(live))
    page = browser.follow(browser.get("/device"))
    page = browser.follow(browser.sign_in(page, address, PASSWORD))
    entry = browser.form(page, "/device")
    consent = browser.submit(entry, user_code=user_code.lower())
    assert consent.status_code == 200 and "Mail script" in consent.text, consent.text
    done = browser.consent(consent, "/device", decision)
    assert done.status_code == 200
    return done.text


def device_token(live: RunningServer, client_id: str, address: str, scope: str
                 ) -> dict[str, object]:
    asked = curl_post(live, "/oauth/device_authorization", client_id=client_id, scope=scope)
    assert asked["verification_uri"] == base(live) + "/device"
    poll = {"grant_type": DEVICE_GRANT, "device_code": str(asked["device_code"]),
            "client_id": client_id}
    assert curl_post(live, "/oauth/token", **poll)["error"] == "authorization_pending"
    assert "Device connected" in approve(live, address, str(asked["user_code"]))
    return curl_post(live, "/oauth/token", **poll)


def test_a_device_flow_token_signs_curl_in_to_imap_pop3_and_smtp(
        live: RunningServer, client_id: str, tmp_path: Path) -> None:
    address = "ida@example.test"
    live.account(address, PASSWORD)
    live.cli("protocol", "set", address, "pop", "on")
    token = device_token(live, client_id, address, "mail.imap mail.pop mail.smtp")
    assert token["token_type"] == "Bearer" and "refresh_token" not in token
    bearer = str(token["access_token"])
    message = tmp_path / "message.eml"
    message.write_bytes(MESSAGE.replace(b"{a}", address.encode()))
    sent = curl_bearer(live, f"smtp://127.0.0.1:{live.ports['submission']}/", bearer, address,
                       "--mail-from", address, "--mail-rcpt", address, "-T", str(message))
    assert sent.returncode == 0, sent.stderr
    listed = curl_bearer(live, f"imap://127.0.0.1:{live.ports['imap']}/", bearer, address)
    assert listed.returncode == 0 and '"INBOX"' in listed.stdout, listed.stderr
    popped = curl_bearer(live, f"pop3://127.0.0.1:{live.ports['pop3']}/1", bearer, address)
    assert popped.returncode == 0 and "device-flow token" in popped.stdout, popped.stderr


def test_polling_too_fast_slows_down_and_a_denied_code_is_access_denied(
        live: RunningServer, client_id: str) -> None:
    address = "jon@example.test"
    live.account(address, PASSWORD)
    asked = curl_post(live, "/oauth/device_authorization", client_id=client_id,
                      scope="mail.imap")
    poll = {"grant_type": DEVICE_GRANT, "device_code": str(asked["device_code"]),
            "client_id": client_id}
    assert curl_post(live, "/oauth/token", **poll)["error"] == "authorization_pending"
    assert curl_post(live, "/oauth/token", **poll)["error"] == "slow_down"
    assert "Not connected" in approve(live, address, str(asked["user_code"]), "deny")
    assert curl_post(live, "/oauth/token", **poll)["error"] == "access_denied"
    assert curl_post(live, "/oauth/token", **poll)["error"] == "invalid_grant"


def test_an_expired_device_code_is_expired_token_and_cannot_be_approved(
        live: RunningServer, client_id: str) -> None:
    asked = curl_post(live, "/oauth/device_authorization", client_id=client_id,
                      scope="mail.imap")
    svc = Service.open(live.data)
    try:  # ten minutes pass
        with svc.engine.begin() as conn:
            conn.execute(update(oauth_device_codes).where(
                oauth_device_codes.c.device_code_hash == svc.app_secret_key.mac(
                    str(asked["device_code"]))).values(expires_at=svc.clock() - 1))
    finally:
        svc.dispose()
    poll = {"grant_type": DEVICE_GRANT, "device_code": str(asked["device_code"]),
            "client_id": client_id}
    assert curl_post(live, "/oauth/token", **poll)["error"] == "expired_token"
    address = "kim@example.test"
    live.account(address, PASSWORD)
    browser = Browser(base(live))
    page = browser.follow(browser.sign_in(browser.follow(browser.get("/device")), address,
                                          PASSWORD))
    refused = browser.submit(browser.form(page, "/device"), user_code=str(asked["user_code"]))
    assert refused.status_code == 400 and "expired" in refused.text


def test_refresh_tokens_rotate_and_a_replayed_one_revokes_the_whole_family(
        live: RunningServer, client_id: str) -> None:
    address = "lea@example.test"
    live.account(address, PASSWORD)
    first = device_token(live, client_id, address, "mail.imap offline_access")
    refresh = {"grant_type": "refresh_token", "client_id": client_id}
    second = curl_post(live, "/oauth/token", **refresh,
                       refresh_token=str(first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    imap = f"imap://127.0.0.1:{live.ports['imap']}/"
    assert curl_bearer(live, imap, str(second["access_token"]), address).returncode == 0
    replayed = curl_post(live, "/oauth/token", **refresh,
                         refresh_token=str(first["refresh_token"]))
    assert replayed["error"] == "invalid_grant"
    latest = curl_post(live, "/oauth/token", **refresh,
                       refresh_token=str(second["refresh_token"]))
    assert latest["error"] == "invalid_grant"
    for issued in (first, second):  # the access tokens of the family go too
        assert curl_bearer(live, imap, str(issued["access_token"]), address).returncode == 67
    audit = json.loads(live.cli("audit", "--account", address, "--json").stdout)
    assert any(entry["action"] == "oauth.refresh.replay" for entry in audit)


@pytest.mark.skipif(shutil.which("msmtp") is None, reason="msmtp is not installed")
def test_msmtp_sends_with_oauthbearer_and_a_device_flow_token(
        live: RunningServer, client_id: str, tmp_path: Path) -> None:
    address = "max@example.test"
    live.account(address, PASSWORD)
    token = device_token(live, client_id, address, "mail.smtp mail.imap")
    saved = tmp_path / "token"
    saved.write_text(str(token["access_token"]))
    raw = MESSAGE.replace(b"{a}", address.encode()).replace(b"device-flow", b"msmtp")
    sent = subprocess.run(["msmtp", "--file=/dev/null", "--host=127.0.0.1",
                           f"--port={live.ports['submission']}", "--tls=on",
                           "--tls-starttls=on", f"--tls-trust-file={live.cert}",
                           "--auth=oauthbearer", f"--user={address}",
                           f"--passwordeval=cat {saved}", f"--from={address}", address],
                          input=raw, capture_output=True, timeout=30)
    assert sent.returncode == 0, sent.stderr.decode()
    fetched = curl_bearer(live, f"imap://127.0.0.1:{live.ports['imap']}/INBOX;UID=1",
                          str(token["access_token"]), address)
    assert "sent with a msmtp token" in fetched.stdout, fetched.stderr
