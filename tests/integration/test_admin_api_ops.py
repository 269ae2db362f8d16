"""The admin API's `oauth client`, `queue` and `dkim` endpoints against a real `mailgate
serve`: a confidential client added over the API gets a token by the device flow and is
refused once removed; a message for an unreachable smarthost is listed, deleted and retried
with the CLI's effect; a key made over the API signs the next message that leaves."""

from __future__ import annotations

import imaplib
import json
import smtplib
import stat
from collections.abc import Iterator

import dkim
import httpx
import pytest
from admin_client import ADMIN, PASSWORD, AdminApi, staff_api
from live_server import start_server, wait_until
from oauth_browser import Browser
from smtp_clients import message
from smtp_receiver import Smarthost

ALICE = "alice@example.test"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, smarthost: Smarthost) -> Iterator[AdminApi]:
    # A failed try waits an hour: only `queue retry` sends a deferred message sooner.
    env = {"MAILGATE_SERVER_RELAY_HOST": "127.0.0.1",
           "MAILGATE_SERVER_RELAY_PORT": str(smarthost.port),
           "MAILGATE_SERVER_RELAY_TLS": "none",
           "MAILGATE_SERVER_QUEUE_RETRY_MIN": "1h",
           "MAILGATE_SERVER_QUEUE_RETRY_MAX": "1h"}
    server = start_server(tmp_path_factory.mktemp("admin-api-ops") / "data",
                          ("imap", "submission", "http"), env, oauth_issuer="http")
    try:
        api = staff_api(server)
        api.ok("admin", "POST", "/accounts", {"address": ALICE, "password": PASSWORD})
        yield api
    finally:
        server.stop()
    server.assert_clean_exit()


def _base(api: AdminApi) -> str:
    return f"http://127.0.0.1:{api.server.ports['http']}"


def _device_token(api: AdminApi, credentials: tuple[str, str], address: str
                  ) -> dict[str, object]:
    """The device flow of a confidential client (HTTP Basic), approved on /device."""
    with httpx.Client(base_url=_base(api), auth=credentials, timeout=20) as client:
        asked = client.post("/oauth/device_authorization",
                            data={"scope": "mail.imap offline_access"})
        assert asked.status_code == 200, asked.text
        codes = asked.json()
        browser = Browser(_base(api))
        page = browser.follow(browser.get("/device"))
        page = browser.follow(browser.sign_in(page, address, PASSWORD))
        consent = browser.submit(browser.form(page, "/device"), user_code=codes["user_code"])
        assert "Ticket robot" in consent.text, consent.text
        assert "Device connected" in browser.consent(consent, "/device").text
        token = client.post("/oauth/token", data={"grant_type": DEVICE_GRANT,
                                                  "device_code": codes["device_code"]})
        assert token.status_code == 200, token.text
        return dict(token.json())


def _imap_with_token(api: AdminApi, address: str, bearer: str) -> None:
    client = imaplib.IMAP4("127.0.0.1", api.server.ports["imap"], timeout=10)
    try:
        client.authenticate("XOAUTH2", lambda _: f"user={address}\x01auth=Bearer {bearer}"
                                                 "\x01\x01".encode())
        assert client.select("INBOX")[0] == "OK"
    finally:
        client.logout()


def test_a_client_added_over_the_api_gets_a_token_and_is_refused_once_removed(
        api: AdminApi) -> None:
    made = api.call("admin", "POST", "/oauth/clients",
                    {"name": "Ticket robot", "public": False, "scopes": ["mail.imap",
                                                                         "offline_access"]})
    assert made.status_code == 201, made.text
    client = made.json()
    secret = client["client_secret"]
    assert client["type"] == "confidential" and len(secret) == 64
    assert client["scopes"] == ["mail.imap", "offline_access"]
    listed = api.call("admin", "GET", "/oauth/clients")
    assert [c["client_id"] for c in listed.json()] == [client["client_id"]]
    assert secret not in listed.text and "client_secret" not in listed.text
    assert secret not in api.server.log.read_text(errors="replace")
    cli_listed = json.loads(api.server.cli("oauth", "client", "list", "--json").stdout)
    assert cli_listed == listed.json()
    [added] = [e for e in api.ok("admin", "GET", "/audit")  # type: ignore[union-attr]
               if e["action"] == "oauth.client.add"]
    assert (added["actor"], added["client_id"]) == (ADMIN, client["client_id"])
    assert secret not in json.dumps(added)

    credentials = (client["client_id"], secret)
    token = _device_token(api, credentials, ALICE)
    _imap_with_token(api, ALICE, str(token["access_token"]))

    removed = api.call("admin", "DELETE", f"/oauth/clients/{client['client_id']}")
    assert removed.status_code == 204, removed.text
    assert api.ok("admin", "GET", "/oauth/clients") == []
    with httpx.Client(base_url=_base(api), auth=credentials, timeout=20) as gone:
        refresh = gone.post("/oauth/token", data={"grant_type": "refresh_token",
                                                  "refresh_token": token["refresh_token"]})
        assert (refresh.status_code, refresh.json()["error"]) == (401, "invalid_client")
        again = gone.post("/oauth/device_authorization", data={"scope": "mail.imap"})
        assert (again.status_code, again.json()["error"]) == (401, "invalid_client")
    missing = api.call("admin", "DELETE", f"/oauth/clients/{client['client_id']}")
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"no OAuth client {client['client_id']}"
    public = api.ok("admin", "POST", "/oauth/clients", {"name": "Phone app"})
    assert public["type"] == "public" and public["client_secret"] is None  # type: ignore[index]
    bad = api.call("admin", "POST", "/oauth/clients", {"name": "x", "scopes": ["mail.fax"]})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("unknown scope 'mail.fax'")


