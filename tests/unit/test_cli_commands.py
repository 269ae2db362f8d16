"""Every operator command of SPEC §10 (but serve, token issue, app-password) and its output.

The real entry point `mailgate.cli.main.main` runs in-process (fast), on every backend; the
subprocess story lives in tests/integration/test_cli_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from mailgate.service import Service
from support import BACKENDS, Result, _postgres_database, run_inprocess

D = "example.test"
ANN, BOB, HD = f"ann@{D}", f"bob@{D}", f"hd@{D}"


class Mailgate:
    """`mailgate --data DIR [--as A] ...` through the CLI's own main(), in this process."""

    def __init__(self, data: Path) -> None:
        self.data = data

    def __call__(self, *args: str, stdin: str | None = None,
                 acting_as: str | None = None) -> Result:
        return run_inprocess(self.data, *args, stdin=stdin, acting_as=acting_as)

    def ok(self, *args: str, **kw: Any) -> str:
        r = self(*args, **kw)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kw))


@pytest.fixture(params=BACKENDS)
def mg(request: pytest.FixtureRequest, tmp_path: Path,
       monkeypatch: pytest.MonkeyPatch) -> Mailgate:
    """An initialised directory with ann and bob (Physics, POP denied) and hd (helpdesk)."""
    if request.param == "postgresql":
        monkeypatch.setenv("MAILGATE_STORAGE_DATABASE_URL", _postgres_database())
    run = Mailgate(tmp_path / "data")
    assert "initialised" in run.ok("init")
    run.ok("department", "create", "Physics")
    run.ok("department", "policy", "Physics", "pop", "deny")
    run.ok("account", "create", ANN, "--password-stdin", "--name", "Ann", stdin="ann-pass-1\n")
    run.ok("account", "create", BOB, "--department", "Physics")
    run.ok("account", "create", HD)
    run.ok("role", "grant", HD, "helpdesk")
    return run


def doors(mg: Mailgate, address: str) -> dict[str, tuple[bool, str]]:
    shown = mg.json("account", "show", address)
    return {p: (d["enabled"], d["reason"]) for p, d in shown["protocols"].items()}


def test_exchange_style_protocol_aliases_are_accepted(mg: Mailgate):
    mg.ok("protocol", "set", ANN, "pop3", "on")
    mg.ok("protocol", "set", ANN, "owa", "off")
    mg.ok("protocol", "set", ANN, "ews", "off")
    mg.ok("protocol", "set", ANN, "smtp-auth", "off")
    assert doors(mg, ANN) == {
        "imap": (True, "plan_default"), "pop": (True, "account_setting"),
        "smtp": (False, "account_setting"), "web": (False, "account_setting"),
        "api": (False, "account_setting"), "dav": (True, "plan_default")}
    mg.ok("protocol", "set", ANN, "SMTPAUTH", "on")
    assert doors(mg, ANN)["smtp"] == (True, "account_setting")
    mg.ok("department", "policy", "Physics", "OWA", "deny")
    assert doors(mg, BOB)["web"] == (False, "department_policy")
    case = mg.ok("case", "open", ANN, "ews", "on", "--note", "script")
    assert "opened case #1" in case
    assert mg.json("case", "list")[0]["protocol"] == "api"


def test_account_show_json_has_the_contract_shape(mg: Mailgate):
    shown = mg.json("account", "show", BOB)
    assert {"address", "state", "department", "plan", "protocols"} <= set(shown)
    assert (shown["address"], shown["state"], shown["department"], shown["plan"]) == (
        BOB, "active", "Physics", "standard")
    assert list(shown["protocols"]) == ["imap", "pop", "smtp", "web", "api", "dav"]
    for name, d in shown["protocols"].items():
        assert {"enabled", "reason", "detail", "locked"} <= set(d), name
        assert isinstance(d["enabled"], bool) and isinstance(d["locked"], bool)
        assert isinstance(d["detail"], str) and d["detail"].endswith(".")
    assert shown["protocols"]["pop"] == {**shown["protocols"]["pop"], "enabled": False,
                                         "reason": "department_policy", "locked": True}
    text = mg.ok("account", "show", BOB)
    assert "department (locked)" in text and "pop " in text
    assert "dav (not served yet)" in text and "web (not" not in text


