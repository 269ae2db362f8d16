"""`/account/sessions` against a real `mailgate serve`: the page (Debian's chromium) lists my
IMAP sessions and this browser; a sign-out-everywhere form without its CSRF token is refused
with 403 and ends nothing; with it, the IMAP session (in IDLE) gets BYE within a second (one
signed in with an app password too, which still works afterwards), the other browser (a
plain HTTP client) is sent to /signin on its next request, the action is audited as the
user, and the password still signs in anew."""

from __future__ import annotations

import imaplib
import json
import re
import time
from collections.abc import Iterator

import pytest
import requests
from accessibility import assert_accessible
from browser import screenshot_path
from live_server import RunningServer, start_server, wait_until
from playwright.sync_api import expect

PASSWORD = "correct-horse-battery"
ADDRESS = "sam@example.test"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("my-sessions") / "data", ("imap", "http"))
    running.account(ADDRESS, PASSWORD)
    yield running
    running.stop_cleanly()


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.ports['http']}"


def signed_in_client(live: RunningServer) -> requests.Session:
    """A second browser: a plain HTTP client signed in through the sign-in form."""
    session = requests.Session()
    form = session.get(f"{base(live)}/signin?next=/account/sessions", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = session.post(f"{base(live)}/signin", data={
        "csrf": token, "next": "/account/sessions", "address": ADDRESS, "password": PASSWORD},
        timeout=10)
    assert answer.status_code == 200 and answer.url.endswith("/account/sessions"), answer.text
    return session


def idling_imap(live: RunningServer, secret: str = PASSWORD) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    client.login(ADDRESS, secret)
    client.select("INBOX")
    client.send(b"i1 IDLE\r\n")
    assert client.readline().startswith(b"+")
    return client


def read_bye(client: imaplib.IMAP4) -> bytes:
    client.sock.settimeout(5)
    seen = b""
    while b"BYE" not in seen or not seen.endswith(b"\r\n"):
        chunk = client.sock.recv(4096)
        if not chunk:
            break
        seen += chunk
    return seen


def test_my_sessions_listed_and_signed_out_everywhere(live: RunningServer,
                                                      page) -> None:  # type: ignore[no-untyped-def]
    imap = idling_imap(live)
    app_secret = live.cli("app-password", "create", ADDRESS, "--protocol", "imap").stdout \
        .split()[-1]
    by_app = idling_imap(live, app_secret)
    other = signed_in_client(live)

    page.goto(base(live) + "/account/sessions")
    page.fill("#address", ADDRESS)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base(live) + "/account/sessions")

    def listed() -> bool:  # the live-session rows are written a moment after sign-in
        page.reload()
        return "IMAP" in page.inner_text("#live-sessions")
    wait_until(listed, 10, lambda: page.inner_text("main"))
    row = page.inner_text("#live-sessions")
    assert "127.0.0.1" in row and "password" in row and "since" in row
    assert "Signed in" in page.inner_text("#this-browser")
    expect(page.locator("nav a[href='/account/sessions']")).to_have_count(1)
    page.screenshot(path=str(screenshot_path("selfservice sessions")), full_page=True)
    assert_accessible(page, "selfservice sessions")
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_path("selfservice sessions 390px")), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size(size)

    refused = other.post(f"{base(live)}/account/sessions/sign-out-everywhere", data={},
                         timeout=10)
    assert refused.status_code == 403
    still = other.get(f"{base(live)}/account/sessions", timeout=10, allow_redirects=False)
    assert still.status_code == 200 and "IMAP" in still.text
    entries = json.loads(live.cli("audit", "--json").stdout)
    assert not [e for e in entries if e["action"] == "account.sign_out_everywhere"]

    page.click("#sign-out-everywhere button[type=submit]")
    page.wait_for_url(re.compile(r"/signin"))
    started = time.monotonic()
    seen = read_bye(imap)
    assert time.monotonic() - started < 1.0, seen
    assert b"* BYE" in seen and b"SignedOut" in seen and b"signed out everywhere" in seen
    assert b"SignedOut" in read_bye(by_app)  # another credential, ended all the same

    gone = other.get(f"{base(live)}/account/sessions", timeout=10, allow_redirects=False)
    assert gone.status_code in (302, 303, 307) and "/signin" in gone.headers["location"]
    page.goto(base(live) + "/account/sessions")
    assert "/signin" in page.url

    entries = json.loads(live.cli("audit", "--json").stdout)
    mine = [e for e in entries if e["action"] == "account.sign_out_everywhere"]
    assert len(mine) == 1 and mine[0]["actor"] == ADDRESS and mine[0]["account"] == ADDRESS

    again = signed_in_client(live)
    assert "No mail app is connected" in again.get(
        f"{base(live)}/account/sessions", timeout=10).text
    fresh = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    fresh.login(ADDRESS, PASSWORD)
    fresh.logout()
    kept = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    kept.login(ADDRESS, app_secret)  # the app password is a credential: it stays
    kept.logout()


def test_a_session_shows_the_app_it_names_with_id_before_or_after_its_sign_in(
        live: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(imaplib.Commands, "ID", ("NONAUTH", "AUTH", "SELECTED"))
    before = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    assert before.xatom("ID", '("name" "Thunderbird" "version" "128.0")')[0] == "OK"
    before.login(ADDRESS, PASSWORD)
    after = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    after.login(ADDRESS, PASSWORD)
    assert after.xatom("ID", '("name" "<b>evil</b>\x1b[31m" "version" "1")')[0] == "OK"

    def named() -> list[str]:
        rows = json.loads(live.cli("sessions", ADDRESS, "--json").stdout)
        return sorted(str(r["client"]) for r in rows)
    wait_until(lambda: named() == ["<b>evil</b>\\x1b[31m 1", "Thunderbird 128.0"], 10, named)
    printed = live.cli("sessions", ADDRESS).stdout
    assert "Thunderbird 128.0" in printed and "\x1b" not in printed
    listed = signed_in_client(live).get(f"{base(live)}/account/sessions", timeout=10).text
    assert "Thunderbird 128.0 from" in listed
    assert "&lt;b&gt;evil&lt;/b&gt;" in listed and "<b>evil" not in listed
    before.logout()
    after.logout()
