"""The web sign-in with a second factor, in Debian's chromium (Playwright) against a real
`mailgate serve`: enrolment at sign-in when a department requires MFA, an authenticator app
added on `/account/mfa`, password + TOTP approving a device code (also with JavaScript off),
a wrong and a replayed code refused. Codes are computed with pyotp from the secret the page
shows, as an app would."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest
import requests
from browser import click_and_wait, screenshot_path
from live_server import RunningServer, start_server
from playwright.sync_api import expect

PASSWORD = "correct-horse-battery"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("mfa") / "data", ("http",),
                           oauth_issuer="http")
    running.cli("department", "create", "Lab")
    running.cli("mfa", "require", "department", "Lab", "on")
    yield running
    running.stop_cleanly()


@pytest.fixture(scope="module")
def client_id(live: RunningServer) -> str:
    added = live.cli("oauth", "client", "add", "Mail script", "--public").stdout
    return next(line.split()[-1] for line in added.splitlines()
                if line.startswith("client_id:"))


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.ports['http']}"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(screenshot_path(name)), full_page=True)


def device_code(live: RunningServer, client_id: str) -> dict[str, str]:
    return dict(requests.post(base(live) + "/oauth/device_authorization", timeout=10,
                              data={"client_id": client_id, "scope": "mail.imap"}).json())


def poll(live: RunningServer, client_id: str, device: str) -> dict[str, object]:
    return dict(requests.post(base(live) + "/oauth/token", timeout=10, data={
        "grant_type": DEVICE_GRANT, "device_code": device, "client_id": client_id}).json())


def sign_in(page, live: RunningServer, path: str, address: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base(live) + path)
    assert "/signin" in page.url
    page.fill("#address", address)
    page.fill("#password", PASSWORD)
    shot(page, "signin page")
    click_and_wait(page, "button[type=submit]")


def approve(page, user_code: str) -> None:  # type: ignore[no-untyped-def]
    assert page.url.endswith("/device"), page.url
    page.fill("#user_code", user_code)
    click_and_wait(page, "button[type=submit]")
    shot(page, "consent page")
    click_and_wait(page, "button[value=allow]")
    assert page.inner_text("h1") == "Device connected"


def secret_shown(page) -> str:  # type: ignore[no-untyped-def]
    return page.inner_text("#secret").replace(" ", "")


def test_required_mfa_enrols_at_sign_in_then_approves_a_device_code(
        live: RunningServer, client_id: str, page) -> None:  # type: ignore[no-untyped-def]
    address = "lab@example.test"
    live.account(address, PASSWORD, "--department", "Lab")
    asked = device_code(live, client_id)
    sign_in(page, live, "/device", address)
    assert page.inner_text("h1") == "Set up an authenticator app"
    assert "department Lab requires" in page.inner_text("main")
    expect(page.locator(".qr svg")).to_have_count(1)
    shot(page, "mfa enrol at sign-in")
    totp = pyotp.TOTP(secret_shown(page))
    page.goto(base(live) + "/device")  # a half session reaches nothing else: back to enrol
    assert page.inner_text("h1") == "Set up an authenticator app"
    page.fill("#code", "000000" if totp.now() != "000000" else "111111")
    click_and_wait(page, "button[type=submit]")
    assert "not the code the app shows" in page.inner_text("[role=alert]")
    page.fill("#code", totp.now())
    click_and_wait(page, "button[type=submit]")
    assert page.inner_text("h1") == "Your recovery codes"
    expect(page.locator(".codes li")).to_have_count(10)
    shot(page, "mfa recovery codes")
    click_and_wait(page, "text=I have saved them, continue")
    approve(page, asked["user_code"])
    assert "access_token" in poll(live, client_id, asked["device_code"])


def test_password_and_totp_approve_a_device_code_and_wrong_or_replayed_codes_fail(
        live: RunningServer, client_id: str, page, browser) -> None:  # type: ignore[no-untyped-def]
    address = "ann@example.test"
    live.account(address, PASSWORD)
    # MFA is not required of ann: the password alone signs in; she adds an app of her own.
    sign_in(page, live, "/account/mfa", address)
    assert page.inner_text("h1") == "Two-step sign-in"
    click_and_wait(page, "text=Add an authenticator app")
    totp = pyotp.TOTP(secret_shown(page))
    page.fill("#code", totp.now())
    click_and_wait(page, "button[type=submit]")
    expect(page.locator(".codes li")).to_have_count(10)
    click_and_wait(page, "text=I have saved them, continue")
    assert "Set up" in page.inner_text("main")
    shot(page, "mfa account page")

    asked = device_code(live, client_id)
    other = browser.new_context().new_page()
    try:
        sign_in(other, live, "/device", address)
        assert other.inner_text("h1") == "Second step"
        other.goto(base(live) + "/device")  # the half session is sent back to the step
        assert other.inner_text("h1") == "Second step"
        other.fill("#code", "000000" if totp.now() != "000000" else "111111")
        click_and_wait(other, "button[type=submit]")
        assert "not right" in other.inner_text("[role=alert]")
        shot(other, "mfa wrong code")
        code = totp.at(time.time() + 30)  # the next step: the enrolment spent this one
        other.fill("#code", code)
        click_and_wait(other, "button[type=submit]")
        approve(other, asked["user_code"])
        assert "access_token" in poll(live, client_id, asked["device_code"])
    finally:
        other.context.close()

    replay = browser.new_context().new_page()
    try:
        sign_in(replay, live, "/device", address)
        replay.fill("#code", code)
        click_and_wait(replay, "button[type=submit]")
        assert "used already" in replay.inner_text("[role=alert]")
        assert replay.inner_text("h1") == "Second step"
        shot(replay, "mfa replayed code")
    finally:
        replay.context.close()
    audit = live.cli("audit", "--account", address, "--json").stdout
    assert "bad_second_factor" in audit and "reused_code" in audit, audit


def test_setting_up_and_signing_in_with_a_code_need_no_javascript(
        live: RunningServer, client_id: str, browser) -> None:  # type: ignore[no-untyped-def]
    address = "noj@example.test"
    live.account(address, PASSWORD)
    plain = browser.new_context(java_script_enabled=False).new_page()
    try:
        sign_in(plain, live, "/account/mfa/totp", address)
        totp = pyotp.TOTP(secret_shown(plain))
        plain.fill("#code", totp.now())
        click_and_wait(plain, "button[type=submit]")
        expect(plain.locator(".codes li")).to_have_count(10)
        plain.context.clear_cookies()
        asked = device_code(live, client_id)
        sign_in(plain, live, "/device", address)
        assert plain.inner_text("h1") == "Second step"
        plain.fill("#code", totp.at(time.time() + 30))
        click_and_wait(plain, "button[type=submit]")
        approve(plain, asked["user_code"])
        assert "access_token" in poll(live, client_id, asked["device_code"])
    finally:
        plain.context.close()

