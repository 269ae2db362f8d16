"""Staff tokens in the admin API against a real `mailgate serve`: an access token with the
scope `mailgate.admin` acts as its account within that account's staff roles (a help-desk
token is refused an admin call in the CLI's words), whether made by `mailgate token issue
--staff` or granted to an OAuth client through the device flow by a staff member; a token
without the scope, a revoked one, one from before a password change, and a staff token for an
account with no staff role are all refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from admin_client import ADMIN, HELPDESK, PASSWORD, USER, AdminApi, staff_api
from live_server import start_server
from oauth_browser import Browser

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminApi]:
    server = start_server(tmp_path_factory.mktemp("admin-api-tokens") / "data",
                          ("imap", "http"), oauth_issuer="http")
    try:
        yield staff_api(server)
    finally:
        server.stop()
    server.assert_clean_exit()


def _base(api: AdminApi) -> str:
    return f"http://127.0.0.1:{api.server.ports['http']}"


def _as(api: AdminApi, token: str, method: str, path: str,
        body: object = None) -> httpx.Response:
    with httpx.Client(base_url=api.base, timeout=20,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        return client.request(method, path, json=body)


def _issued(api: AdminApi, *args: str) -> dict[str, str]:
    return dict(json.loads(api.server.cli("token", "issue", *args, "--json").stdout))


def test_a_staff_token_acts_within_its_role(api: AdminApi) -> None:
    desk = _issued(api, HELPDESK, "--staff")
    assert desk["scope"] == "mailgate.admin"
    me = _as(api, desk["token"], "GET", "/me")
    assert me.status_code == 200 and me.json()["address"] == HELPDESK
    assert _as(api, desk["token"], "GET", "/accounts").status_code == 200
    refused = _as(api, desk["token"], "PUT", f"/accounts/{USER}/protocols/pop",
                  {"value": "on"})
    assert refused.status_code == 403
    cli = api.server.cli("--as", HELPDESK, "protocol", "set", USER, "pop", "on", check=False)
    assert cli.returncode != 0
    assert f"mailgate: {refused.json()['detail']}" == cli.stderr.strip()
    ops = _issued(api, ADMIN, "--staff", "--protocol", "imap")
    assert ops["scope"] == "mail.imap mailgate.admin"
    assert _as(api, ops["token"], "GET", "/queue").status_code == 200


def test_tokens_without_the_scope_revoked_or_outdated_get_the_one_401(api: AdminApi) -> None:
    mail_only = _issued(api, ADMIN, "--protocol", "imap")
    revoked = _issued(api, ADMIN, "--staff")
    api.server.cli("token", "revoke", ADMIN, revoked["jti"])
    answers = [_as(api, t, "GET", "/me") for t in (mail_only["token"], revoked["token"],
                                                   revoked["token"][:-4] + "AAAA", "a.b.c")]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1
    # a password change withdraws every token issued up to its second (the issue time is
    # whole seconds): its own account, so that no other test's token meets that second
    night = "night-desk@example.test"
    api.server.account(night, PASSWORD)
    api.server.cli("role", "grant", night, "helpdesk")
    desk = _issued(api, night, "--staff")
    assert _as(api, desk["token"], "GET", "/me").status_code == 200
    api.server.cli("account", "password", night, "--password-stdin",
                   stdin="a brand new password\n")
    assert _as(api, desk["token"], "GET", "/me").status_code == 401


def test_a_staff_token_needs_a_staff_role(api: AdminApi) -> None:
    refused = api.server.cli("token", "issue", USER, "--staff", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (f"mailgate: {USER} holds no staff role: a staff token "
                                      "would open nothing (mailgate role grant)")
    over_api = api.call("admin", "POST", f"/accounts/{USER}/tokens", {"staff": True})
    assert over_api.status_code == 422
    assert over_api.json()["detail"] == refused.stderr.strip().removeprefix("mailgate: ")
    made = api.call("admin", "POST", f"/accounts/{HELPDESK}/tokens", {"staff": True})
    assert made.status_code == 201 and made.json()["scope"] == "mailgate.admin"


def test_an_oauth_client_granted_the_staff_scope_acts_as_the_staff_member(
        api: AdminApi) -> None:
    plain = api.ok("admin", "POST", "/oauth/clients", {"name": "Mail app", "public": False})
    assert "mailgate.admin" not in plain["scopes"]  # type: ignore[index]
    robot = api.ok("admin", "POST", "/oauth/clients", {
        "name": "Ticket system", "public": False, "scopes": ["mailgate.admin"]})
    credentials = (robot["client_id"], robot["client_secret"])  # type: ignore[index]
    with httpx.Client(base_url=_base(api), auth=credentials, timeout=20) as client:
        codes = client.post("/oauth/device_authorization",
                            data={"scope": "mailgate.admin"}).json()
        browser = Browser(_base(api))
        page = browser.follow(browser.get("/device"))
        page = browser.follow(browser.sign_in(page, HELPDESK, PASSWORD))
        consent = browser.submit(browser.form(page, "/device"), user_code=codes["user_code"])
        assert "admin API, within your staff role" in consent.text
        assert "Device connected" in browser.consent(consent, "/device").text
        token = client.post("/oauth/token", data={"grant_type": DEVICE_GRANT,
                                                  "device_code": codes["device_code"]}).json()
    assert token["scope"] == "mailgate.admin"
    me = _as(api, token["access_token"], "GET", "/me")
    assert me.status_code == 200 and me.json()["address"] == HELPDESK
    assert _as(api, token["access_token"], "GET", "/queue").status_code == 403