def test_case_list_and_audit_json_have_the_contract_shape(mg: Mailgate):
    mg.ok("case", "open", ANN, "pop", "on", "--note", "old phone", acting_as=ANN)
    mg.ok("case", "open", BOB, "imap", "off", "--note", "leaving", acting_as=HD)
    listed = mg.json("case", "list")
    assert [{k: c[k] for k in ("id", "account", "protocol", "want", "status")}
            for c in listed] == [
        {"id": 1, "account": ANN, "protocol": "pop", "want": "on", "status": "open"},
        {"id": 2, "account": BOB, "protocol": "imap", "want": "off", "status": "open"}]
    assert [c["id"] for c in mg.json("case", "list", acting_as=ANN)] == [1]
    log = mg.json("audit")
    assert isinstance(log, list) and log
    for entry in log:
        assert {"at", "actor", "action", "account"} <= set(entry)
        assert isinstance(entry["at"], str) and entry["at"].endswith("Z")
    assert (log[-1]["actor"], log[-1]["role"], log[-1]["action"], log[-1]["account"]) == (
        HD, "helpdesk", "case.open", BOB)
    assert {e["account"] for e in mg.json("audit", "--account", ANN)} == {ANN}
    lines = mg.ok("audit", "--limit", "1").strip().splitlines()
    assert len(lines) == 1 and "case.open" in lines[0]


def test_case_escalate_approve_for_a_time_and_deny(mg: Mailgate):
    mg.ok("case", "open", ANN, "pop", "on", "--note", "old phone", acting_as=ANN)
    mg.ok("case", "open", ANN, "imap", "off", "--note", "never used", acting_as=ANN)
    assert "escalated to the mail team" in mg.ok("case", "escalate", "1", acting_as=HD)
    assert mg.ok("case", "approve", "1", "--for", "12h").strip() == \
        "case #1 approved and applied for 12h"
    assert mg.ok("case", "deny", "2", acting_as=HD).strip() == "case #2 denied"
    assert [c["status"] for c in mg.json("case", "list")] == ["approved", "denied"]
    assert doors(mg, ANN)["pop"] == (True, "temporary_grant")
    assert doors(mg, ANN)["imap"] == (True, "plan_default")


def test_staff_note_a_waiting_case_and_the_note_is_audited(mg: Mailgate):
    mg.ok("case", "open", ANN, "pop", "on", "--note", "old phone", acting_as=ANN)
    assert mg.ok("case", "note", "1", "--note", "called back: a Nokia",
                 acting_as=HD).strip() == "note added to case #1"
    refused = mg("case", "note", "1", "--note", "let me in", acting_as=ANN)
    assert refused.returncode == 1 and refused.stderr.startswith("mailgate: ")
    assert mg("case", "note", "1", "--note", " ", acting_as=HD).returncode == 1
    noted = [e for e in mg.json("audit", "--account", ANN) if e["action"] == "case.note"]
    assert [(e["actor"], e["note"]) for e in noted] == [(HD, "called back: a Nokia")]
    mg.ok("case", "deny", "1", acting_as=HD)
    late = mg("case", "note", "1", "--note", "too late", acting_as=HD)
    assert late.returncode == 1 and "already denied" in late.stderr


def test_as_a_staff_account_applies_its_role_and_is_audited_as_it(mg: Mailgate):
    mg.ok("protocol", "set", ANN, "imap", "off", "--reason", "ticket 42", acting_as=HD)
    mg.ok("protocol", "set", ANN, "imap", "on", "--for", "90s", acting_as=HD)
    *_, entry, alert = mg.json("audit", "--account", ANN)
    assert (entry["actor"], entry["role"], entry["action"]) == (HD, "helpdesk", "protocol.set")
    assert entry["expires_in"] == 90
    # re-opening IMAP outside an approved case raises an alert (SPEC §9)
    assert (alert["actor"], alert["action"], alert["protocol"]) == (
        HD, "alert.door_reopened", "imap")
    assert doors(mg, ANN)["imap"] == (True, "temporary_grant")
    refused = mg("protocol", "set", ANN, "pop", "on", acting_as=HD)
    assert refused.returncode == 1 and "only the mail team can enable POP" in refused.stderr
    # a user sees their own doors, and only their own
    assert mg.json("account", "show", ANN, acting_as=ANN)["address"] == ANN
    assert mg("account", "show", BOB, acting_as=ANN).returncode == 1


