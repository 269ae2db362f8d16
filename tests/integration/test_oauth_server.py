"""The OAuth server against a real `mailgate serve`: authlib's own client completes the
authorization code flow with PKCE through the sign-in and consent pages and checks the ID
token against the discovery document and JWKS; the token opens the mail doors; every wrong
request gets its standard error (PKCE mismatch, unregistered redirect_uri, missing CSRF token,
bad client secret), and a compromised account neither signs in nor refreshes."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from live_server import RunningServer, start_server
from oauth_browser import Browser

from mailgate.auth.keys import SigningKeys

PASSWORD = "correct-horse-battery"
CALLBACK = "http://127.0.0.1:8765/callback"
ALL = "openid email profile offline_access mail.imap mail.pop mail.smtp"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("oauth") / "data",
                           ("imap", "pop3", "submission", "http"), oauth_issuer="http")
    yield running
    running.stop_cleanly()


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.ports['http']}"


def discovery(live: RunningServer) -> dict[str, object]:
    return dict(requests.get(f"{base(live)}/.well-known/openid-configuration",
                             timeout=10).json())


def client(live: RunningServer, name: str, *extra: str) -> dict[str, object]:
    """`mailgate oauth client add` as the operator would run it."""
    args = ["oauth", "client", "add", name, "--redirect-uri", CALLBACK, *extra, "--json"]
    return dict(json.loads(live.cli(*args).stdout))


def account(live: RunningServer, address: str) -> str:
    live.account(address, PASSWORD)
    return address


def authorize(live: RunningServer, browser: Browser, url: str, address: str,
              decision: str = "allow") -> requests.Response:
    """Open the authorization URL, sign in if asked, answer the consent page: the redirect
    back to the client."""
    page = browser.follow(browser.get(url))
    if urlsplit(page.url).path == "/signin":
        signed_in = browser.sign_in(page, address, PASSWORD)
        assert signed_in.status_code == 303, signed_in.text
        page = browser.follow(signed_in)
    assert "asks for" in page.text, page.text
    return browser.consent(page, "/oauth/authorize", decision)


def code_flow(live: RunningServer, registered: dict[str, object], address: str,
              scope: str = ALL) -> tuple[OAuth2Session, dict[str, object], str]:
    """authlib's client through the pages: the session, its token and the nonce it sent."""
    meta = discovery(live)
    session = OAuth2Session(registered["client_id"], registered.get("client_secret"),
                            scope=scope, redirect_uri=CALLBACK, code_challenge_method="S256")
    verifier, nonce = generate_token(48), generate_token(16)
    url, _state = session.create_authorization_url(meta["authorization_endpoint"],
                                                   code_verifier=verifier, nonce=nonce)
    back = authorize(live, Browser(base(live)), url, address)
    assert back.status_code == 303 and back.headers["location"].startswith(CALLBACK)
    token = session.fetch_token(meta["token_endpoint"],
                                authorization_response=back.headers["location"],
                                code_verifier=verifier)
    return session, dict(token), nonce


def curl_imap(live: RunningServer, bearer: str, address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--oauth2-bearer", bearer,
                           "--user", f"{address}:", f"imap://127.0.0.1:{live.ports['imap']}/"],
                          capture_output=True, text=True, timeout=30)


def test_discovery_names_this_server_and_the_jwks_holds_its_keys(live: RunningServer) -> None:
    meta = discovery(live)
    assert meta["issuer"] == base(live)
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "urn:ietf:params:oauth:grant-type:device_code" in meta["grant_types_supported"]
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri",
                     "device_authorization_endpoint", "revocation_endpoint",
                     "introspection_endpoint", "userinfo_endpoint"):
        assert str(meta[endpoint]).startswith(base(live) + "/"), endpoint
    rfc8414 = requests.get(f"{base(live)}/.well-known/oauth-authorization-server", timeout=10)
    assert rfc8414.json() == meta
    keys = requests.get(str(meta["jwks_uri"]), timeout=10).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["kid"] and "d" not in k for k in keys)
    added = SigningKeys(live.data).rotate()  # a rotation: the old keys still verify
    rotated = requests.get(str(meta["jwks_uri"]), timeout=10).json()["keys"]
    assert {k["kid"] for k in rotated} == {k["kid"] for k in keys} | {added}


