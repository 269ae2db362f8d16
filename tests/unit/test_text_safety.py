"""Text from outside can neither drive the operator's terminal nor forge a line (defect 3).

Stored names refuse control characters at input; every CLI printer shows them as visible
escapes and never reads them as Rich markup; JSON stays valid and round-trips them; the
server's JSON log lines are pure ASCII. The sign-in path end to end (a POP3 client's user
name to `mailgate audit`) is in tests/integration/test_audit_injection.py.
"""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from mailgate import logs, safetext
from mailgate.audit import log as audit
from mailgate.db import schema
from mailgate.service import Service
from mailgate.store import messages
from support import run_inprocess

D = "example.test"
ANN = f"ann@{D}"
#: ESC sequences (CSI clear screen, OSC 8 hyperlink), CR LF with a forged audit line, BEL,
#: DEL, a C1 control (NEL), a bidi override and Rich markup.
EVIL = ("E\x1b[2J\x1b]8;;http://x.test/\x07L\r\n    99 forged\x7f\x85\u202eR"
        "[red]M[/red][link=http://x.test]K[/link]")
SHOWN = ("E\\x1b[2J\\x1b]8;;http://x.test/\\x07L\\x0d\\x0a    99 forged\\x7f\\x85\\u202eR"
         "[red]M[/red][link=http://x.test]K[/link]")


def assert_inert(out: str) -> None:
    """Every line of `out` is plain text: no raw unsafe character, no forged line."""
    for line in out.split("\n"):
        assert safetext.first_unsafe(line) is None, repr(line)
        assert not line.lstrip().startswith("99 forged"), out


# -- the helper ---------------------------------------------------------------------------


