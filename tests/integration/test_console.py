"""The staff console in Debian's chromium against a real `mailgate serve`: the help desk and
the mail team work a POP case to approval, a refused change says the way forward, a
compromise ends a live IMAP IDLE session within a second, a restore brings back the plan's
defaults, and a dept-admin denies IMAP for the department."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from browser import screenshot_path
from console_helpers import IdleClient, address, base, console_server, door, password, sign_in
from live_server import RunningServer, wait_until
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = console_server(tmp_path_factory.mktemp("console") / "data")
    yield running
    running.stop_cleanly()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(screenshot_path(f"console_{name}")), full_page=True)


def _account_page(page, server: RunningServer, who: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base(server)}/console/accounts/{address(who)}")


def test_pop_case_opened_escalated_by_helpdesk_and_approved_by_admin_for_7_days(
        server: RunningServer, browser, page) -> None:  # type: ignore[no-untyped-def]
    server.account(address("carol"), password("carol"), "--name", "Carol")
    sign_in(page, server, "help")
    page.fill("#q", "car")
    page.click("form.search button")
    page.click(f"text={address('carol')}")
    pop = page.locator("#door-pop")
    assert "only the mail team can enable POP; escalate a case" in pop.inner_text()
    expect(pop.locator("button", has_text="Turn on")).to_have_count(0)
    pop.locator("input[name=note]").fill("Carol's old phone only speaks POP")
    pop.locator("button", has_text="Open a case").click()
    assert "The case was opened." in page.inner_text("main")

    page.click("nav >> text=Cases")
    row = page.locator("tr", has_text=address("carol"))
    # not the help desk's to give
    expect(row.locator("button", has_text="Approve")).to_have_count(0)
    row.locator("input[name=note]").fill("confirmed by phone: no IMAP on that device")
    row.locator("button", has_text="Add note").click()
    assert "The note was added" in page.inner_text("main")
    row = page.locator("tr", has_text=address("carol"))
    assert "help@example.org" in row.inner_text() and "confirmed by phone" in row.inner_text()
    row.locator("button", has_text="Escalate").click()
    assert "escalated to the mail team" in page.inner_text("main")
    _shot(page, "cases_helpdesk")

    admin = browser.new_context().new_page()
    sign_in(admin, server, "admin", "/console/cases")
    row = admin.locator("tr", has_text=address("carol"))
    assert "escalated" in row.inner_text()
    row.locator("select[name=for]").select_option("7d")
    row.locator("button", has_text="Approve").click()
    assert "approved" in admin.inner_text("main")
    admin.goto(f"{base(server)}/console/cases?show=decided")
    assert "by admin@example.org, until" in admin.locator(
        "tr", has_text=address("carol")).inner_text()
    _shot(admin, "cases_admin")
    admin.context.close()

    client = server.pop_session(address("carol"), password("carol"))
    assert client.stat() == (0, 0)
    client.quit()
    case = json.loads(server.cli("case", "list", "--json").stdout)[-1]
    assert case["status"] == "approved" and case["account"] == address("carol")
    assert 7 * 86400 - 120 < case["expires_at"] - time.time() <= 7 * 86400
    assert door(server, "carol", "pop")["reason"] == "temporary_grant"
    trail = json.loads(server.cli("audit", "--account", address("carol"), "--json").stdout)
    steps = [(e["action"], e["actor"], e["role"]) for e in trail if e["action"].startswith("case")]
    assert steps == [("case.open", address("help"), "helpdesk"),
                     ("case.note", address("help"), "helpdesk"),
                     ("case.escalate", address("help"), "helpdesk"),
                     ("case.approve", address("admin"), "admin")]


def test_helpdesk_enabling_pop_directly_is_refused_with_the_way_forward(
        server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    server.account(address("dan"), password("dan"))
    sign_in(page, server, "help", f"/console/accounts/{address('dan')}")
    token = page.locator("#door-pop input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(f"{base(server)}/console/accounts/{address('dan')}/doors/pop",
                               form={"csrf": token, "value": "on", "reason": "asked nicely"},
                               max_redirects=0)
    assert answer.status == 403
    text = answer.text()
    assert "only the mail team can enable POP; escalate a case" in text
    assert "Open a case" in text  # the way forward is on the page that says no
    page.set_content(text)
    assert door(server, "dan", "pop")["enabled"] is False

    _account_page(page, server, "dan")  # what the help desk may do, it does in one click
    page.locator("#door-imap input[name=reason]").fill("shared laptop")
    page.locator("#door-imap button", has_text="Turn off").click()
    assert "The door was changed" in page.inner_text("main")
    assert door(server, "dan", "imap")["reason"] == "account_setting"
    _shot(page, "account_helpdesk")


def test_compromise_ends_live_idle_within_a_second_and_restore_brings_plan_defaults(
        server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    server.account(address("erin"), password("erin"))
    server.cli("protocol", "set", address("erin"), "pop", "on", "--reason", "custom")
    idle = IdleClient(server, "erin")
    idle.start()
    try:
        sign_in(page, server, "help", f"/console/accounts/{address('erin')}")

        def shows_session() -> bool:
            page.reload()
            return "No live sessions." not in page.inner_text("main")
        wait_until(shows_session, 10, lambda: "the live IDLE session never showed")
        _shot(page, "account_live_session")
        page.fill("input[name=reason]:near(:text('Mark compromised'))", "phishing report 42")
        clicked = time.monotonic()
        page.click("button:has-text('Mark compromised')")
        idle.join(5)
        assert idle.bye_at is not None, idle.lines
        assert idle.bye_at - clicked < 1.0
        assert b"CONTACTADMIN" in b"".join(idle.lines)
        assert "marked compromised" in page.inner_text("main")
        assert door(server, "erin", "imap")["reason"] == "account_compromised"

        page.fill("input[name=note]", "photo ID checked at the desk")
        page.fill("input[name=password]", "a-new-password-for-erin")
        page.click("button:has-text('Restore')")
        assert "back to its plan's defaults" in page.inner_text("main")
        assert "plan_default" in page.locator("#door-pop").inner_text()
        pop, imap = door(server, "erin", "pop"), door(server, "erin", "imap")
        assert (pop["enabled"], pop["reason"]) == (False, "plan_default")
        assert (imap["enabled"], imap["reason"]) == (True, "plan_default")
        restored = [e for e in json.loads(server.cli("audit", "--account", address("erin"),
                                                     "--json").stdout)
                    if e["action"] == "account.restore"]
        assert restored and restored[0]["actor"] == address("help")
        _shot(page, "account_restored")
    finally:
        idle.close()


def test_dept_admin_denies_imap_for_the_department(server: RunningServer, page) -> None:  # type: ignore[no-untyped-def]
    server.account(address("fay"), password("fay"), "--department", "Physics")
    sign_in(page, server, "phys")
    assert page.url.endswith("/console/departments")
    nav = page.inner_text("header nav")
    assert "Departments" in nav and "Accounts" not in nav and "Plans" not in nav
    page.click("tr:has-text('IMAP') >> button:has-text('Deny IMAP')")
    assert "The department's policy was changed" in page.inner_text("main")
    imap = door(server, "fay", "imap")
    assert (imap["enabled"], imap["reason"], imap["locked"]) == (False, "department_policy",
                                                                 True)
    _shot(page, "departments_dept_admin")
    page.goto(f"{base(server)}/console/plans")
    assert "only the mail team (admin) can change plan defaults" in page.inner_text("main")
    server.cli("department", "policy", "Physics", "imap", "inherit")
