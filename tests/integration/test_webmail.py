"""The webmail in a real browser (Debian's chromium through Playwright) against a real
`mailgate serve`: signing in, reading (scripts never run, remote images never load until
asked), sending (checked over IMAP), replying, deleting, the `web` door closing while
signed in, the phone layout, and hostile text. Each test leaves a screenshot."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from browser import click_and_wait, screenshot_path
from live_server import RunningServer, start_server
from playwright.sync_api import expect
from webmail_client import account, base, imap, plain, sign_in, subjects

TRACKER = "http://tracker.invalid"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("webmail") / "data", ("imap", "http"))
    yield running
    running.stop_cleanly()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(screenshot_path(name)), full_page=True)


def test_sign_in_leads_to_the_inbox_with_its_unread_count(live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    ann = account(live, "ann", "--name", "Ann Archer")
    for i, who in enumerate(("Bea Baker <bea@elsewhere.test>", "Cal <cal@elsewhere.test>",
                             "Dee Dunn <dee@elsewhere.test>")):
        live.deliver(ann, plain(who, ann, f"Quarterly report part {i + 1}",
                                f"Hello Ann,\n\npart {i + 1} is attached in spirit.\n"))
    page.goto(base(live) + "/mail")
    assert "/signin?next=%2Fmail" in page.url
    sign_in(page, live, ann)
    assert page.title() == "INBOX · mailgate"
    assert page.inner_text("nav.folders a[aria-current=page]").split() == ["INBOX", "3"]
    expect(page.locator("table.messages tbody tr.unread")).to_have_count(3)
    assert "Dee Dunn" in page.inner_text("table.messages tbody tr:first-child")
    click_and_wait(page, "text=Quarterly report part 2")
    assert "part 2 is attached in spirit" in page.inner_text(".body")
    click_and_wait(page, "nav.folders >> text=INBOX")
    assert page.inner_text("nav.folders a[aria-current=page]").split() == ["INBOX", "2"]
    shot(page, "webmail inbox")


def test_a_script_never_runs_and_a_remote_image_loads_only_when_asked(
        live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    bo = account(live, "bo")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "news@elsewhere.test", bo, "Newsletter"
    message.set_content("plain version")
    message.add_alternative(
        "<html><body><h2>Big news</h2><p>Read <a href='https://example.org/'>more</a>.</p>"
        "<script>document.title='pwned'; console.log('script ran')</script>"
        f"<img src='{TRACKER}/pixel.png' alt='tracker'>"
        "<p onclick=\"console.log('handler ran')\">Click me</p>"
        "<img src=x onerror=\"console.log('onerror ran')\">"
        "<iframe src='https://example.org/'></iframe></body></html>", subtype="html")
    live.deliver(bo, message.as_bytes())
    logged: list[str] = []
    fetched: list[str] = []
    page.on("console", lambda m: logged.append(m.text))
    page.on("request", lambda r: fetched.append(r.url))
    page.route(f"{TRACKER}/**", lambda route: route.fulfill(
        status=200, content_type="image/png", body=b"\x89PNG\r\n\x1a\n"))
    sign_in(page, live, bo)
    click_and_wait(page, "text=Newsletter")
    assert "Big news" in page.inner_text(".body")
    page.click("text=Click me")
    assert page.title() == "Newsletter · mailgate"
    assert not [m for m in logged if "ran" in m]
    assert not [u for u in fetched if u.startswith(TRACKER)]
    expect(page.locator(".body script, .body iframe, .body [onclick]")).to_have_count(0)
    notice = page.inner_text(".images-blocked")
    assert "1 remote image blocked" in notice
    shot(page, "webmail message with images blocked")
    click_and_wait(page, "text=Show images")
    page.wait_for_load_state("networkidle")
    assert [u for u in fetched if u.startswith(TRACKER)] == [f"{TRACKER}/pixel.png"]
    assert not [m for m in logged if "ran" in m]


def test_compose_send_and_reply_with_the_original_quoted(live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    cy = account(live, "cy", "--name", "Cy Cole")
    di = account(live, "di", "--name", "Di Dale")
    sign_in(page, live, cy)
    click_and_wait(page, "text=New message")
    page.fill("#to", f"Di Dale <{di}>")
    page.fill("#subject", "Lunch on Friday?")
    page.fill("#body", "Hi Di,\nshall we have lunch on Friday?\nCy")
    shot(page, "webmail compose")
    click_and_wait(page, "button[value=send]")
    assert "Your message was sent." in page.inner_text(".flash")
    assert subjects(live, di) == ["Lunch on Friday?"]
    assert subjects(live, cy, "Sent") == ["Lunch on Friday?"]
    page.click("nav.account-nav button")  # sign out
    sign_in(page, live, di)
    click_and_wait(page, "text=Lunch on Friday?")
    click_and_wait(page, "text=Reply")
    assert page.input_value("#to") == "Cy Cole <cy@example.test>"
    assert page.input_value("#subject") == "Re: Lunch on Friday?"
    quoted = page.input_value("#body")
    assert "Cy Cole <cy@example.test> wrote:\n> Hi Di,\n> shall we have lunch on Friday?" \
        in quoted
    page.fill("#body", "Yes, noon at the canteen.\n" + quoted)
    shot(page, "webmail reply")
    click_and_wait(page, "button[value=send]")
    client = imap(live, cy)
    try:
        client.select("INBOX", readonly=True)
        _, data = client.fetch("1", "(BODY.PEEK[])")
        raw = data[0][1].decode()
    finally:
        client.logout()
    assert "Subject: Re: Lunch on Friday?" in raw
    assert "In-Reply-To: <" in raw and "Received: from webmail" in raw
    assert "> shall we have lunch on Friday?" in raw
    click_and_wait(page, "nav.folders >> text=INBOX")
    expect(page.locator("table.messages .replied")).to_have_count(1)


def test_delete_moves_to_deleted_items_and_from_there_to_recoverable_items(
        live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    ed = account(live, "ed")
    live.deliver(ed, plain("x@elsewhere.test", ed, "Old invoice", "paid"))
    live.deliver(ed, plain("x@elsewhere.test", ed, "New invoice", "due"))
    sign_in(page, live, ed)
    page.check("input[aria-label='Select: Old invoice']")
    click_and_wait(page, "button[value=delete]")
    expect(page.locator("table.messages tbody tr")).to_have_count(1)
    click_and_wait(page, "nav.folders >> text=Deleted Items")
    assert "Old invoice" in page.inner_text("table.messages")
    shot(page, "webmail deleted items")
    click_and_wait(page, "text=Old invoice")
    click_and_wait(page, "button[value=delete]")
    assert "This folder is empty." in page.inner_text("main")
    recoverable = live.cli("recover", "list", ed).stdout
    assert "Old invoice" in recoverable


def test_a_department_closing_web_ends_the_session_with_its_sentence(
        live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    live.cli("department", "create", "Physics")
    fay = account(live, "fay", "--department", "Physics")
    sign_in(page, live, fay)
    live.cli("department", "policy", "Physics", "web", "deny")
    answer = page.goto(base(live) + "/mail?f=Sent")
    assert answer is not None and answer.status == 403
    text = page.inner_text("main")
    assert "ProtocolDisabled: Webmail is turned off for this account by the policy of " \
           "department Physics. Contact the help desk." in " ".join(text.split())
    assert "your department's policy" in text
    shot(page, "webmail refused by department")
    page.goto(base(live) + "/mail")
    assert "/signin" in page.url


def test_the_phone_layout_fits_390_pixels(live: RunningServer, browser) -> None:  # type: ignore[no-untyped-def]
    gus = account(live, "gus")
    for i in range(4):
        live.deliver(gus, plain("Someone With A Long Name <long@elsewhere.test>", gus,
                                f"A subject long enough to need cutting short, number {i}",
                                "body"))
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  device_scale_factor=2)
    page = context.new_page()
    try:
        sign_in(page, live, gus)
        shot(page, "webmail phone inbox")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        click_and_wait(page, "text=number 2")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "webmail phone message")
        click_and_wait(page, "text=Reply")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "webmail phone compose")
    finally:
        context.close()


def test_hostile_subjects_bodies_file_names_and_folder_names_stay_text(
        live: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    hal = account(live, "hal")
    evil = '<img src=x onerror="console.log(\'xss ran\')">'
    client = imap(live, hal)
    try:
        assert client.create('"<img src=x onerror=alert(1)><b>Folder</b>"')[0] == "OK"
    finally:
        client.logout()
    message = EmailMessage()
    message["From"] = f'"{evil}" <bad@elsewhere.test>'
    message["To"], message["Subject"] = hal, f"Hi {evil}<script>console.log('xss ran')</script>"
    message.set_content(f"text {evil}")
    message.add_attachment(b"<script>alert(1)</script>", maintype="text", subtype="html",
                           filename=f'../../"{evil}.html')
    live.deliver(hal, message.as_bytes())
    logged: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: logged.append(m.text))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live, hal)
    assert "<script>" in page.inner_text("table.messages")
    assert "<img src=x onerror=alert(1)><b>Folder</b>" in page.inner_text("nav.folders")
    click_and_wait(page, "table.messages td.subject a")
    assert "<img src=x onerror=" in page.inner_text(".headers")
    shown_name = page.inner_text(".attachments a")
    assert "/" not in shown_name and '"' not in shown_name and shown_name.endswith(".html")
    with page.expect_download() as download:
        page.click(".attachments a")
    assert "/" not in download.value.suggested_filename
    shot(page, "webmail hostile text")
    assert not [m for m in logged if "xss ran" in m] and not dialogs
    expect(page.locator("main img")).to_have_count(0)
    assert page.title().startswith("Hi <img src=x onerror=")  # shown as text