def _submit(api: AdminApi, to: str, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", api.server.ports["submission"], timeout=10) as client:
        client.login(ALICE, PASSWORD)
        assert client.sendmail(ALICE, [to], message(ALICE, to, subject)) == {}


def _spooled(api: AdminApi, queue_id: str) -> bool:
    return (api.server.data / "blobs" / "outbound" / queue_id).exists()


def test_a_message_for_an_unreachable_host_is_listed_deleted_and_retried(
        api: AdminApi, smarthost: Smarthost) -> None:
    smarthost.down()
    try:
        _submit(api, "fay@outside.example", "keep me")
        _submit(api, "gil@outside.example", "drop me")

        def tried() -> list[dict[str, object]]:
            entries = api.ok("admin", "GET", "/queue")
            return entries if len(entries) == 2 and all(  # type: ignore[arg-type, return-value]
                r["attempts"] >= 1 for e in entries for r in e["recipients"]) else []

        wait_until(tried, 20, lambda: f"queue: {api.ok('admin', 'GET', '/queue')}")
        entries = {e["recipients"][0]["address"]: e for e in tried()}  # type: ignore[index]
        keep, drop = entries["fay@outside.example"], entries["gil@outside.example"]
        assert keep["sender"] == ALICE and keep["recipients"][0]["state"] == "queued"
        assert "127.0.0.1" in keep["recipients"][0]["last_error"]
        cli = json.loads(api.server.cli("queue", "list", "--json").stdout)
        assert sorted(cli, key=lambda e: e["id"]) == sorted(tried(), key=lambda e: e["id"])

        deleted = api.ok("admin", "DELETE", f"/queue/{drop['id']}")
        assert deleted["id"] == drop["id"] and deleted["sender"] == ALICE  # type: ignore[index]
        assert not _spooled(api, str(drop["id"])) and _spooled(api, str(keep["id"]))
        assert [e["id"] for e in api.ok("admin", "GET", "/queue")] == [keep["id"]]  # type: ignore[union-attr]
        [audited] = [e for e in api.ok("admin", "GET", "/audit")  # type: ignore[union-attr]
                     if e["action"] == "queue.delete" and e["queue_id"] == drop["id"]]
        assert (audited["actor"], audited["account"]) == (ADMIN, ALICE)
        assert audited["recipients"] == ["gil@outside.example"]
        again = api.call("admin", "DELETE", f"/queue/{drop['id']}")
        assert again.status_code == 404
        assert again.json()["detail"] == f"no queued message {drop['id']}"
    finally:
        smarthost.up()
    # the next try is an hour away: only the retry sends it now
    retried = api.ok("admin", "POST", f"/queue/{keep['id']}/retry")
    assert retried == {"id": keep["id"], "recipients": 1}
    wait_until(lambda: smarthost.arrived("keep me"), 20,
               lambda: f"queue: {api.ok('admin', 'GET', '/queue')}")
    wait_until(lambda: api.ok("admin", "GET", "/queue") == [], 10)
    assert not smarthost.arrived("drop me")
    assert api.ok("admin", "POST", "/queue/retry") == {"id": None, "recipients": 0}


def test_a_key_made_over_the_api_signs_the_next_message_that_leaves(
        api: AdminApi, smarthost: Smarthost) -> None:
    made = api.call("admin", "POST", "/dkim/keys", {"domain": "Example.TEST",
                                                   "selector": "api1"})
    assert made.status_code == 201, made.text
    shown = made.json()
    assert (shown["domain"], shown["selector"]) == ("example.test", "api1")
    assert shown["name"] == "api1._domainkey.example.test"
    assert shown["record"].startswith("api1._domainkey.example.test. IN TXT ( \"v=DKIM1; ")
    assert "PRIVATE" not in made.text
    key = api.server.data / "dkim" / "example.test" / "api1.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    [audited] = [e for e in api.ok("admin", "GET", "/audit")  # type: ignore[union-attr]
                 if e["action"] == "dkim.generate"]
    assert (audited["actor"], audited["domain"], audited["selector"]) == (
        ADMIN, "example.test", "api1")

    _submit(api, "hal@outside.example", "signed by the api key")
    wait_until(lambda: smarthost.arrived("signed by the api key"), 20,
               lambda: f"queue: {api.ok('admin', 'GET', '/queue')}")
    [(_, _, data)] = smarthost.arrived("signed by the api key")
    signed = data[data.index(b"DKIM-Signature: "):]
    assert b"s=api1" in signed[:600] and b"d=example.test" in signed[:600]

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        wanted = shown["name"].encode()
        return shown["value"].encode() if name.rstrip(b".") == wanted else None

    assert dkim.verify(data, dnsfunc=dnsfunc)

    twice = api.call("admin", "POST", "/dkim/keys", {"domain": "example.test",
                                                    "selector": "api1"})
    cli = api.server.cli("dkim", "generate", "example.test", "--selector", "api1",
                         check=False)
    assert twice.status_code == 409
    assert cli.returncode == 1 and cli.stderr.strip() == f"mailgate: {twice.json()['detail']}"
    bad = api.call("admin", "POST", "/dkim/keys", {"domain": "../etc"})
    assert bad.status_code == 422 and bad.json()["detail"] == "'../etc' is not a domain name"
    assert sorted(p.name for p in key.parent.iterdir()) == ["api1.pem"]