def test_only_the_mail_team_registers_clients_and_every_change_is_audited(
        live: RunningServer) -> None:
    user = account(live, "ursula@example.test")
    refused = live.cli("oauth", "client", "add", "Mine", "--redirect-uri", CALLBACK,
                       acting_as=user, check=False)
    assert refused.returncode == 1 and "only the mail team" in refused.stderr
    registered = client(live, "Listed app", "--confidential", "--scope", "openid email")
    listed = json.loads(live.cli("oauth", "client", "list", "--json").stdout)
    mine = next(c for c in listed if c["client_id"] == registered["client_id"])
    assert mine["type"] == "confidential" and mine["scopes"] == ["email", "openid"]
    assert "client_secret" not in mine and registered["client_secret"]
    live.cli("oauth", "client", "remove", str(registered["client_id"]))
    gone = live.cli("oauth", "client", "remove", str(registered["client_id"]), check=False)
    assert gone.returncode == 1
    actions = [e["action"] for e in json.loads(live.cli("audit", "--json").stdout)]
    assert "oauth.client.add" in actions and "oauth.client.remove" in actions


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_authlib_completes_the_code_flow_with_pkce_and_the_id_token_verifies(
        live: RunningServer) -> None:
    address = account(live, "olga@example.test")
    registered = client(live, "Mail app")
    session, token, nonce = code_flow(live, registered, address)
    meta = discovery(live)
    keys = KeySet.import_key_set(requests.get(str(meta["jwks_uri"]), timeout=10).json())
    id_token = jwt.decode(str(token["id_token"]), keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": meta["issuer"]},
                          aud={"essential": True, "value": registered["client_id"]},
                          nonce={"essential": True, "value": nonce},
                          sub={"essential": True, "value": address}).validate(id_token.claims)
    assert id_token.claims["email"] == address
    assert session.get(str(meta["userinfo_endpoint"]), timeout=10).json()["email"] == address
    listed = curl_imap(live, str(token["access_token"]), address)
    assert listed.returncode == 0 and '"INBOX"' in listed.stdout, listed.stderr
    refreshed = session.refresh_token(str(meta["token_endpoint"]))
    assert refreshed["refresh_token"] != token["refresh_token"]
    audit = json.loads(live.cli("audit", "--account", address, "--json").stdout)
    actions = [entry["action"] for entry in audit]
    assert "oauth.consent" in actions and actions.count("oauth.token") == 2
    assert any(e["action"] == "signin" and e.get("protocol", e.get("details", {}).get(
        "protocol")) == "web" for e in audit), audit


def test_a_pkce_mismatch_is_invalid_grant_and_uses_the_code_up(live: RunningServer) -> None:
    address = account(live, "pete@example.test")
    registered = client(live, "PKCE check")
    meta = discovery(live)
    session = OAuth2Session(registered["client_id"], scope="mail.imap", redirect_uri=CALLBACK,
                            code_challenge_method="S256")
    url, _ = session.create_authorization_url(meta["authorization_endpoint"],
                                              code_verifier=generate_token(48))
    back = authorize(live, Browser(base(live)), url, address)
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": registered["client_id"]}
    wrong = requests.post(str(meta["token_endpoint"]),
                          data={**form, "code_verifier": generate_token(48)}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    without = requests.post(str(meta["token_endpoint"]), data=form, timeout=10)
    assert without.json()["error"] == "invalid_grant"
    # a public client must send a challenge at all, and S256 only
    for extra in ({}, {"code_challenge": generate_token(48), "code_challenge_method": "plain"}):
        refused = Browser(base(live)).get(
            f"/oauth/authorize?response_type=code&client_id={registered['client_id']}"
            f"&redirect_uri={CALLBACK}&scope=mail.imap&state=s1&"
            + "&".join(f"{k}={v}" for k, v in extra.items()))
        assert refused.status_code == 303
        answer = parse_qs(urlsplit(refused.headers["location"]).query)
        assert answer["error"] == ["invalid_request"] and answer["state"] == ["s1"]


def test_an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
        live: RunningServer) -> None:
    registered = client(live, "<script>alert(1)</script> & Co")
    browser = Browser(base(live))
    for uri in ("https://evil.example/steal", CALLBACK + "/more", CALLBACK + "?x=1",
                "http://127.0.0.1:8765/callbacK"):
        page = browser.get(f"/oauth/authorize?response_type=code&client_id="
                           f"{registered['client_id']}&scope=mail.imap&redirect_uri={uri}")
        assert page.status_code == 400 and "location" not in page.headers
        assert "<script>" not in page.text and "&lt;script&gt;alert(1)" in page.text
    unknown = browser.get(f"/oauth/authorize?response_type=code&client_id=nobody"
                          f"&redirect_uri={CALLBACK}")
    assert unknown.status_code == 400 and "location" not in unknown.headers


