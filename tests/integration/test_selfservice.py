"""The self-service pages against a real `mailgate serve`, driven by Debian's chromium: sign in,
see my doors with their reasons, request POP (a case appears in `mailgate case list`), make an
app password scoped to IMAP (it opens IMAP over imaplib; revoked, it does not), see my
sign-ins, restore a message from Recoverable Items (back in INBOX over IMAP), set up a device
(the Apple profile); a form without its CSRF token is refused with 403 and changes nothing.
Each page is photographed at desktop width and at 390 px (test-artifacts/browser/)."""

from __future__ import annotations

import imaplib
import json
import plistlib
import re
from collections.abc import Iterator

import pytest
import requests
from browser import screenshot_path
from live_server import RunningServer, start_server, wait_until
from playwright.sync_api import expect

PASSWORD = "correct-horse-battery"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("selfservice") / "data",
                           ("imap", "imaps", "pop3", "submission", "http"))
    yield running
    running.stop_cleanly()


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.ports['http']}"


def account(live: RunningServer, address: str) -> str:
    live.account(address, PASSWORD, "--name", "Test <User>")
    return address


def sign_in(page, live: RunningServer, address: str, path: str = "/account") -> None:  # type: ignore[no-untyped-def]
    page.goto(base(live) + path)
    assert "/signin" in page.url
    page.fill("#address", address)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base(live) + path)


def photograph(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The page as it is, at the width it has and at a phone's 390 px."""
    page.screenshot(path=str(screenshot_path(f"selfservice {name}")), full_page=True)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(screenshot_path(f"selfservice {name} 390px")), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], \
        f"{name} scrolls sideways at 390 px"
    page.set_viewport_size(size)


