"""Every web page on a real `mailgate serve` checked by axe-core in chromium (WCAG 2.1 A and
AA: no serious or critical violation), at desktop width and at 390 px: the sign-in page
(empty and with an error), the device and consent pages, the error pages, every `/account`
self-service page and every `/console` page as an admin, the help desk and a department admin
(and after a change). And the keyboard: the sign-in form filled and sent with Tab and Enter
only, the skip link leading past the navigation, a visible focus outline.

Each page's full axe result goes to test-artifacts/accessibility/, its screenshot to
test-artifacts/browser/accessibility_<page>_<width>.png."""

from __future__ import annotations

import contextlib
import imaplib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from accessibility import assert_accessible
from browser import screenshot_path
from console_helpers import address, base, console_server, password, sign_in
from live_server import RunningServer
from playwright.sync_api import expect

WIDTHS = {"desktop": {"width": 1280, "height": 800}, "390px": {"width": 390, "height": 844}}
USER = address("user")
ACCOUNT_PAGES = ("/account", "/account/requests", "/account/app-passwords",
                 "/account/sign-ins", "/account/recover", "/account/devices")
STAFF_PAGES = {
    "admin": ("/console/accounts?q=u", f"/console/accounts/{USER}", "/console/cases",
              "/console/departments", "/console/plans", "/console/usage", "/console/audit",
              "/console/accounts/nobody@example.org"),
    "help": ("/console/accounts?q=u", f"/console/accounts/{USER}", "/console/cases",
             "/console/usage", "/console/audit", "/console/plans"),
    "phys": ("/console/accounts?q=u", "/console/departments", "/console/cases"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Staff of every role, a plain user with an open case, a message in Recoverable Items,
    an app password and a public OAuth client."""
    running = console_server(tmp_path_factory.mktemp("accessibility") / "data")
    running.cli("case", "open", USER, "pop", "on", "--note", "My old phone speaks only POP")
    running.cli("app-password", "create", USER, "--label", "laptop", "--protocol", "imap")
    running.deliver(USER, b"From: a@example.test\r\nTo: user@example.org\r\n"
                          b"Subject: Budget\r\n\r\nnumbers\r\n")
    client = imaplib.IMAP4("127.0.0.1", running.ports["imap"], timeout=10)
    client.login(USER, password("user"))
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Deleted)")
    client.expunge()
    client.logout()
    yield running
    running.stop_cleanly()


@pytest.fixture(scope="module")
def signed_in(browser, server: RunningServer) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Each account's cookies once signed in, to open pages with."""
    states = {}
    for who in ("user", *STAFF_PAGES):
        context = browser.new_context()
        sign_in(context.new_page(), server, who, "/account")
        states[who] = context.storage_state()
        context.close()
    return states


@contextlib.contextmanager
def opened(browser, width: str, state: Any = None) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A page at that width with those cookies (None: signed out), closed afterwards."""
    context = browser.new_context(viewport=WIDTHS[width], storage_state=state)
    try:
        yield context.new_page()
    finally:
        context.close()


def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(screenshot_path(f"accessibility {name}")), full_page=True)


def check(browser, server: RunningServer, state: Any, path: str, width: str,  # type: ignore[no-untyped-def]
          name: str) -> None:
    """Open the page with those cookies at that width, photograph it, run axe on it."""
    with opened(browser, width, state) as page:
        page.goto(base(server) + path)
        shoot(page, f"{name} {width}")
        assert_accessible(page, f"{name} {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_signin_page(browser, server: RunningServer, width: str) -> None:  # type: ignore[no-untyped-def]
    check(browser, server, None, "/signin?next=/account", width, "signin")


@pytest.mark.parametrize("width", WIDTHS)
def test_signin_page_with_an_error(browser, server: RunningServer, width: str) -> None:  # type: ignore[no-untyped-def]
    with opened(browser, width) as page:
        page.goto(base(server) + "/signin?next=/account")
        page.fill("#address", USER)
        page.fill("#password", "not-the-password")
        page.click("button[type=submit]")
        expect(page.locator("[role=alert]")).to_have_count(1)
        shoot(page, f"signin error {width}")
        assert_accessible(page, f"signin error {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_error_page(browser, server: RunningServer, width: str) -> None:  # type: ignore[no-untyped-def]
    check(browser, server, None, "/oauth/authorize?client_id=nobody&response_type=code",
          width, "error")


@pytest.mark.parametrize("width", WIDTHS)
def test_device_consent_and_done_pages(
        browser, server: RunningServer, signed_in: dict[str, Any], width: str) -> None:  # type: ignore[no-untyped-def]
    """The device page (empty, then a wrong code), the consent page, the page after it."""
    added = server.cli("oauth", "client", "add", "Mail script", "--public").stdout
    client_id = next(line.split()[-1] for line in added.splitlines()
                     if line.startswith("client_id:"))
    asked = requests.post(base(server) + "/oauth/device_authorization",
                          data={"client_id": client_id, "scope": "mail.imap"}, timeout=10)
    user_code = json.loads(asked.text)["user_code"]
    with opened(browser, width, signed_in["user"]) as page:
        page.goto(base(server) + "/device")
        assert_accessible(page, f"device {width}")
        page.fill("#user_code", "WRONG-CODE")
        page.click("button[type=submit]")
        expect(page.locator("[role=alert]")).to_have_count(1)
        assert_accessible(page, f"device error {width}")
        page.fill("#user_code", user_code)
        page.click("button[type=submit]")
        assert "Mail script" in page.inner_text("h1")
        shoot(page, f"consent {width}")
        assert_accessible(page, f"consent {width}")
        page.click("button[value=allow]")
        assert "Device connected" in page.inner_text("h1")
        assert_accessible(page, f"device done {width}")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_account_page(
        browser, server: RunningServer, signed_in: dict[str, Any], path: str, width: str) -> None:  # type: ignore[no-untyped-def]
    check(browser, server, signed_in["user"], path, width, path.strip("/").replace("/", "_"))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_new_app_password_shown_once(
        browser, server: RunningServer, signed_in: dict[str, Any], width: str) -> None:  # type: ignore[no-untyped-def]
    with opened(browser, width, signed_in["user"]) as page:
        page.goto(base(server) + "/account/app-passwords")
        page.check("#ap-imap")
        page.fill("#ap-label", f"phone {width}")
        page.click("form.stack button[type=submit]")
        expect(page.locator("#secret")).to_have_count(1)
        shoot(page, f"account_app-passwords created {width}")
        assert_accessible(page, f"account_app-passwords created {width}")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("who", "path"), [(who, path) for who, paths in STAFF_PAGES.items()
                                           for path in paths])
def test_console_page(
        browser, server: RunningServer, signed_in: dict[str, Any], who: str, path: str,
        width: str) -> None:  # type: ignore[no-untyped-def]
    name = path.strip("/").split("?")[0].replace("/", "_").replace("@", "_")
    check(browser, server, signed_in[who], path, width, f"{who} {name}")


@pytest.mark.parametrize("width", WIDTHS)
def test_console_page_after_a_change(
        browser, server: RunningServer, signed_in: dict[str, Any], width: str) -> None:  # type: ignore[no-untyped-def]
    """The notice saying what was done, on the account page it was done on."""
    changed = address(f"ned-{width}")
    server.account(changed, password("ned"))
    with opened(browser, width, signed_in["admin"]) as page:
        page.goto(f"{base(server)}/console/accounts/{changed}")
        page.locator("#door-imap input[name=reason]").fill("shared laptop")
        page.locator("#door-imap button", has_text="Turn off").click()
        expect(page.locator(".notice.ok")).to_have_count(1)
        shoot(page, f"console changed {width}")
        assert_accessible(page, f"console changed {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_console_refusing_a_plain_user(
        browser, server: RunningServer, signed_in: dict[str, Any], width: str) -> None:  # type: ignore[no-untyped-def]
    check(browser, server, signed_in["user"], "/console/accounts", width, "console not staff")


def test_sign_in_with_the_keyboard_only(browser, server: RunningServer) -> None:  # type: ignore[no-untyped-def]
    """Tab to each field in order, type, Enter in the password field sends the form; the
    focus always shows."""
    with opened(browser, "desktop") as page:
        page.goto(base(server) + "/signin?next=/account")
        page.keyboard.press("Tab")
        assert _focused(page, "id") == "address" and _outline(page) != "none"
        page.keyboard.type(USER)
        page.keyboard.press("Tab")
        assert _focused(page, "id") == "password" and _outline(page) != "none"
        page.keyboard.type(password("user"))
        page.keyboard.press("Tab")
        assert _focused(page, "textContent") == "Sign in" and _outline(page) != "none"
        page.keyboard.press("Shift+Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_url(base(server) + "/account")


@pytest.mark.parametrize("path", ["/account", "/console/cases"])
def test_the_skip_link_is_first_and_leads_to_the_main_content(
        browser, server: RunningServer, signed_in: dict[str, Any], path: str) -> None:  # type: ignore[no-untyped-def]
    with opened(browser, "desktop", signed_in["admin"]) as page:
        page.goto(base(server) + path)
        page.keyboard.press("Tab")
        assert _focused(page, "textContent") == "Skip to content"
        assert page.locator("a.skip").bounding_box()["y"] >= 0  # moved into view by focus
        assert _outline(page) != "none"
        shoot(page, f"skip link {path}")
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        inside = page.evaluate("document.getElementById('content')"
                               ".contains(document.activeElement)")
        assert inside, "Tab after the skip link should land inside the main content"


def _focused(page, attribute: str) -> str:  # type: ignore[no-untyped-def]
    return str(page.evaluate(f"document.activeElement.{attribute}"))


def _outline(page) -> str:  # type: ignore[no-untyped-def]
    """The focused element's outline style ("none" when focus would not show)."""
    return str(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))


def test_a_page_with_violations_fails_naming_rule_and_element(browser) -> None:  # type: ignore[no-untyped-def]
    """The check itself: an unlabelled field and grey-on-grey text are reported."""
    with opened(browser, "desktop") as page:
        page.set_content('<html lang="en"><title>t</title><main><input id="bare">'
                         '<p style="color:#bbb;background:#ccc">faint</p></main></html>')
        with pytest.raises(AssertionError) as failed:
            assert_accessible(page, "self-check")
    message = str(failed.value)
    assert "critical label:" in message and "#bare" in message
    assert "serious color-contrast:" in message