def test_every_form_without_its_csrf_token_is_refused_with_403(live: RunningServer) -> None:
    address = account(live, "carl@example.test")
    registered = client(live, "CSRF check")
    browser = Browser(base(live))
    page = browser.follow(browser.get(
        f"/oauth/authorize?response_type=code&client_id={registered['client_id']}"
        f"&redirect_uri={CALLBACK}&scope=mail.imap&code_challenge={generate_token(48)}"
        f"&code_challenge_method=S256"))
    form = browser.form(page, "/signin")
    forged = browser.submit(form, csrf="", address=address, password=PASSWORD)
    assert forged.status_code == 403
    foreign = Browser(base(live))  # another site's post: no cookie of ours
    assert foreign.submit(form, address=address, password=PASSWORD).status_code == 403
    consent = browser.follow(browser.sign_in(page, address, PASSWORD))
    for action in ("/oauth/authorize", "/signout"):
        assert browser.submit(browser.form(consent, action), csrf="x" * 43,
                              decision="allow").status_code == 403
    device = browser.form(browser.get("/device"), "/device")
    assert browser.submit(device, csrf="", user_code="BCDF-GHJK").status_code == 403


def test_a_bad_client_secret_is_invalid_client_and_only_confidential_clients_introspect(
        live: RunningServer) -> None:
    address = account(live, "dina@example.test")
    confidential = client(live, "Web portal", "--confidential")
    public = client(live, "Phone app")
    meta = discovery(live)
    _, token, _ = code_flow(live, confidential, address, "openid mail.imap")
    refused = requests.post(str(meta["token_endpoint"]), auth=(
        str(confidential["client_id"]), "wrong-secret"), data={
        "grant_type": "authorization_code", "code": "whatever"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert "Basic" in refused.headers["www-authenticate"]
    introspect = str(meta["introspection_endpoint"])
    by_public = requests.post(introspect, data={"client_id": public["client_id"],
                                                "token": token["access_token"]}, timeout=10)
    assert by_public.status_code == 401
    secret = (str(confidential["client_id"]), str(confidential["client_secret"]))
    seen = requests.post(introspect, auth=secret, data={"token": token["access_token"]},
                         timeout=10).json()
    assert seen["active"] is True and seen["username"] == address
    assert "mail.imap" in seen["scope"].split()
    revoked = requests.post(str(meta["revocation_endpoint"]), auth=secret,
                            data={"token": token["access_token"]}, timeout=10)
    assert revoked.status_code == 200
    assert requests.post(introspect, auth=secret, data={"token": token["access_token"]},
                         timeout=10).json() == {"active": False}
    assert curl_imap(live, str(token["access_token"]), address).returncode == 67


def test_unknown_accounts_fail_like_wrong_passwords_and_a_compromised_one_cannot_sign_in(
        live: RunningServer) -> None:
    address = account(live, "erin@example.test")
    registered = client(live, "Compromise check")
    meta = discovery(live)
    session, token, _ = code_flow(live, registered, address)
    browser = Browser(base(live))
    page = browser.get("/signin")
    unknown = browser.sign_in(page, "nobody@example.test", PASSWORD)
    wrong = browser.sign_in(page, address, "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.text.replace("nobody@example.test", address) == wrong.text
    live.cli("account", "compromise", address, "--reason", "phished")
    refreshed = requests.post(str(meta["token_endpoint"]), data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": registered["client_id"]}, timeout=10)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    refused = browser.sign_in(page, address, PASSWORD)
    assert refused.status_code == 403 and "ProtocolDisabled" in refused.text
    assert "compromised" in refused.text
    assert session.get(str(meta["userinfo_endpoint"]), timeout=10).status_code == 401


def test_a_request_body_past_64_kib_is_refused_before_it_is_read(live: RunningServer) -> None:
    token_endpoint = str(discovery(live)["token_endpoint"])
    big = requests.post(token_endpoint, data={"grant_type": "x" * 70_000}, timeout=10)
    assert big.status_code == 413
    chunked = requests.post(token_endpoint, data=iter([b"grant_type=", b"x" * 70_000]),
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                            timeout=10)
    assert chunked.status_code == 413


def test_over_the_https_listener_the_cookies_are_secure_and_sign_in_works(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    running = start_server(tmp_path_factory.mktemp("https") / "data", ("http", "https"),
                           oauth_issuer="https")
    try:
        issuer = f"https://localhost:{running.ports['https']}"
        address = account(running, "tess@example.test")
        browser = Browser(issuer, ca=str(running.cert))
        meta = browser.get("/.well-known/openid-configuration").json()
        assert meta["issuer"] == issuer and meta["token_endpoint"].startswith(issuer)
        page = browser.follow(browser.get("/device"))
        assert "Secure" in page.headers["set-cookie"]
        signed_in = browser.sign_in(page, address, PASSWORD)
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=lax"))
        assert "Connect a device" in browser.follow(signed_in).text
    finally:
        running.stop()
    running.assert_clean_exit()