def signed_in_session(live: RunningServer, address: str) -> requests.Session:
    """A plain HTTP client signed in through the sign-in form."""
    session = requests.Session()
    form = session.get(f"{base(live)}/signin?next=/account", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = session.post(f"{base(live)}/signin", data={
        "csrf": token, "next": "/account", "address": address, "password": PASSWORD},
        timeout=10)
    assert answer.status_code == 200 and answer.url.endswith("/account"), answer.text
    return session


def imap_login(live: RunningServer, address: str, secret: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    client.login(address, secret)
    return client


def test_my_doors_with_reasons_and_a_pop_request_becomes_a_case(live: RunningServer,
                                                                 page) -> None:  # type: ignore[no-untyped-def]
    address = account(live, "dora@example.test")
    sign_in(page, live, address)
    pop = page.locator("#door-pop")
    assert "Closed" in pop.inner_text()
    assert "POP is off by default for accounts on plan standard" in pop.inner_text()
    assert "your plan's default" in pop.inner_text()
    imap = page.locator("#door-imap")
    assert "Open" in imap.inner_text() and "IMAP is on by default" in imap.inner_text()
    expect(page.locator("a[href='/account/mfa']")).to_have_count(1)
    expect(page.locator("a[href='/mail']")).to_have_count(1)
    photograph(page, "doors")

    pop.locator("summary").click()
    pop.locator("input[name=note]").fill("My old phone only speaks POP")
    pop.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/account/requests\?opened=\d+"))
    opened = int(page.url.rsplit("=", 1)[1])
    assert f"Request #{opened} was sent" in page.inner_text("main")
    assert "My old phone only speaks POP" in page.inner_text(f"#case-{opened}")
    photograph(page, "requests")

    listed = json.loads(live.cli("case", "list", "--json").stdout)
    mine = [c for c in listed if c["id"] == opened]
    assert mine and mine[0]["account"] == address and mine[0]["protocol"] == "pop" and \
        mine[0]["want"] == "on" and mine[0]["status"] == "open"
    assert f"#{opened}" in live.cli("case", "list").stdout

    page.goto(base(live) + "/account")
    assert f"request #{opened}" in page.locator("#door-pop").inner_text()
    live.cli("case", "approve", str(opened))
    page.goto(base(live) + "/account/requests")
    assert "approved" in page.inner_text(f"#case-{opened}")
    page.goto(base(live) + "/account")
    assert "Open" in page.locator("#door-pop").inner_text()
    assert f"approved case #{opened}" in page.locator("#door-pop").inner_text()


def test_an_app_password_for_imap_opens_imap_until_revoked(live: RunningServer,
                                                            page) -> None:  # type: ignore[no-untyped-def]
    address = account(live, "apu@example.test")
    sign_in(page, live, address, "/account/app-passwords")
    assert page.locator("#ap-pop").is_disabled()  # POP is closed for this account
    page.check("#ap-imap")
    page.fill("#ap-label", "laptop <mail>")
    page.select_option("#ap-expires", "30d")
    page.click("form.stack button[type=submit]")
    secret = page.inner_text("#secret").strip()
    assert len(secret) >= 16 and "shown only now" in page.inner_text(".secret")
    photograph(page, "app passwords created")

    client = imap_login(live, address, secret)
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(live, address, "not-the-secret")

    def used() -> bool:
        page.goto(base(live) + "/account/app-passwords")
        return "never" not in page.locator("ul.cards li").first.inner_text().split(
            "Last used")[1].split("\n")[1]
    wait_until(used, 10, lambda: page.inner_text("main"))
    assert secret not in page.content()  # shown once only
    assert "laptop <mail>" in page.inner_text("main")

    page.click("ul.cards li button.danger")
    page.wait_for_url(base(live) + "/account/app-passwords?revoked=1")
    assert "revoked" in page.locator("ul.cards li").first.inner_text()
    photograph(page, "app passwords revoked")
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(live, address, secret)
    listed = json.loads(live.cli("app-password", "list", address, "--json").stdout)
    assert [e["status"] for e in listed] == ["revoked"]

    page.goto(base(live) + "/account/sign-ins")
    imap = page.inner_text("#signins-imap")
    assert "signed in" in imap and "refused" in imap and "bad_credentials" in imap
    assert "127.0.0.1" in imap and "app password" in imap
    assert "Webmail" in page.inner_text("#signins-web")
    photograph(page, "sign-ins")


def test_a_deleted_message_is_restored_from_recoverable_items(live: RunningServer,
                                                               page) -> None:  # type: ignore[no-untyped-def]
    address = account(live, "rex@example.test")
    live.deliver(address, b"From: a@example.test\r\nTo: rex@example.test\r\n"
                          b"Subject: Budget <script>alert(1)</script>\r\n\r\nnumbers\r\n")
    client = imap_login(live, address, PASSWORD)
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Deleted)")
    client.expunge()
    assert client.select("INBOX")[1] == [b"0"]
    sign_in(page, live, address, "/account/recover")
    item = page.locator("ul.cards li").first
    assert "Budget <script>alert(1)</script>" in item.inner_text()  # shown as text
    assert "from INBOX" in item.inner_text()
    photograph(page, "recover")
    item.locator("input[type=checkbox]").check()
    page.click("text=Restore selected")
    page.wait_for_url(base(live) + "/account/recover?restored=1")
    assert "1 message restored" in page.inner_text("main")
    assert "Nothing to recover" in page.inner_text("main")
    assert client.select("INBOX")[1] == [b"1"]
    _, found = client.search(None, "SUBJECT", "Budget")
    assert found == [b"1"]
    client.logout()
    assert "restored 1" not in live.cli("recover", "list", address).stdout
    assert "nothing to recover" in live.cli("recover", "list", address).stdout


def test_set_up_a_device_offers_open_doors_and_an_apple_profile(live: RunningServer,
                                                                 page) -> None:  # type: ignore[no-untyped-def]
    address = account(live, "dev@example.test")
    sign_in(page, live, address, "/account/devices")
    text = page.inner_text("main")
    assert "IMAP" in text and "SMTP sending" in text and "POP" not in text
    assert str(live.ports["imaps"]) in text
    photograph(page, "devices")
    session = signed_in_session(live, address)
    answer = session.get(f"{base(live)}/account/devices/mail.mobileconfig", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-apple-aspen-config"
    mail = plistlib.loads(answer.content)["PayloadContent"][0]
    assert mail["EmailAddress"] == address and mail["EmailAccountType"] == "EmailTypeIMAP"
    assert mail["IncomingMailServerPortNumber"] == live.ports["imaps"]


def test_pages_need_a_signed_in_account_but_not_an_open_web_door(live: RunningServer,
                                                                 page) -> None:  # type: ignore[no-untyped-def]
    address = account(live, "nowe@example.test")
    live.cli("protocol", "set", address, "web", "off", "--reason", "test")
    answer = requests.get(f"{base(live)}/account/sign-ins", allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=%2Faccount%2Fsign-ins"
    sign_in(page, live, address)
    web = page.locator("#door-web")
    assert "Closed" in web.inner_text() and "by the mail team" in web.inner_text()
    photograph(page, "doors web closed")


def test_forms_without_their_csrf_token_are_refused(live: RunningServer) -> None:
    address = account(live, "csrf@example.test")
    session = signed_in_session(live, address)
    cases_before = live.cli("case", "list", "--json").stdout
    for path, form in (("/account/requests", {"protocol": "pop", "want": "on", "note": "x"}),
                       ("/account/app-passwords", {"protocol": "imap", "expires": "never"}),
                       ("/account/app-passwords/revoke", {"id": "1"}),
                       ("/account/recover", {"all": "1"})):
        answer = session.post(base(live) + path, data=form, timeout=10)
        assert answer.status_code == 403, (path, answer.text)
        wrong = session.post(base(live) + path, data={**form, "csrf": "x" * 43}, timeout=10)
        assert wrong.status_code == 403, path
    assert live.cli("case", "list", "--json").stdout == cases_before
    assert json.loads(live.cli("app-password", "list", address, "--json").stdout) == []


def test_bad_form_input_changes_nothing(live: RunningServer) -> None:
    address = account(live, "bad@example.test")
    session = signed_in_session(live, address)
    page_text = session.get(base(live) + "/account/requests", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', page_text).group(1)  # type: ignore[union-attr]
    cases_before = live.cli("case", "list", "--json").stdout
    for form in ({"protocol": "gopher", "want": "on", "note": "x"},
                 {"protocol": "pop", "want": "maybe", "note": "x"},
                 {"protocol": "pop", "want": "on", "note": "   "},
                 {"protocol": "pop", "want": "on", "note": "x" * 3000}):
        answer = session.post(base(live) + "/account/requests", data={**form, "csrf": token},
                              timeout=10)
        assert answer.status_code == 400 and "Traceback" not in answer.text
    assert live.cli("case", "list", "--json").stdout == cases_before
    for form in ({"protocol": "pop", "expires": "never"},  # closed for this account
                 {"protocol": "imap", "expires": "forever"},
                 {"protocol": "../etc", "expires": "never"}):
        answer = session.post(base(live) + "/account/app-passwords",
                              data={**form, "csrf": token}, timeout=10)
        assert answer.status_code in (400, 403), form
    assert json.loads(live.cli("app-password", "list", address, "--json").stdout) == []
    answer = session.post(base(live) + "/account/app-passwords/revoke",
                          data={"id": "999", "csrf": token}, timeout=10)
    assert answer.status_code == 404
    answer = session.post(base(live) + "/account/recover", data={"id": "12", "csrf": token},
                          timeout=10)
    assert answer.status_code == 404


def test_the_stylesheet_is_the_only_outside_resource(live: RunningServer) -> None:
    session = signed_in_session(live, account(live, "css@example.test"))
    answer = session.get(base(live) + "/account", timeout=10)
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "style-src 'self'" in policy
    assert "<script" not in answer.text
    assert session.get(base(live) + "/account/style.css", timeout=10).headers[
        "content-type"].startswith("text/css")


def test_a_door_locked_by_the_department_offers_no_request(live: RunningServer,
                                                           page) -> None:  # type: ignore[no-untyped-def]
    live.cli("department", "create", "Physics")
    live.cli("department", "policy", "Physics", "imap", "deny")
    address = "phys@example.test"
    live.account(address, PASSWORD, "--department", "Physics")
    sign_in(page, live, address)
    imap = page.locator("#door-imap")
    text = imap.inner_text()
    assert "Closed" in text and "Locked" in text
    assert "by the policy of department Physics" in text and "your department's policy" in text
    expect(imap.locator("form")).to_have_count(0)
    photograph(page, "doors locked")
    session = signed_in_session(live, address)
    token = session.cookies["mailgate_csrf"]
    forged = session.post(base(live) + "/account/requests", data={
        "csrf": token, "protocol": "imap", "want": "on", "note": "please"}, timeout=10)
    assert forged.status_code == 403 and "department Physics" in forged.text
    assert not [c for c in json.loads(live.cli("case", "list", "--json").stdout)
                if c["account"] == address]
    audit = json.loads(live.cli("audit", "--account", address, "--json").stdout)
    assert any(e["action"] == "case.open.refused" for e in audit)
