"""The webmail and the second-factor pages checked by axe-core in chromium (WCAG 2.1 A and AA:
no serious or critical violation) on a real `mailgate serve`, at desktop width and at 390 px:
the inbox, a message with its remote image blocked, compose, a reply, Deleted Items, search
results, the refusal page of a closed `web` door; the second step at sign-in, the
authenticator enrolment a department requires at sign-in, the recovery codes, `/account/mfa`.
And the keyboard on the webmail: the skip link first, leading past the folders, with a
visible focus outline.

Each page's full axe result goes to test-artifacts/accessibility/, its screenshot to
test-artifacts/browser/accessibility_<page>_<width>.png."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pyotp
import pytest
from accessibility import assert_accessible
from browser import click_and_wait, screenshot_path
from live_server import RunningServer, start_server
from playwright.sync_api import expect
from test_accessibility import WIDTHS
from test_mfa_browser import secret_shown
from webmail_client import account, base, plain, sign_in


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """IMAP and HTTP; department Lab requires MFA."""
    running = start_server(tmp_path_factory.mktemp("a11y-webmail") / "data", ("imap", "http"))
    running.cli("department", "create", "Lab")
    running.cli("mfa", "require", "department", "Lab", "on")
    yield running
    running.stop_cleanly()


@pytest.fixture(scope="module")
def reader(live: RunningServer) -> str:
    """An account with plain messages, an HTML one with a remote image, one deleted."""
    who = account(live, "reader", "--name", "Rita Reader")
    for i, sender in enumerate(("Bea Baker <bea@elsewhere.test>", "Cal <cal@elsewhere.test>")):
        live.deliver(who, plain(sender, who, f"Quarterly report part {i + 1}",
                                f"Hello Rita,\n\npart {i + 1} of the report.\n"))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "news@elsewhere.test", who, "Newsletter"
    message.set_content("plain version")
    message.add_alternative("<html><body><h2>Big news</h2><p>Read "
                            "<a href='https://example.org/'>more</a>.</p>"
                            "<img src='http://tracker.invalid/p.png' alt='logo'></body></html>",
                            subtype="html")
    live.deliver(who, message.as_bytes())
    live.deliver(who, plain("x@elsewhere.test", who, "Old invoice", "paid"))
    return who


@contextlib.contextmanager
def signed_in(browser, live: RunningServer, who: str, width: str,  # type: ignore[no-untyped-def]
              path: str = "/mail") -> Iterator[Any]:
    """A page at that width, signed in to the webmail as `who`; closed afterwards."""
    context = browser.new_context(viewport=WIDTHS[width])
    try:
        page = context.new_page()
        sign_in(page, live, who, path)
        yield page
    finally:
        context.close()


def check(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Photograph the page and run axe on it."""
    page.screenshot(path=str(screenshot_path(f"accessibility {name}")), full_page=True)
    assert_accessible(page, name)


@pytest.mark.parametrize("width", WIDTHS)
def test_webmail_pages(browser, live: RunningServer, reader: str, width: str) -> None:  # type: ignore[no-untyped-def]
    """Inbox, a message (image blocked), compose, reply, search results."""
    with signed_in(browser, live, reader, width) as page:
        assert page.locator("table.messages tbody tr").count() >= 3
        check(page, f"mail inbox {width}")
        click_and_wait(page, "text=Newsletter")
        assert "remote image blocked" in page.inner_text(".images-blocked")
        check(page, f"mail message {width}")
        click_and_wait(page, "a:has-text('Reply')")
        assert page.input_value("#subject") == "Re: Newsletter"
        check(page, f"mail reply {width}")
        page.goto(base(live) + "/mail/compose")
        check(page, f"mail compose {width}")
        page.goto(base(live) + "/mail?f=INBOX&q=report")
        expect(page.locator("table.messages tbody tr")).to_have_count(2)
        check(page, f"mail search {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_deleted_items(browser, live: RunningServer, width: str) -> None:  # type: ignore[no-untyped-def]
    who = account(live, f"del-{width}")
    live.deliver(who, plain("x@elsewhere.test", who, "Old invoice", "paid"))
    with signed_in(browser, live, who, width) as page:
        page.check("input[aria-label='Select: Old invoice']")
        click_and_wait(page, "button[value=delete]")
        page.goto(base(live) + "/mail?f=Deleted%20Items")
        assert "Old invoice" in page.inner_text("table.messages")
        check(page, f"mail deleted items {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_refusal_of_a_closed_web_door(browser, live: RunningServer, width: str) -> None:  # type: ignore[no-untyped-def]
    department = f"Closed{width}"
    live.cli("department", "create", department)
    who = account(live, f"shut-{width}", "--department", department)
    with signed_in(browser, live, who, width) as page:
        live.cli("department", "policy", department, "web", "deny")
        answer = page.goto(base(live) + "/mail")
        assert answer is not None and answer.status == 403
        check(page, f"mail refused {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_mfa_pages(browser, live: RunningServer, width: str) -> None:  # type: ignore[no-untyped-def]
    """Enrolment required at sign-in, the recovery codes, /account/mfa, then (signed in
    again) the second step."""
    who = account(live, f"lab-{width}", "--department", "Lab")
    context = browser.new_context(viewport=WIDTHS[width])
    try:
        page = context.new_page()
        page.goto(base(live) + "/account/mfa")
        page.fill("#address", who)
        page.fill("#password", "correct-horse-battery")
        click_and_wait(page, "button[type=submit]")
        assert page.inner_text("h1") == "Set up an authenticator app"
        check(page, f"mfa enrol at sign-in {width}")
        totp = pyotp.TOTP(secret_shown(page))
        page.fill("#code", totp.now())
        click_and_wait(page, "button[type=submit]")
        assert page.inner_text("h1") == "Your recovery codes"
        check(page, f"mfa recovery codes {width}")
        click_and_wait(page, "text=I have saved them, continue")
        page.goto(base(live) + "/account/mfa")
        assert page.inner_text("h1") == "Two-step sign-in"
        check(page, f"account mfa {width}")
        context.clear_cookies()
        page.goto(base(live) + "/mail")
        page.fill("#address", who)
        page.fill("#password", "correct-horse-battery")
        click_and_wait(page, "button[type=submit]")
        assert "/signin/second-factor" in page.url
        check(page, f"mfa second factor {width}")
        page.fill("#code", totp.at(time.time() + 30))
        click_and_wait(page, "button[type=submit]")
        assert page.url.endswith("/mail")
    finally:
        context.close()


def test_the_webmail_skip_link_is_first_and_leads_past_the_folders(
        browser, live: RunningServer, reader: str) -> None:  # type: ignore[no-untyped-def]
    with signed_in(browser, live, reader, "desktop") as page:
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('content')"
                             ".contains(document.activeElement)")
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