def test_lifecycle_commands(mg: Mailgate):
    assert mg.ok("account", "password", ANN, "--password-stdin",
                 stdin="ann-pass-2\n").strip() == \
        f"password changed for {ANN}; ended 0 live sessions"
    assert "compromised" in mg.ok("account", "compromise", ANN, "--reason", "phished")
    assert mg.json("account", "show", ANN)["state"] == "compromised"
    assert "restored" in mg.ok("account", "restore", ANN, "--password-stdin", "--note",
                               "ID checked", stdin="ann-pass-3\n")
    assert mg.ok("account", "deactivate", ANN).strip() == f"{ANN} is deactivating"
    assert mg.ok("account", "activate", ANN).strip() == f"{ANN} is active"
    assert mg.ok("account", "deactivate", ANN, "--now").strip() == f"{ANN} is deactivated"
    mg.ok("account", "create", f"new@{D}", "--pending")
    assert mg.json("account", "show", f"new@{D}")["state"] == "pending"
    mg.ok("account", "activate", f"new@{D}")
    states = {a["address"]: a["state"] for a in mg.json("account", "list")}
    assert states == {ANN: "deactivated", BOB: "active", HD: "active", f"new@{D}": "active"}
    text = mg.ok("account", "list")
    assert ANN in text and "deactivated" in text


def test_reasons_and_notes_of_up_to_1000_characters_are_kept(mg: Mailgate):
    most = "ä" * 1000
    mg.ok("protocol", "set", ANN, "imap", "off", "--reason", most)
    mg.ok("case", "open", ANN, "imap", "on", "--note", most)
    mg.ok("account", "compromise", ANN, "--reason", most)
    mg.ok("account", "restore", ANN, "--password-stdin", "--note", most, stdin="ann-pass-9\n")
    kept = [(e["action"], e.get("reason") or e.get("note")) for e in mg.json("audit")[-4:]]
    assert kept == [("protocol.set", most), ("case.open", most), ("account.compromise", most),
                    ("account.restore", most)]


def test_plan_set_reports_refuses_and_applies(mg: Mailgate):
    dry = mg.json("plan", "set", "standard", "pop", "on", "--dry-run")
    assert {k: dry[k] for k in ("plan", "protocol", "old", "new", "affected",
                                "used_last_90_days", "applied")} == {
        "plan": "standard", "protocol": "pop", "old": False, "new": True, "affected": 3,
        "used_last_90_days": 0, "applied": False}
    text = mg.ok("plan", "set", "standard", "pop", "on", "--dry-run")
    assert "dry run: nothing changed" in text and "3 existing account(s)" in text
    refused = mg("plan", "set", "standard", "pop", "on")
    assert refused.returncode == 1 and "--existing" in refused.stderr
    assert "applied (existing accounts: keep)" in mg.ok("plan", "set", "standard", "pop", "on",
                                                        "--existing", "keep")
    assert doors(mg, ANN)["pop"] == (False, "account_setting")
    mg.ok("account", "create", f"new@{D}")
    assert doors(mg, f"new@{D}")["pop"] == (True, "plan_default")
    assert mg.json("plan", "set", "standard", "pop", "off", "--existing", "follow")[
        "affected"] == 1


BOB_POP_DENIED = ("mailgate: POP is denied by the policy of department Physics, which no "
                  "account setting overrides; a dept-admin of Physics or the mail team can lift "
                  "it: mailgate department policy Physics pop inherit\n")


