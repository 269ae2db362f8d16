"""The console's other pages in chromium (search, plans with the counts first, audit with
chain verification, the usage chart and its CSV, ending a live session), and what it
refuses: a form without its CSRF token, a plain user, a forged session cookie — each
changing nothing — and outside text shown as text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from browser import screenshot_path
from console_helpers import IdleClient, address, base, console_server, door, password, sign_in
from live_server import RunningServer, wait_until
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = console_server(tmp_path_factory.mktemp("console-pages") / "data")
    running.account(address("gus"), password("gus"), "--department", "Physics")
    running.account(address("hal"), password("hal"), "--name", "<img src=x onerror=alert(1)>")
    yield running
    running.stop_cleanly()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(screenshot_path(f"console_{name}")), full_page=True)


def test_search_finds_accounts_by_address_prefix_and_escapes_names(
        server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "help")
    assert page.url.endswith("/console/accounts")
    page.fill("#q", "h")
    page.click("form.search button")
    rows = page.locator("table.grid tbody tr")
    assert [r.split("\t")[0] for r in rows.all_inner_texts()] == [address("hal"),
                                                                   address("help")]
    assert "<img src=x onerror=alert(1)>" in page.inner_text("main")
    expect(page.locator("main img")).to_have_count(0)
    _shot(page, "search")
    page.fill("#q", "nobody-here")
    page.click("form.search button")
    assert "No account address starts with" in page.inner_text("main")


def test_usage_chart_legacy_list_and_csv(server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    server.cli("protocol", "set", address("user"), "pop", "on")
    server.pop_session(address("user"), password("user")).quit()
    idle = IdleClient(server, "gus")
    idle.start()
    idle.close()

    def recorded() -> bool:
        rows = json.loads(server.cli("report", "usage", "--json").stdout)
        return {(r["account"], r["protocol"]) for r in rows if r["successes"]} >= {
            (address("user"), "pop"), (address("gus"), "imap")}
    wait_until(recorded, 15, lambda: "the sign-ins never reached the usage report")

    sign_in(page, server, "admin", "/console/usage")
    chart = page.locator("figure.chart > svg")
    expect(chart).to_have_count(1)
    labels = chart.locator("text").all_text_contents()
    assert "IMAP · password" in labels and "POP · password" in labels
    assert chart.locator("rect").count() >= 2
    legend = page.inner_text("figcaption.legend")
    assert "Physics" in legend and "(no department)" in legend
    legacy = page.inner_text("main section:nth-of-type(2)")
    assert address("user") in legacy and address("gus") in legacy
    _shot(page, "usage")

    answer = page.request.get(f"{base(server)}/console/usage.csv")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(answer.text())))
    assert {(r["account"], r["protocol"], r["method"]) for r in table} >= {
        (address("user"), "pop", "password"), (address("gus"), "imap", "password")}


def test_plan_change_shows_the_counts_before_anything_changes(
        server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "admin", "/console/plans")
    before = door(server, "gus", "dav")
    page.click("tr:has-text('standard') >> td:nth-child(7) >> button")
    preview = page.inner_text("section.preview")
    assert "existing accounts take" in preview and "used it in the last 90 days" in preview
    assert door(server, "gus", "dav") == before  # only counted so far
    _shot(page, "plans_preview")
    page.click("button:has-text('Apply, existing accounts keep')")
    assert "The plan's default was changed." in page.inner_text("main")
    after = door(server, "gus", "dav")
    assert (after["enabled"], after["reason"]) == (True, "account_setting")
    server.cli("plan", "set", "standard", "dav", "on", "--existing", "follow")


def test_audit_viewer_filters_and_verifies_the_chain(server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "admin", "/console/audit")
    page.fill("input[name=action]", "role.")
    page.click("button:has-text('Verify the chain')")
    assert "Chain verified" in page.inner_text("main")
    actions = {t.strip() for t in page.locator("table.audit td:nth-child(5)").all_inner_texts()}
    assert actions == {"role.grant"}
    _shot(page, "audit")


def test_staff_end_a_live_session(server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    idle = IdleClient(server, "gus")
    idle.start()
    try:
        sign_in(page, server, "admin", f"/console/accounts/{address('gus')}")

        def shows_session() -> bool:
            page.reload()
            return page.locator("button:has-text('End session')").count() == 1
        wait_until(shows_session, 10, lambda: "the session never showed")
        page.fill("tr:has-text('IMAP') >> input[name=reason]", "stuck client")
        page.click("button:has-text('End session')")
        idle.join(5)
        assert idle.bye_at is not None, idle.lines
        assert "The session was ended." in page.inner_text("main")
        assert door(server, "gus", "imap")["enabled"] is True  # ended, not shut
        _shot(page, "account_admin")
    finally:
        idle.close()


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
        server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "admin", f"/console/accounts/{address('gus')}")
    answer = page.request.post(f"{base(server)}/console/accounts/{address('gus')}/doors/smtp",
                               form={"value": "off"}, max_redirects=0)
    assert answer.status == 403 and "did not come from this site" in answer.text()
    forged = page.request.post(f"{base(server)}/console/accounts/{address('gus')}/doors/smtp",
                               form={"value": "off", "csrf": "x" * 43}, max_redirects=0)
    assert forged.status == 403
    assert door(server, "gus", "smtp")["enabled"] is True


def test_a_plain_user_gets_403_and_a_forged_session_the_sign_in_page(
        server: RunningServer, browser, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "user")
    assert "The staff console is for the help desk" in page.inner_text("main")
    answer = page.request.get(f"{base(server)}/console/accounts/{address('gus')}")
    assert answer.status == 403 and address("gus") not in answer.text()
    _shot(page, "plain_user")
    cookie = next(c for c in page.context.cookies() if c["name"] == "mailgate_session")
    page.click("button:has-text('Sign out')")
    assert "/signin" in page.url

    other = browser.new_context()
    try:
        other.add_cookies([{**cookie, "value": cookie["value"][:-4] + "AAAA"}])
        forged = other.new_page()
        forged.goto(f"{base(server)}/console/accounts")
        assert "/signin?next=%2Fconsole%2Faccounts" in forged.url
        posted = forged.request.post(f"{base(server)}/console/accounts/{address('gus')}/"
                                     "compromise", form={"reason": "x"}, max_redirects=0)
        assert posted.status == 303 and posted.headers["location"].startswith("/signin?")
    finally:
        other.close()
    assert door(server, "gus", "imap")["reason"] != "account_compromised"


def test_every_console_form_needs_its_csrf_token(server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "admin", "/console/audit")
    before = json.loads(server.cli("audit", "--json").stdout)
    one = f"/console/accounts/{address('gus')}"
    for path in (f"{one}/doors/imap", f"{one}/compromise", f"{one}/restore",
                 f"{one}/deactivate", f"{one}/activate", f"{one}/sessions/s1/end",
                 f"{one}/cases", "/console/cases/1/note", "/console/cases/1/escalate",
                 "/console/cases/1/approve", "/console/cases/1/deny", "/console/departments",
                 "/console/plans"):
        answer = page.request.post(base(server) + path, form={"value": "off", "reason": "x"},
                                   max_redirects=0)
        assert answer.status == 403, path
    assert json.loads(server.cli("audit", "--json").stdout) == before


def test_admin_deactivates_with_grace_and_activates_again(server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    server.account(address("ivy"), password("ivy"))
    sign_in(page, server, "admin", f"/console/accounts/{address('ivy')}")
    page.click("button:has-text('Deactivate')")
    assert "being deactivated" in page.inner_text("main")
    assert page.inner_text(".state.big") == "deactivating"
    assert "the account's state decides" in page.locator("#door-imap").inner_text()
    page.click("button:text-is('Activate')")
    assert "The account is active." in page.inner_text("main")
    assert door(server, "ivy", "imap")["enabled"] is True

    helpdesk = page.context.browser.new_context().new_page()
    sign_in(helpdesk, server, "help", f"/console/accounts/{address('ivy')}")
    expect(helpdesk.locator("button:has-text('Deactivate')")).to_have_count(0)  # admins only
    helpdesk.context.close()
