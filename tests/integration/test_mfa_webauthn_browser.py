"""A security key as second factor in Debian's chromium, with Chromium's virtual
authenticator (DevTools `WebAuthn.addVirtualAuthenticator`): registered on
`/account/mfa/security-key`, then used at the next sign-in to approve a device code. The
issuer is http://localhost:PORT: WebAuthn needs a host name for its relying party."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from browser import click_and_wait, screenshot_path
from live_server import RunningServer, start_server
from playwright.sync_api import expect

PASSWORD = "correct-horse-battery"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("webauthn") / "data", ("http",),
                           oauth_issuer="localhost")
    yield running
    running.stop_cleanly()


def test_a_security_key_registers_and_then_signs_in(live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    base = f"http://localhost:{live.ports['http']}"
    address = "kim@example.test"
    live.account(address, PASSWORD)
    added = live.cli("oauth", "client", "add", "Mail script", "--public").stdout
    client_id = next(line.split()[-1] for line in added.splitlines()
                     if line.startswith("client_id:"))
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    devtools.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False,
        "hasUserVerification": False, "automaticPresenceSimulation": True}})

    page.goto(base + "/account/mfa/security-key")
    page.fill("#address", address)
    page.fill("#password", PASSWORD)
    click_and_wait(page, "button[type=submit]")
    assert page.inner_text("h1") == "Add a security key"
    page.fill("#label", "Blue key <b>")
    click_and_wait(page, "text=Register security key")
    page.wait_for_selector("text=Your recovery codes")
    expect(page.locator(".codes li")).to_have_count(10)
    click_and_wait(page, "text=I have saved them, continue")
    assert "Blue key <b>" in page.inner_text("table")  # shown as text, not markup
    page.screenshot(path=str(screenshot_path("mfa security key registered")), full_page=True)

    asked = requests.post(base + "/oauth/device_authorization", timeout=10, data={
        "client_id": client_id, "scope": "mail.imap"}).json()
    page.context.clear_cookies()
    page.goto(base + "/device")
    page.fill("#address", address)
    page.fill("#password", PASSWORD)
    click_and_wait(page, "button[type=submit]")
    assert page.inner_text("h1") == "Second step"
    expect(page.locator("#code")).to_have_count(0)  # no authenticator app: the key, or a code
    page.screenshot(path=str(screenshot_path("mfa security key step")), full_page=True)
    click_and_wait(page, "text=Use a security key")
    page.wait_for_url(base + "/device")
    page.fill("#user_code", asked["user_code"])
    click_and_wait(page, "button[type=submit]")
    click_and_wait(page, "button[value=allow]")
    assert page.inner_text("h1") == "Device connected"
    token = requests.post(base + "/oauth/token", timeout=10, data={
        "grant_type": DEVICE_GRANT, "device_code": asked["device_code"],
        "client_id": client_id}).json()
    assert "access_token" in token
    status = live.cli("mfa", "status", address, "--json").stdout
    assert '"last_used_at": null' not in status, status
