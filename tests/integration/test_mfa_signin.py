"""The second step of the web sign-in without JavaScript, over HTTP as a browser posts its
forms: a half session reaches nothing but the step, CSRF is checked on every new form, a
recovery code works once, wrong codes in a row are braked, and `/account/mfa` removes a
factor but never the last one MFA requires."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
import requests
from live_server import RunningServer, start_server
from oauth_browser import Browser, Form

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("mfasignin") / "data", ("http",),
                           oauth_issuer="http")
    running.cli("department", "create", "Lab")
    running.cli("mfa", "require", "department", "Lab", "on")
    yield running
    running.stop_cleanly()


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.ports['http']}"


def signed_in(live: RunningServer, address: str, path: str = "/device"
              ) -> tuple[Browser, requests.Response]:
    browser = Browser(base(live))
    page = browser.follow(browser.get(path))
    return browser, browser.follow(browser.sign_in(page, address, PASSWORD))


def factor_form(browser: Browser, page: requests.Response, factor: str) -> Form:
    return next(f for f in browser.forms(page) if f.fields.get("factor") == factor)


def enrolled(live: RunningServer, address: str, *extra: str) -> tuple[pyotp.TOTP, list[str]]:
    """A new account with an authenticator app set up on /account/mfa (or at sign-in);
    its TOTP and recovery codes."""
    live.account(address, PASSWORD, *extra)
    browser, page = signed_in(live, address, "/account/mfa/totp")
    secret = re.search(r'id="secret">([A-Z2-7 ]+)<', page.text)
    assert secret is not None, page.text
    totp = pyotp.TOTP(secret.group(1).replace(" ", ""))
    action = "/signin/enrol" if "/signin/enrol" in page.text else "/account/mfa/totp"
    shown = browser.submit(browser.form(page, action), code=totp.now())
    codes = re.findall(r"<li>([a-z0-9-]{19})</li>", shown.text)
    assert len(codes) == 10, shown.text
    return totp, codes


def test_a_half_session_reaches_only_the_second_step(live: RunningServer) -> None:
    address = "hal@example.test"
    enrolled(live, address)
    browser, page = signed_in(live, address)
    assert page.url.startswith(base(live) + "/signin/second-factor") and "Second step" in \
        page.text
    for path in ("/device", "/device?user_code=ABCD-EFGH", "/account/mfa",
                 "/account/mfa/totp", "/signin?next=/device"):
        answer = browser.follow(browser.get(path))
        assert "Second step" in answer.text and answer.url.startswith(
            base(live) + "/signin/second-factor"), path
    refused = browser.http.post(base(live) + "/account/mfa/remove", timeout=10,
                                allow_redirects=False, data={
                                    "csrf": factor_form(browser, page, "totp").fields["csrf"],
                                    "factor": "totp"})
    assert refused.headers["location"].startswith("/signin/second-factor")


def test_every_new_form_checks_csrf(live: RunningServer) -> None:
    address = "cy@example.test"
    enrolled(live, address)
    browser, page = signed_in(live, address)
    form = factor_form(browser, page, "totp")
    for path in ("/signin/second-factor", "/signin/second-factor/webauthn", "/signin/enrol",
                 "/account/mfa/remove", "/account/mfa/recovery-codes", "/account/mfa/totp",
                 "/account/mfa/security-key", "/account/mfa/security-key/options"):
        answer = browser.http.post(base(live) + path, data={**form.fields, "csrf": "x" * 43},
                                   allow_redirects=False, timeout=10)
        assert answer.status_code == 403, path


def test_a_recovery_code_signs_in_once(live: RunningServer) -> None:
    address = "rex@example.test"
    _totp, codes = enrolled(live, address)
    browser, page = signed_in(live, address)
    done = browser.submit(factor_form(browser, page, "recovery_code"),
                          answer=codes[0].upper().replace("-", ""))
    assert done.status_code == 303 and done.headers["location"] == "/device"
    assert "Connect a device" in browser.follow(done).text
    browser, page = signed_in(live, address)
    again = browser.submit(factor_form(browser, page, "recovery_code"), answer=codes[0])
    assert again.status_code == 401 and "not right" in again.text
    assert "You have 9 left" in again.text


def test_wrong_codes_in_a_row_are_braked_and_recorded(live: RunningServer) -> None:
    address = "wes@example.test"
    totp, codes = enrolled(live, address)
    browser, page = signed_in(live, address)
    wrong = "000000" if totp.now() != "000000" else "111111"
    for _ in range(5):
        page = browser.submit(factor_form(browser, page, "totp"), answer=wrong)
        assert page.status_code == 401
    braked = browser.submit(factor_form(browser, page, "totp"),
                            answer=totp.at(time.time() + 30))
    assert braked.status_code == 429 and "Too many wrong codes" in braked.text
    done = browser.submit(factor_form(browser, braked, "recovery_code"), answer=codes[1])
    assert done.status_code == 303  # another factor still works meanwhile
    audit = live.cli("audit", "--account", address, "--json").stdout
    assert audit.count("bad_second_factor") == 5 and "too_many_codes" in audit
    assert codes[1] not in audit  # the answers themselves are never recorded


def test_account_page_removes_a_factor_but_not_the_last_one_mfa_requires(
        live: RunningServer) -> None:
    address = "lab2@example.test"
    totp, codes = enrolled(live, address, "--department", "Lab")
    browser, page = signed_in(live, address, "/account/mfa")
    page = browser.follow(browser.submit(factor_form(browser, page, "totp"),
                                         answer=totp.at(time.time() + 30)))
    assert "Two-step sign-in" in page.text and "department Lab requires" in page.text
    refused = browser.submit(browser.form(page, "/account/mfa/remove"))
    assert refused.status_code == 409 and "add another factor" in refused.text
    made = browser.submit(browser.form(page, "/account/mfa/recovery-codes"))
    fresh = re.findall(r"<li>([a-z0-9-]{19})</li>", made.text)
    assert len(fresh) == 10 and not set(fresh) & set(codes)

    live.cli("mfa", "require", "department", "Lab", "off")
    removed = browser.follow(browser.submit(browser.form(page, "/account/mfa/remove")))
    assert "The factor was removed." in removed.text and "None set up." in removed.text
    status = live.cli("mfa", "status", address, "--json").stdout
    assert '"methods": []' in status and '"recovery_codes_left": 0' in status, status
    live.cli("mfa", "require", "department", "Lab", "on")
