"""The reads the staff console adds to the directory: account search by address prefix with
keyset paging, the department policies a role may set, plan defaults, the 90-day usage
summary and legacy list, audit filters, and the chart geometry."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from mailgate.audit import reading, usage_report
from mailgate.db.schema import accounts as accounts_table
from mailgate.db.schema import usage
from mailgate.directory import accounts, cases, doors, listing
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotAllowed
from mailgate.directory.views import load_actor
from mailgate.http.console.charts import stacked_bars
from mailgate.service import Service

SYSTEM = Actor.system()


def _actor(svc: Service, address: str) -> Actor:
    with svc.reader.connect() as conn:
        return load_actor(conn, address)


@pytest.fixture
def world(svc: Service) -> Service:
    doors.create_department(svc, SYSTEM, "Physics")
    for name in ("amy", "anna", "annie", "bob", "zed"):
        accounts.create(svc, SYSTEM, f"{name}@example.org", None,
                        department="Physics" if name.startswith("a") else None)
    for name, role, dept in (("help", "helpdesk", None), ("phys", "dept-admin", "Physics")):
        accounts.create(svc, SYSTEM, f"{name}@example.org", None)
        accounts.grant_role(svc, SYSTEM, f"{name}@example.org", role, dept)
    return svc


def test_search_pages_through_an_address_prefix(world: Service) -> None:
    helpdesk = _actor(world, "help@example.org")
    first = listing.search_accounts(world, helpdesk, "AN", limit=1)
    assert [r["address"] for r in first.rows] == ["anna@example.org"]
    assert first.next_after == "anna@example.org"
    second = listing.search_accounts(world, helpdesk, "an", first.next_after, limit=1)
    assert [r["address"] for r in second.rows] == ["annie@example.org"]
    assert second.next_after is None
    everyone = listing.search_accounts(world, helpdesk)
    assert len(everyone.rows) == 7 and everyone.rows[0]["department"] == "Physics"
    assert listing.search_accounts(world, helpdesk, "nobody").rows == []
    with pytest.raises(DirectoryError):
        listing.search_accounts(world, helpdesk, limit=0)


def test_search_is_for_staff_only(world: Service) -> None:
    for who in ("amy@example.org", "phys@example.org"):
        with pytest.raises(NotAllowed, match="only the help desk or the mail team"):
            listing.search_accounts(world, _actor(world, who), "a")


def test_department_policies_are_those_the_role_may_set(world: Service) -> None:
    doors.set_department_policy(world, SYSTEM, "Physics", "imap", True)
    mine = listing.department_policies(world, _actor(world, "phys@example.org"))
    assert [(d.name, d.denied, d.accounts) for d in mine] == [
        ("Physics", frozenset({"imap"}), 3)]
    assert listing.department_policies(world, _actor(world, "help@example.org")) == []
    assert [d.name for d in listing.department_policies(world, SYSTEM)] == ["Physics"]


def test_plan_defaults_for_the_mail_team(world: Service) -> None:
    assert listing.plan_defaults_of(world, SYSTEM)["standard"]["pop"] is False
    with pytest.raises(NotAllowed):
        listing.plan_defaults_of(world, _actor(world, "help@example.org"))


def _used(svc: Service, address: str, protocol: str, method: str, days_ago: float) -> None:
    with svc.engine.begin() as conn:
        account_id = conn.execute(select(accounts_table.c.id).where(
            accounts_table.c.address == address)).scalar()
        at = svc.clock() - days_ago * 86400
        conn.execute(insert(usage).values(account_id=account_id, protocol=protocol,
                                          method=method, successes=3, failures=0,
                                          last_success_at=at, last_attempt_at=at))


def test_usage_summary_and_legacy_list_cover_the_last_90_days(world: Service) -> None:
    _used(world, "amy@example.org", "pop", "password", 2)
    _used(world, "anna@example.org", "imap", "oauth", 10)
    _used(world, "bob@example.org", "imap", "password", 1)
    _used(world, "zed@example.org", "pop", "password", 120)  # too long ago
    summary = usage_report.recent_summary(world, SYSTEM)
    assert summary == [
        {"department": None, "protocol": "imap", "method": "password", "accounts": 1},
        {"department": "Physics", "protocol": "imap", "method": "oauth", "accounts": 1},
        {"department": "Physics", "protocol": "pop", "method": "password", "accounts": 1},
    ] or summary == [  # PostgreSQL sorts NULL last
        {"department": "Physics", "protocol": "imap", "method": "oauth", "accounts": 1},
        {"department": "Physics", "protocol": "pop", "method": "password", "accounts": 1},
        {"department": None, "protocol": "imap", "method": "password", "accounts": 1}]
    total, rows = usage_report.still_using_legacy(world, SYSTEM)
    assert total == 2
    assert [(r["account"], r["protocol"]) for r in rows] == [("bob@example.org", "imap"),
                                                            ("amy@example.org", "pop")]
    with pytest.raises(NotAllowed):
        usage_report.recent_summary(world, _actor(world, "phys@example.org"))


def test_audit_entries_filter_by_actor_and_action_family(world: Service) -> None:
    grants = reading.entries(world, SYSTEM, action="role.")
    assert [e["account"] for e in grants] == ["help@example.org", "phys@example.org"]
    assert reading.entries(world, SYSTEM, action="role") == []
    assert len(reading.entries(world, SYSTEM, by="system", action="account.create")) == 7
    assert reading.entries(world, SYSTEM, by="help@example.org") == []
    newest = reading.entries(world, SYSTEM, limit=2)
    older = reading.entries(world, SYSTEM, limit=2, before=int(str(newest[0]["id"])))
    assert [e["id"] for e in older] == [int(str(newest[0]["id"])) - 2,
                                        int(str(newest[0]["id"])) - 1]


def test_stacked_bars_scale_to_a_round_step() -> None:
    chart = stacked_bars(["IMAP", "POP"], ["A", "B"],
                         {("IMAP", "A"): 30, ("IMAP", "B"): 10, ("POP", "B"): 7})
    imap, pop = chart.bars
    assert (imap.total, pop.total) == (40, 7)
    assert [t[1] for t in chart.ticks] == [0, 10, 20, 30, 40]
    assert imap.segments[0].width == pytest.approx(3 * imap.segments[1].width)
    assert imap.segments[1].x == pytest.approx(imap.segments[0].x + imap.segments[0].width)
    assert [s.title for s in pop.segments] == ["POP, B: 7"]
    assert stacked_bars([], ["A"], {}).bars == []


def test_case_notes_are_added_by_staff_to_waiting_cases_and_audited(world: Service) -> None:
    helpdesk = _actor(world, "help@example.org")
    case_id = cases.open_case(world, helpdesk, "bob@example.org", "pop", True, "old phone")
    cases.add_note(world, helpdesk, case_id, "called back: it is a Nokia")
    found = cases.notes_of(world, helpdesk, [case_id])[case_id]
    assert [(n.author, n.note) for n in found] == [("help@example.org",
                                                    "called back: it is a Nokia")]
    assert reading.entries(world, SYSTEM, action="case.note")[0]["note"] == \
        "called back: it is a Nokia"
    with pytest.raises(NotAllowed):
        cases.add_note(world, _actor(world, "bob@example.org"), case_id, "let me in")
    with pytest.raises(DirectoryError, match="control character"):
        cases.add_note(world, helpdesk, case_id, "bad\x1b[31m")
    cases.deny(world, helpdesk, case_id)
    with pytest.raises(DirectoryError, match="already denied"):
        cases.add_note(world, helpdesk, case_id, "too late")
    assert len(cases.notes_of(world, helpdesk, [case_id])[case_id]) == 1
