"""The webmail with htmx in a real browser (Debian's chromium through Playwright) against a
real `mailgate serve`: folder, list and message links swap the page in without reloading it,
the address bar and the back button follow, nothing of the mailbox is kept in the browser's
storage, the `web` door still answers with a page of its own (the refusal, the sign-in page),
no content policy is broken, and the same links still work with JavaScript off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from browser import click_and_wait, screenshot_path
from live_server import RunningServer, start_server
from playwright.sync_api import expect
from webmail_client import account, base, plain, sign_in


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("webmail-htmx") / "data", ("imap", "http"))
    yield running
    running.stop_cleanly()


def mailbox(live: RunningServer, name: str, *extra: str) -> str:
    """An account with two messages in its INBOX."""
    who = account(live, name, *extra)
    live.deliver(who, plain("ann@elsewhere.test", who, "Agenda for Monday", "1. budget"))
    live.deliver(who, plain("bob@elsewhere.test", who, "Minutes of Friday", "all agreed"))
    return who


def same_document(page) -> None:  # type: ignore[no-untyped-def]
    """Mark the document, to tell later whether a click replaced it."""
    page.evaluate("window.sameDocument = true")


def still_same_document(page) -> bool:  # type: ignore[no-untyped-def]
    return bool(page.evaluate("window.sameDocument === true"))


def test_links_swap_the_page_in_and_the_address_and_back_button_follow(
        live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    who = mailbox(live, "hana")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
            else None)
    sign_in(page, live, who)
    same_document(page)
    click_and_wait(page, "text=Agenda for Monday")
    expect(page.locator(".body")).to_contain_text("1. budget")
    assert page.title() == "Agenda for Monday · mailgate"
    assert re.search(r"/mail/m/\d+$", page.url)
    click_and_wait(page, "nav.folders >> text=Sent")
    expect(page.locator("main h1")).to_have_text("Sent")
    assert page.url.endswith("/mail?f=Sent")
    assert still_same_document(page), "the folder link reloaded the whole page"
    expect(page.locator("#content")).to_be_focused()
    page.go_back()
    expect(page.locator(".body")).to_contain_text("1. budget")
    page.fill("#q", "minutes")
    with page.expect_navigation():
        page.press("#q", "Enter")
    expect(page.locator("table.messages tbody tr")).to_have_count(1)
    assert "Minutes of Friday" in page.inner_text("table.messages")
    kept = page.evaluate("[Object.keys(localStorage), Object.keys(sessionStorage)]")
    assert kept == [[], ["htmx-current-path-for-history"]], "pages of the mailbox were kept"
    page.screenshot(path=str(screenshot_path("webmail htmx search")), full_page=True)
    assert not problems, problems


def test_the_message_with_images_shown_leaves_htmx_out(live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    who = mailbox(live, "ivo")
    sign_in(page, live, who)
    click_and_wait(page, "text=Agenda for Monday")
    assert page.locator("script[src='/static/htmx.min.js']").count() == 1
    page.goto(page.url + "?images=1")
    assert page.locator("script").count() == 0
    same_document(page)
    click_and_wait(page, "dd >> text=INBOX")
    assert not still_same_document(page), "a link from the permissive page stayed in it"


def test_a_door_closing_meets_the_next_click_with_the_refusal_page(
        live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    live.cli("department", "create", "Geology")
    who = mailbox(live, "jo", "--department", "Geology")
    sign_in(page, live, who)
    live.cli("department", "policy", "Geology", "web", "deny")
    with page.expect_navigation():
        page.click("nav.folders >> text=Sent")
    page.wait_for_load_state()
    assert page.url.endswith("/mail?f=Sent")
    text = " ".join(page.inner_text("main").split())
    assert "ProtocolDisabled: Webmail is turned off for this account by the policy of " \
           "department Geology. Contact the help desk." in text
    assert page.locator("nav.folders").count() == 0, "the refusal came inside the frame"
    page.screenshot(path=str(screenshot_path("webmail htmx refused")), full_page=True)
    page.goto(base(live) + "/mail")
    assert "/signin" in page.url


def test_a_session_that_ended_meets_the_next_click_with_the_sign_in_page(
        live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    who = mailbox(live, "kit")
    sign_in(page, live, who)
    page.context.clear_cookies()
    with page.expect_navigation(url=re.compile(r"/signin\?")):
        page.click("nav.folders >> text=Sent")
    assert page.url.endswith("/signin?next=" + quote("/mail?f=Sent", safe=""))
    expect(page.locator("#address")).to_be_visible()


def test_the_same_links_work_without_javascript(live: RunningServer, browser) -> None:  # type: ignore[no-untyped-def]
    who = mailbox(live, "lee")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live, who)
        click_and_wait(page, "text=Minutes of Friday")
        assert "all agreed" in page.inner_text(".body")
        click_and_wait(page, "nav.folders >> text=Sent")
        assert page.inner_text("main h1") == "Sent"
    finally:
        context.close()


def test_htmx_attributes_in_a_message_are_neither_kept_nor_obeyed(
        live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    who = account(live, "max")
    hostile = ("<p>Hello</p><div hx-get='/mail?f=Sent' hx-trigger='load' hx-target='body' "
               "data-hx-get='/mail/compose' data-hx-trigger='load'>x</div>"
               "<a href='/mail?f=Sent' hx-boost='true' id='own'>our own link</a>")
    raw = (f"From: spam@elsewhere.test\r\nTo: {who}\r\nSubject: Tricks\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           f"{hostile}\r\n").encode()
    live.deliver(who, raw)
    sign_in(page, live, who)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    click_and_wait(page, "text=Tricks")
    expect(page.locator(".body")).to_contain_text("Hello")
    assert page.locator(".body [hx-get], .body [data-hx-get], .body [hx-boost]").count() == 0
    assert page.get_attribute(".body", "hx-disable") is not None
    page.wait_for_load_state("networkidle")
    assert not [u for u in asked if "f=Sent" in u or "compose" in u], asked