def test_not_even_an_admin_turns_on_a_door_the_department_denies(mg: Mailgate):
    before = len(mg.json("audit"))
    for args in (("protocol", "set", BOB, "pop3", "on", "--reason", "VIP"),
                 ("protocol", "set", BOB, "pop", "on", "--for", "7d"),
                 ("case", "open", BOB, "pop", "on", "--note", "old phone")):
        refused = mg(*args)
        assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", BOB_POP_DENIED)
    log = mg.json("audit")
    assert [(e["actor"], e["action"], e["account"], e["department"], e["protocol"], e["want"])
            for e in log[before:]] == [
        ("system", "protocol.set.refused", BOB, "Physics", "pop", "on"),
        ("system", "protocol.set.refused", BOB, "Physics", "pop", "on"),
        ("system", "case.open.refused", BOB, "Physics", "pop", "on")]
    assert (log[before]["reason"], log[before + 1]["expires_in"]) == ("VIP", 604800)
    assert mg.json("case", "list") == []
    # nothing was stored: lifting the denial shows the plan default, not an "on"
    mg.ok("department", "policy", "Physics", "pop", "inherit")
    assert doors(mg, BOB)["pop"] == (False, "plan_default")


def test_a_door_the_department_denies_can_be_turned_off_and_it_says_so(mg: Mailgate):
    said = mg("protocol", "set", BOB, "pop", "off", "--reason", "ticket 7")
    assert (said.returncode, said.stderr) == (0, "")
    assert said.stdout == (f"pop off for {BOB} (its department denies it too; this setting "
                           "keeps it off if that is lifted)\n")
    assert mg.json("audit")[-1]["action"] == "protocol.set"
    mg.ok("department", "policy", "Physics", "pop", "inherit")
    assert doors(mg, BOB)["pop"] == (False, "account_setting")


def test_role_grant_department_admin_and_its_limits(mg: Mailgate):
    assert mg.ok("role", "grant", ANN, "dept-admin", "--department", "Physics").strip() == \
        f"{ANN} is now dept-admin of Physics"
    assert "roles: dept-admin:Physics" in mg.ok("account", "show", ANN)
    mg.ok("department", "policy", "Physics", "pop", "inherit", acting_as=ANN)
    assert doors(mg, BOB)["pop"] == (False, "plan_default")
    mg.ok("department", "create", "Law")
    refused = mg("department", "policy", "Law", "pop", "deny", acting_as=ANN)
    assert refused.returncode == 1 and "dept-admin of Law" in refused.stderr


def test_mail_and_evidence_commands_answer_on_an_empty_directory(mg: Mailgate):
    assert mg.json("recover", "list", ANN) == []
    assert mg.ok("recover", "list", ANN).strip() == "nothing to recover"
    assert mg.json("report", "usage") == []
    assert mg.ok("report", "usage").strip() == "no sign-ins recorded yet"
    assert mg.json("sessions") == []
    assert "hash chain verified" in mg.ok("audit", "verify")
    delivered = mg.ok("deliver", ANN, stdin="From: x@example.test\nSubject: s\n\nbody\n")
    assert delivered.strip() == f"delivered to {ANN} INBOX uid 1"


def test_audit_verify_exits_non_zero_and_names_the_tampered_row(mg: Mailgate):
    assert "hash chain verified" in mg.ok("audit", "verify")
    svc = Service.open(mg.data)
    try:
        with svc.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"))
    finally:
        svc.dispose()
    bad = mg("audit", "verify")
    assert bad.returncode == 1 and bad.stdout == ""
    lines = bad.stderr.strip().splitlines()
    assert lines[0] == "row 3: content was changed after it was written"
    assert lines[-1] == ("mailgate: audit log verification failed: 1 problem(s), "
                         "first at row 3")


def test_only_staff_read_the_audit_log_usage_report_and_account_list(mg: Mailgate):
    mg.ok("account", "create", f"adm@{D}")
    mg.ok("role", "grant", f"adm@{D}", "admin")
    mg.ok("account", "create", f"dad@{D}")
    mg.ok("role", "grant", f"dad@{D}", "dept-admin", "--department", "Physics")
    may = {ANN: False, f"dad@{D}": False, HD: True, f"adm@{D}": True}
    for actor, allowed in may.items():
        for command in (("audit", "--json"), ("report", "usage", "--json"),
                        ("account", "list", "--json")):
            r = mg(*command, acting_as=actor)
            assert (r.returncode == 0) == allowed, (actor, command, r.stderr)
            if not allowed:
                assert r.stderr.startswith("mailgate: only the help desk or the mail team")
