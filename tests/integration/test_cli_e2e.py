"""The operator CLI end to end (SPEC §10), as real `mailgate` processes on a real data directory.

Each CLI call costs a process start, so independent calls run two at a time and each test
walks a whole story rather than one command.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailgate.db.schema import blobs as blobs_table
from mailgate.db.schema import messages as messages_table
from mailgate.directory.views import account_row
from mailgate.service import Service
from mailgate.store import messages
from support import run_cli

D = "example.test"
SHOW_KEYS = {"address", "state", "department", "plan", "protocols"}
DOOR_KEYS = {"enabled", "reason", "detail", "locked"}
DOORS = {"imap", "pop", "smtp", "web", "api", "dav"}


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.args, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


def refused(proc: subprocess.CompletedProcess[str], says: str) -> None:
    assert proc.returncode == 1, (proc.args, proc.stdout, proc.stderr)
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("mailgate: ") and says in line, line


def together(data: Path, *calls: tuple[Any, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Run independent CLI calls two at a time; each call is (args..., {kwargs}) or (args...)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = []
        for call in calls:
            kwargs = call[-1] if isinstance(call[-1], dict) else {}
            args = call[:-1] if kwargs else call
            futures.append(pool.submit(run_cli, data, *args, **kwargs))
        return [f.result() for f in futures]


def show(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    shown = json.loads(ok(proc))
    assert set(shown) >= SHOW_KEYS
    assert set(shown["protocols"]) == DOORS
    for door in shown["protocols"].values():
        assert set(door) >= DOOR_KEYS
        assert isinstance(door["enabled"], bool) and isinstance(door["locked"], bool)
        assert "lock" not in door["detail"].lower()
    return shown


def door(shown: dict[str, Any], name: str) -> tuple[bool, str, bool]:
    d = shown["protocols"][name]
    return d["enabled"], d["reason"], d["locked"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("e2e") / "demo"
    out = ok(run_cli(data, "init", "--demo"))
    assert f"bob@{D}" in out and "[bob-demo-pass]" in out
    return data


def test_demo_shows_bob_denied_by_his_department_and_carol_with_pop_on(demo: Path):
    bob, carol, alice, text = together(
        demo, ("account", "show", f"bob@{D}", "--json"),
        ("account", "show", f"carol@{D}", "--json"),
        ("account", "show", f"alice@{D}", "--json"), ("account", "show", f"bob@{D}"))
    bob, carol, alice = show(bob), show(carol), show(alice)
    assert (bob["address"], bob["state"], bob["department"], bob["plan"]) == (
        f"bob@{D}", "active", "Physics", "standard")
    assert door(bob, "pop") == (False, "department_policy", True)
    assert bob["protocols"]["pop"]["detail"] == (
        "POP is turned off for this account by the policy of department Physics. "
        "Contact the help desk.")
    assert door(bob, "imap") == (True, "plan_default", False)
    assert door(carol, "pop") == (True, "account_setting", False)
    assert door(alice, "pop") == (False, "plan_default", False)
    table = ok(text)
    assert "department_policy" in table and "Physics" in table
    assert "dav (not served yet)" in table and "web (not served yet)" not in table


def test_delivered_mail_deleted_by_a_client_can_be_recovered(demo: Path):
    message = "From: x@example.test\nTo: alice@example.test\nSubject: Quarterly report\n\nhi\n"
    assert "INBOX uid" in ok(run_cli(demo, "deliver", f"alice@{D}", stdin=message))
    svc = Service.open(demo)  # a POP client deletes it (DELE): it goes to Recoverable Items
    try:
        with svc.engine.begin() as conn:
            account_id = account_row(conn, f"alice@{D}").id
            ids = list(conn.execute(select(messages_table.c.id).join(
                blobs_table, blobs_table.c.digest == messages_table.c.digest).where(
                blobs_table.c.subject == "Quarterly report")).scalars())
            assert messages.to_recoverable(conn, account_id, ids, svc.clock()) == 1
    finally:
        svc.dispose()
    listed = json.loads(ok(run_cli(demo, "recover", "list", f"alice@{D}", "--json")))
    assert [(i["folder"], i["subject"]) for i in listed] == [("INBOX", "Quarterly report")]
    assert set(listed[0]) >= {"id", "folder", "subject", "deleted_at"}
    assert "restored 1 message(s)" in ok(run_cli(demo, "recover", "restore", f"alice@{D}",
                                                 "--all"))
    svc = Service.open(demo)
    try:
        assert messages.list_recoverable(svc, f"alice@{D}") == []
        with svc.engine.connect() as conn:
            assert ids[0] in [m.message_id for m in messages.maildrop(conn, account_id)]
    finally:
        svc.dispose()


def test_operator_story_from_init_to_audit_verify(tmp_path: Path):
    data = tmp_path / "data"
    ann, hd, phy = f"ann@{D}", f"hd@{D}", f"phy@{D}"
    assert "initialised" in ok(run_cli(data, "init", "--domain", D))
    for proc in together(data, ("department", "create", "Physics"),
                         ("account", "create", ann, "--password-stdin", "--name", "Ann",
                          {"stdin": "ann-password-1\n"})):
        ok(proc)
    for proc in together(data, ("department", "policy", "Physics", "pop3", "deny"),
                         ("account", "create", f"HD@{D}", "--password-stdin",
                          {"stdin": "hd-password-1\n"})):
        ok(proc)
    granted, created = together(data, ("role", "grant", hd, "helpdesk"),
                                ("account", "create", phy, "--department", "Physics"))
    assert ok(granted).strip() == f"{hd} is now helpdesk"
    assert ok(created).strip() == f"created {phy}"

    # the help desk may not open POP; the user asks for it; the mail team approves for 7 days
    opened, hd_pop = together(data, ("case", "open", ann, "pop3", "on", "--note", "old phone",
                                     {"acting_as": ann}),
                              ("protocol", "set", ann, "pop", "on", {"acting_as": hd}))
    assert "opened case #1" in ok(opened)
    refused(hd_pop, f"escalate a case: mailgate case open {ann} pop on")
    escalated, listed = together(data, ("case", "escalate", "1", {"acting_as": hd}),
                                 ("account", "list", "--json"))
    assert "escalated" in ok(escalated)
    assert [(a["address"], a["state"], a["department"]) for a in json.loads(ok(listed))] == [
        (ann, "active", None), (hd, "active", None), (phy, "active", "Physics")]
    hd_approve, dry = together(data, ("case", "approve", "1", {"acting_as": hd}),
                               ("plan", "set", "standard", "imap", "off", "--dry-run", "--json"))
    refused(hd_approve, "only the mail team can approve turning POP on")
    dry = json.loads(ok(dry))
    assert (dry["affected"], dry["used_last_90_days"], dry["applied"]) == (3, 0, False)
    approved, phy_pop = together(data, ("case", "approve", "1", "--for", "7d"),
                                 ("protocol", "set", phy, "pop", "on"))
    assert "for 7d" in ok(approved)
    # not even the mail team opens a door that phy's department denies (SPEC §3-4)
    refused(phy_pop, "department Physics, which no account setting overrides; a dept-admin of "
            "Physics or the mail team can lift it: mailgate department policy Physics pop "
            "inherit")

    cases, shown = together(data, ("case", "list", "--json"), ("account", "show", ann, "--json"))
    [case] = json.loads(ok(cases))
    assert {k: case[k] for k in ("id", "account", "protocol", "want", "status")} == {
        "id": 1, "account": ann, "protocol": "pop", "want": "on", "status": "approved"}
    assert door(show(shown), "pop") == (True, "temporary_grant", False)
    shown, kept = together(data, ("account", "show", phy, "--json"),
                           ("plan", "set", "standard", "imap", "off", "--existing", "keep"))
    assert door(show(shown), "pop") == (False, "department_policy", True)  # admin cannot
    assert "applied" in ok(kept)

    # compromise and restore: back to plan defaults (the grant and the kept IMAP are gone)
    ok(run_cli(data, "account", "compromise", ann, "--reason", "phished"))
    restored = run_cli(data, "account", "restore", ann, "--password-stdin", "--note",
                       "photo ID checked by Sam", stdin="ann-password-2\n")
    assert "doors back to plan defaults" in ok(restored)
    shown, deactivating = together(data, ("account", "show", ann, "--json"),
                                   ("account", "deactivate", phy))
    shown = show(shown)
    assert shown["state"] == "active"
    assert {p: (d["enabled"], d["reason"]) for p, d in shown["protocols"].items()} == {
        "imap": (False, "plan_default"), "pop": (False, "plan_default"),
        "smtp": (True, "plan_default"), "web": (True, "plan_default"),
        "api": (True, "plan_default"), "dav": (True, "plan_default")}
    assert ok(deactivating).strip() == f"{phy} is deactivating"
    activated, log = together(data, ("account", "activate", phy), ("audit", "--json"))
    assert ok(activated).strip() == f"{phy} is active"
    log = json.loads(ok(log))
    for entry in log:
        assert {"at", "actor", "action", "account"} <= set(entry)
    assert [e["action"] for e in log if e["account"] == ann] == [
        "account.create", "case.open", "case.escalate", "case.approve", "protocol.set",
        "account.compromise", "account.restore"]
    assert [(e["action"], e["department"], e["protocol"], e["want"]) for e in log
            if e["account"] == phy and e["action"].endswith(".refused")] == [
        ("protocol.set.refused", "Physics", "pop", "on")]
    assert {e["actor"] for e in log} == {"system", hd, ann}
    assert "hash chain verified" in ok(run_cli(data, "audit", "verify"))
