"""The CLI refuses clearly (SPEC §10): non-zero exit, one `mailgate:` line on stderr, no traceback.

Every case runs the real entry point (`mailgate.cli.main.main`) in-process against one
`init --demo` directory, so the whole table costs well under a second; a few representative
cases also run as real subprocesses to prove the same holds for an operator's shell.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailgate.db.schema import messages
from mailgate.service import Service
from support import Result, run_cli, run_inprocess

D = "example.test"
MESSAGE = "From: x@example.test\nSubject: hi\n\nhello\n"
LONG = "{option} is 1001 characters long; at most 1000 are kept: shorten it"


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    says: str
    stdin: str | None = None
    acting_as: str | None = None
    code: int = 1


CASES = [
    Case("unknown_protocol_suggests_the_right_one", ("protocol", "set", f"alice@{D}", "pop4",
                                                     "on"), "did you mean 'pop'?"),
    Case("unknown_protocol_in_a_case_suggests", ("case", "open", f"alice@{D}", "imap5", "on",
                                                 "--note", "x"), "did you mean 'imap'?"),
    Case("unknown_protocol_in_department_policy", ("department", "policy", "Physics", "owa2",
                                                   "deny"), "unknown protocol 'owa2'"),
    Case("malformed_address", ("account", "show", "not-an-address"),
         "invalid address 'not-an-address'"),
    Case("malformed_address_on_create", ("account", "create", "a b@example.test"),
         "invalid address"),
    Case("unknown_account", ("account", "show", f"nobody@{D}"), f"no account nobody@{D}"),
    Case("unknown_account_for_a_door", ("protocol", "set", f"nobody@{D}", "imap", "off"),
         f"no account nobody@{D}"),
    Case("existing_account", ("account", "create", f"alice@{D}"), "already exists"),
    Case("restore_of_an_active_account", ("account", "restore", f"alice@{D}",
                                          "--password-stdin", "--note", "x"),
         "only a compromised account can be restored", stdin="a-new-password\n"),
    Case("activate_of_an_active_account", ("account", "activate", f"alice@{D}"),
         "only a pending or deactivating account can be activated"),
    Case("bad_duration_unit", ("protocol", "set", f"alice@{D}", "pop", "on", "--for", "5x"),
         "invalid duration '5x'"),
    Case("zero_duration", ("case", "approve", "1", "--for", "0m"), "invalid duration '0m'"),
    Case("empty_duration_is_not_permanent", ("protocol", "set", f"alice@{D}", "pop", "on",
                                             "--for", ""), "invalid duration ''"),
    Case("empty_duration_for_a_case", ("case", "approve", "1", "--for", ""),
         "invalid duration ''"),
    Case("overflowing_duration", ("protocol", "set", f"alice@{D}", "pop", "on", "--for",
                                  "99999999999999999999d"), "is too long: at most 3650d"),
    Case("overflowing_duration_for_a_case", ("case", "approve", "1", "--for",
                                             "99999999999999999999d"), "at most 3650d"),
    Case("non_ascii_digits_in_a_duration", ("protocol", "set", f"alice@{D}", "imap", "off",
                                            "--for", "\u0663d"), "invalid duration '\u0663d'"),
    Case("signed_duration", ("protocol", "set", f"alice@{D}", "imap", "off", "--for", "+5m"),
         "invalid duration '+5m'"),
    Case("overlong_compromise_reason", ("account", "compromise", f"alice@{D}", "--reason",
                                        "x" * 1001), LONG.format(option="--reason")),
    Case("overlong_restore_note", ("account", "restore", f"alice@{D}", "--password-stdin",
                                   "--note", "x" * 1001), LONG.format(option="--note"),
         stdin="a-new-password\n"),
    Case("overlong_protocol_reason", ("protocol", "set", f"alice@{D}", "imap", "off",
                                      "--reason", "é" * 1001), LONG.format(option="--reason")),
    Case("overlong_case_note", ("case", "open", f"alice@{D}", "pop", "on", "--note",
                                "x" * 1001), LONG.format(option="--note")),
    Case("missing_password_on_stdin", ("account", "password", f"alice@{D}",
                                       "--password-stdin"), "no password on standard input",
         stdin=""),
    Case("missing_password_on_stdin_for_restore", ("account", "restore", f"alice@{D}",
                                                   "--password-stdin", "--note", "x"),
         "no password on standard input", stdin=""),
    Case("weak_password", ("account", "password", f"alice@{D}", "--password-stdin"),
         "at least 8 characters", stdin="short\n"),
    Case("helpdesk_enabling_pop_is_told_to_escalate", ("protocol", "set", f"alice@{D}",
                                                       "pop3", "on"),
         f"only the mail team can enable POP; escalate a case: mailgate case open alice@{D} "
         "pop on --note TEXT", acting_as=f"helpdesk@{D}"),
    Case("user_cannot_list_accounts", ("account", "list"),
         "only the help desk or the mail team can list accounts", acting_as=f"alice@{D}"),
    Case("user_cannot_read_the_audit_log", ("audit", "--json"),
         "only the help desk or the mail team can read the audit log",
         acting_as=f"alice@{D}"),
    Case("user_cannot_view_another_account", ("account", "show", f"bob@{D}"),
         "only the account's owner, the help desk or the mail team", acting_as=f"alice@{D}"),
    Case("user_cannot_open_a_case_for_another", ("case", "open", f"bob@{D}", "pop", "on",
                                                 "--note", "x"),
         "the help desk or the mail team can open a case", acting_as=f"alice@{D}"),
    Case("helpdesk_cannot_change_plans", ("plan", "set", "standard", "pop", "on",
                                          "--dry-run"),
         "only the mail team (admin) can change plan defaults", acting_as=f"helpdesk@{D}"),
    Case("acting_as_an_unknown_account", ("account", "list"), f"no account ghost@{D}",
         acting_as=f"ghost@{D}"),
    Case("plan_change_without_existing_choice", ("plan", "set", "standard", "pop", "on"),
         "4 existing account(s) take pop from the plan default"),
    Case("unknown_department", ("department", "policy", "Nope", "pop", "deny"),
         "no department 'Nope'"),
    Case("unknown_case", ("case", "approve", "999"), "no case #999"),
    Case("demo_on_an_initialised_directory", ("init", "--demo"), "already initialised"),
    Case("delivery_to_an_unknown_account", ("deliver", f"nobody@{D}"), "5.1.1",
         stdin=MESSAGE),
    Case("recover_without_a_choice", ("recover", "restore", f"alice@{D}"),
         "--all, or --id ID"),
    Case("bad_on_off_value_is_a_usage_error", ("protocol", "set", f"alice@{D}", "pop",
                                               "maybe"), "'maybe' is not one of", code=2),
    Case("missing_reason_is_a_usage_error", ("account", "compromise", f"alice@{D}"),
         "Missing option '--reason'", code=2),
    Case("non_numeric_case_is_a_usage_error", ("case", "escalate", "abc"),
         "'abc' is not a valid integer", code=2),
]




@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cli") / "data"
    made = run_cli(data, "init", "--demo")
    assert made.returncode == 0, made.stderr
    return data


def check_refusal(proc: Result | subprocess.CompletedProcess[str], case: Case) -> None:
    assert proc.returncode == case.code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert case.says in proc.stderr, proc.stderr
    if case.code == 1:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("mailgate: ")
        assert proc.stdout == ""
    else:  # Click's own usage error
        assert "Usage:" in proc.stderr and "Error:" in proc.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_refusal_exits_non_zero_with_one_clear_line(demo: Path, case: Case):
    proc = run_inprocess(demo, *case.args, stdin=case.stdin, acting_as=case.acting_as)
    check_refusal(proc, case)


def test_uninitialised_directory_says_to_run_init(tmp_path: Path):
    proc = run_inprocess(tmp_path / "missing", "account", "list")
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("mailgate: no mailgate data in ") and "init' first" in line
    assert not (tmp_path / "missing").exists()


def test_init_with_a_bad_domain_says_so_and_creates_nothing(tmp_path: Path):
    proc = run_inprocess(tmp_path / "new", "init", "--domain", "not a domain")
    assert proc.returncode == 1
    assert proc.stderr == "mailgate: invalid domain 'not a domain': expected a name such as " \
        "example.org\n"
    assert not (tmp_path / "new").exists()


def test_refusals_as_real_processes_print_one_line_and_no_traceback(demo: Path):
    chosen = {c.name: c for c in CASES if c.name in (
        "missing_password_on_stdin", "bad_on_off_value_is_a_usage_error")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_cli, demo, *c.args, stdin=c.stdin,
                                     acting_as=c.acting_as) for name, c in chosen.items()}
        for name, future in futures.items():
            check_refusal(future.result(), chosen[name])


def test_refusals_change_nothing(demo: Path):
    before = run_inprocess(demo, "audit", "--json")
    for case in CASES:
        run_inprocess(demo, *case.args, stdin=case.stdin, acting_as=case.acting_as)
    after = run_inprocess(demo, "audit", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    actions = [e["action"] for e in json.loads(after.stdout)]
    assert "account.password" not in actions
    assert actions.count("case.open") == 1  # carol's POP request in the demo
    assert actions.count("account.create") == 5


@pytest.mark.parametrize("key,value,says", [
    ("RETENTION", "99999999999999999999d", "policy.retention: duration "
     "'99999999999999999999d' is too long: at most 3650d"),
    ("DEACTIVATION_GRACE", "30 days", "policy.deactivation_grace: invalid duration '30 days'"),
])
def test_a_bad_duration_in_the_configuration_names_the_key(demo: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           key: str, value: str, says: str):
    monkeypatch.setenv(f"MAILGATE_POLICY_{key}", value)
    check_refusal(run_inprocess(demo, "account", "list"), Case("config", (), says))


def _stored_messages(data: Path) -> int:
    svc = Service.open(data)
    try:
        with svc.reader.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(messages)).scalar())
    finally:
        svc.dispose()


def test_import_refuses_what_is_neither_a_maildir_nor_an_mbox(demo: Path, tmp_path: Path):
    expected = ("expected a Maildir (a folder with cur/, new/ and tmp/) or an mbox file (whose "
                "first line starts with 'From ')")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text(MESSAGE)
    candidates = {"message.eml": MESSAGE.encode(), "empty": b"", "photo.jpg": b"\xff\xd8\xff",
                  "from-header-only": b"From: x@example.test\n\nhi\n"}
    for name, content in candidates.items():
        (tmp_path / name).write_bytes(content)
    before = _stored_messages(demo)
    for name in ["notes", *candidates]:
        path = tmp_path / name
        refused = run_inprocess(demo, "import", f"alice@{D}", str(path), "--quiet")
        says = f"{path} is a folder without cur/ or new/ inside: " if name == "notes" else \
            f"{path} does not start with a 'From ' line: "
        check_refusal(refused, Case(name, (), says + expected))
    assert _stored_messages(demo) == before
    (tmp_path / "bom.mbox").write_bytes(b"\xef\xbb\xbfFrom - \n" + MESSAGE.encode())
    done = run_inprocess(demo, "import", f"alice@{D}", str(tmp_path / "bom.mbox"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert _stored_messages(demo) == before + 1