@pytest.mark.parametrize("char,shown", [
    ("\x00", "\\x00"), ("\x1b", "\\x1b"), ("\r", "\\x0d"), ("\n", "\\x0a"), ("\t", "\\x09"),
    ("\x7f", "\\x7f"), ("\x85", "\\x85"), ("\x9b", "\\x9b"), ("\u061c", "\\u061c"),
    ("\u200f", "\\u200f"), ("\u202a", "\\u202a"), ("\u202e", "\\u202e"),
    ("\u2066", "\\u2066"), ("\u2069", "\\u2069"), ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029")])
def test_every_unsafe_character_is_shown_as_a_visible_escape(char: str, shown: str):
    assert safetext.first_unsafe(f"a{char}b") == char
    assert safetext.visible(f"a{char}b") == f"a{shown}b"


def test_plain_text_in_any_script_is_left_alone():
    for plain in ("Ann Smith", "Zoë Ørsted", "Müller-Lüdenscheidt", "王小明", "José 😀",
                  "O'Brien [IT]", "a\\x1b"):
        assert safetext.first_unsafe(plain) is None
        assert safetext.visible(plain) == plain


def test_json_text_is_valid_json_without_raw_unsafe_characters_and_round_trips():
    value = {"name": EVIL, "list": [EVIL, "Zoë"], "n": 1}
    for indent in (2, None):
        dumped = safetext.json_text(value, indent=indent)
        assert safetext.first_unsafe(dumped.replace("\n", "")) is None
        assert json.loads(dumped) == value
    assert "Zoë" in safetext.json_text(value)  # readable UTF-8 stays readable


# -- input: stored names refuse control characters --------------------------------------


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    assert run_inprocess(path, "init").returncode == 0
    assert run_inprocess(path, "account", "create", ANN, "--name", "Ann").returncode == 0
    return path


def audit_rows(data: Path) -> int:
    svc = Service.open(data)
    try:
        with svc.reader.connect() as conn:
            return len(conn.execute(select(schema.audit_log.c.id)).all())
    finally:
        svc.dispose()


@pytest.mark.parametrize("args,what,stdin", [
    (("account", "create", f"zed@{D}", "--name", "Z{bad}"), "name", None),
    (("department", "create", "Phys{bad}ics"), "department name", None),
    (("protocol", "set", ANN, "imap", "off", "--reason", "r{bad}"), "reason", None),
    (("account", "compromise", ANN, "--reason", "r{bad}"), "reason", None),
    (("case", "open", ANN, "pop", "on", "--note", "n{bad}"), "note", None),
    (("account", "create", "a{bad}b@example.test"), "address", None),
])
@pytest.mark.parametrize("bad", ["\x1b[2J", "\r\nforged", "\x85", "\u202e", "\x7f", "\t"])
def test_control_characters_in_stored_text_are_refused_in_one_line(
        data: Path, args: tuple[str, ...], what: str, stdin: str | None, bad: str):
    before = audit_rows(data)
    refused = run_inprocess(data, *(a.replace("{bad}", bad) for a in args), stdin=stdin)
    assert refused.returncode == 1, refused
    assert refused.stdout == ""
    line = refused.stderr.rstrip("\n")
    assert "\n" not in line and line.startswith("mailgate: "), refused.stderr
    assert safetext.first_unsafe(line) is None
    assert what in line and ("control character" in line or "invalid address" in line), line
    assert safetext.visible(bad[0]) in line
    assert audit_rows(data) == before


def test_restore_note_with_a_control_character_is_refused(data: Path):
    assert run_inprocess(data, "account", "compromise", ANN, "--reason", "phish").returncode == 0
    refused = run_inprocess(data, "account", "restore", ANN, "--password-stdin", "--note",
                            "checked\x1b[2J", stdin="new-password-1\n")
    assert refused.returncode == 1
    assert refused.stderr == ("mailgate: the note contains a control character (\\x1b): "
                              "use plain text\n")


# -- output: every printer shows stored text inert ----------------------------------------


@pytest.fixture
def tainted(data: Path) -> Path:
    """Text as an older version (or a direct database edit) may have left it."""
    assert run_inprocess(data, "department", "create", "Physics").returncode == 0
    assert run_inprocess(data, "account", "create", f"bob@{D}", "--department",
                         "Physics").returncode == 0
    assert run_inprocess(data, "case", "open", ANN, "pop", "on", "--note", "x").returncode == 0
    assert run_inprocess(data, "department", "policy", "Physics", "pop", "deny").returncode == 0
    svc = Service.open(data)
    try:
        with svc.engine.begin() as conn:
            conn.execute(update(schema.accounts).values(name=EVIL))
            conn.execute(update(schema.departments).values(name=EVIL))
            conn.execute(update(schema.cases).values(note=EVIL))
            account_id = conn.execute(select(schema.accounts.c.id)
                                      .where(schema.accounts.c.address == ANN)).scalar()
            conn.execute(insert(schema.nodes).values(  # a node that is alive
                name=EVIL[:64], started_at=1.0, last_seen=svc.clock()))
            conn.execute(insert(schema.live_sessions).values(
                id=EVIL[:40], node=EVIL[:64], account_id=account_id, protocol="pop",
                method=EVIL[:16], peer=EVIL[:64], started_at=1.0))
            conn.execute(insert(schema.usage).values(
                account_id=account_id, protocol="pop", method=EVIL[:16], successes=1,
                failures=0, last_success_at=1.0, last_attempt_at=1.0))
            audit.append(conn, at=1.0, actor=EVIL, role="user", action="signin",
                         account=None, details={"peer": EVIL, "reason": "bad_credentials"})
    finally:
        svc.dispose()
    return data


@pytest.mark.parametrize("command", [
    ("account", "list"), ("account", "show", ANN), ("account", "show", f"bob@{D}"),
    ("case", "list"), ("sessions",), ("report", "usage"), ("audit",)])
def test_every_printer_shows_stored_control_characters_and_markup_inert(
        tainted: Path, command: tuple[str, ...]):
    shown = run_inprocess(tainted, *command)
    assert shown.returncode == 0, shown
    assert_inert(shown.stdout)
    assert "\\x1b[2J" in shown.stdout, shown.stdout
    if command != ("report", "usage"):  # the method column holds only EVIL's start
        squashed = re.sub(r"\s*[│┃]\s*", "", shown.stdout)  # long table cells fold
        assert "[red]M[/red]" in squashed, shown.stdout


def test_audit_text_shows_the_user_name_escaped_on_its_one_line(tainted: Path):
    lines = run_inprocess(tainted, "audit").stdout.splitlines()
    signin = [line for line in lines if "signin" in line]
    assert len(signin) == 1 and SHOWN in signin[0], lines


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in strings(item)] if isinstance(value, list) else []


@pytest.mark.parametrize("command,stored", [
    (("account", "list"), EVIL), (("account", "show", ANN), EVIL), (("case", "list"), EVIL),
    (("sessions",), EVIL[:64]), (("report", "usage"), EVIL[:16]), (("audit",), EVIL)])
def test_json_output_is_valid_and_round_trips_the_original_text(
        tainted: Path, command: tuple[str, ...], stored: str):
    shown = run_inprocess(tainted, *command, "--json")
    assert shown.returncode == 0, shown
    assert safetext.first_unsafe(shown.stdout.replace("\n", "")) is None
    assert stored in strings(json.loads(shown.stdout))


def test_error_lines_show_echoed_input_escaped(data: Path):
    for args in (("department", "policy", "No\x1b[2J\x85pe", "pop", "deny"),
                 ("account", "show", "x\x1b]0;owned\x07@example.test")):
        refused = run_inprocess(data, *args)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1 and safetext.first_unsafe(
            refused.stderr.rstrip("\n")) is None, refused.stderr


def test_recover_list_shows_a_hostile_subject_inert(data: Path):
    message = ("From: x@example.test\nSubject: =?utf-8?q?S=1B[2J=1B]0;owned=07=E2=80=AEforged?=\n\n"
               "body\n")
    assert run_inprocess(data, "deliver", ANN, stdin=message).returncode == 0
    svc = Service.open(data)
    try:
        with svc.engine.begin() as conn:
            ids = list(conn.execute(select(schema.messages.c.id)).scalars())
            account_id = conn.execute(select(schema.accounts.c.id)
                                      .where(schema.accounts.c.address == ANN)).scalar()
            assert messages.to_recoverable(conn, account_id, ids, svc.clock()) == 1
    finally:
        svc.dispose()
    shown = run_inprocess(data, "recover", "list", ANN)
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 1, shown
    assert_inert(shown.stdout)


def test_no_cli_module_prints_except_through_the_one_output_helper():
    cli = Path(__file__).parents[2] / "src" / "mailgate" / "cli"
    printing = re.compile(r"click\.echo\(|\bConsole\(|\bTable\(|(?<![\w.])print\(|"
                          r"json\.dumps\(")
    offenders = [f"{path.name}:{n}" for path in sorted(cli.glob("*.py"))
                 if path.name != "output.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if printing.search(line)]
    assert offenders == []


# -- structured logs ----------------------------------------------------------------------


def test_json_log_lines_are_one_ascii_line_that_round_trips():
    logs.setup("info")
    stream = io.StringIO()
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]
    try:
        logging.getLogger("mailgate.test").info("closed for %s", EVIL,
                                                extra={"account": EVIL})
    finally:
        logging.getLogger().handlers.clear()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].isascii()
    entry = json.loads(lines[0])
    assert entry["event"] == f"closed for {EVIL}" and entry["account"] == EVIL
